// Run in multi-process mode: transfers with other processes' devices over NCCL, in one global
// order, and the gathering of timings and outputs by all-reduce (executor_run.hpp).
#include <algorithm>

#include "executor_run.hpp"

namespace doppler::hw {

// Every process orders all transfers by the producer's topological position (ties by transfer
// id) and posts those it takes part in, in that order, on its one NCCL stream. So each pair's
// sends and receives meet in the same order, and the first transfer not yet done can always
// complete (its producer depends only on earlier ones): no deadlock.
void Run::order_remote_transfers() {
  std::vector<std::size_t> position(exec_.num_ops);
  for (std::size_t i = 0; i < exec_.topo.size(); ++i) position[exec_.topo[i]] = i;
  remote_order_.clear();
  for (TransferId t = 0; t < scheduler_.num_transfers(); ++t) {
    const Transfer& tr = scheduler_.transfer(t);
    if (local(tr.src) != local(tr.dst)) remote_order_.push_back(t);
  }
  std::sort(remote_order_.begin(), remote_order_.end(), [&](TransferId a, TransferId b) {
    const std::size_t pa = position[scheduler_.transfer(a).tensor],
                      pb = position[scheduler_.transfer(b).tensor];
    return pa != pb ? pa < pb : a < b;
  });
  remote_next_ = 0;
  send_ready_.assign(scheduler_.num_transfers(), 0);
}

// Posts the next transfers of the order on local device d's NCCL stream: receives at once, sends
// once their producer is enqueued (the stream waits for its end event).
void Run::post_remote(DeviceId d) {
  const cudaStream_t stream = devices_[d].remote;
  for (; remote_next_ < remote_order_.size(); ++remote_next_) {
    const TransferId t = remote_order_[remote_next_];
    const Transfer& tr = scheduler_.transfer(t);
    const bool send = local(tr.src);
    if (send && !send_ready_[t]) return;
    const std::string& name = lowered_.graph.op(tr.tensor).name;
    const Where where{"transfer of", name, static_cast<int>(tr.src)};
    if (send && !finished_[tr.tensor])
      check(cudaStreamWaitEvent(stream, end_event_[tr.tensor], 0), where, "cudaStreamWaitEvent");
    check(cudaEventRecord(transfer_start_[t], stream), where, "cudaEventRecord");
    if (send) {
      nccl_->send(out_[tr.tensor], kernels_.output_bytes(tr.tensor), static_cast<int>(tr.dst), stream, name);
    } else {
      nccl_->recv(transfer_buffer_[t], kernels_.output_bytes(tr.tensor), static_cast<int>(tr.src), stream,
                  name);
      const std::lock_guard lock(mutex_);
      ++in_progress_;
    }
    check(cudaEventRecord(transfer_end_[t], stream), where, "cudaEventRecord");
    inflight_[d].push_back({true, t, transfer_end_[t], kAnyOrder});
  }
}

// Every process contributes the timings of its own tasks and sends (zeros elsewhere); one sum.
void Run::gather_timings(ExecuteResult& result) {
  const std::size_t ops = result.tasks.size(), transfers = result.transfers.size();
  std::vector<double> packed(3 * ops + 2 * transfers, 0.0);
  for (OpId u = 0; u < ops; ++u) {
    packed[3 * u] = result.tasks[u].start_ms;
    packed[3 * u + 1] = result.tasks[u].end_ms;
    packed[3 * u + 2] = local(scheduler_.device_of(u)) ? result.tasks[u].stream : 0;
  }
  for (TransferId t = 0; t < transfers; ++t) {
    packed[3 * ops + 2 * t] = result.transfers[t].start_ms;
    packed[3 * ops + 2 * t + 1] = result.transfers[t].end_ms;
  }
  all_reduce(packed);
  for (OpId u = 0; u < ops; ++u) {
    result.tasks[u].start_ms = packed[3 * u];
    result.tasks[u].end_ms = packed[3 * u + 1];
    result.tasks[u].stream = static_cast<int>(packed[3 * u + 2]);
  }
  for (TransferId t = 0; t < transfers; ++t) {
    result.transfers[t].start_ms = packed[3 * ops + 2 * t];
    result.transfers[t].end_ms = packed[3 * ops + 2 * t + 1];
  }
}

// Sums a host vector over all processes, through the local device.
template <typename T>
void Run::all_reduce(std::vector<T>& values) {
  DeviceId d = 0;
  while (!local(d)) ++d;
  const Where where{"gather", "", static_cast<int>(d)};
  devices_.use(d);
  T* buffer = reinterpret_cast<T*>(devices_.scratch(d, values.size() * sizeof(T)));
  const cudaStream_t stream = devices_[d].compute[0];
  check(cudaMemcpyAsync(buffer, values.data(), values.size() * sizeof(T), cudaMemcpyHostToDevice, stream),
        where, "cudaMemcpyAsync");
  nccl_->all_reduce_sum(buffer, values.size(), stream);
  check(cudaMemcpyAsync(values.data(), buffer, values.size() * sizeof(T), cudaMemcpyDeviceToHost, stream),
        where, "cudaMemcpyAsync");
  check(cudaStreamSynchronize(stream), where, "cudaStreamSynchronize");
}

template void Run::all_reduce<float>(std::vector<float>& values);
template void Run::all_reduce<double>(std::vector<double>& values);

}  // namespace doppler::hw
