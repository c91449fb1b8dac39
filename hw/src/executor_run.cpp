// Run: the host threads' launch loop of one plan (executor_run.hpp).
#include <algorithm>
#include <exception>
#include <limits>
#include <thread>

#include "executor_run.hpp"

namespace doppler::hw {

using einsum::TaskRole;

Run::Run(Executor::State& state, const Plan& plan)
    : state_(state),
      graph_(state.graph),
      lowered_(state.lowered),
      options_(state.options),
      exec_(state.exec),
      scheduler_(*state.scheduler),
      kernels_(state.kernels),
      devices_(*state.devices),
      nccl_(state.nccl.get()) {
  scheduler_.start(plan.device, plan.priority);
  scheduler_.build_transfers();
  allocate();
  if (state_.host_block.empty()) state_.stage_loads();
  resolve_inputs();
  preload();
  make_events();
  if (nccl_) order_remote_transfers();
}

ExecuteResult Run::run() {
  for (const OpId v : scheduler_.sources())
    if (local(scheduler_.device_of(v))) scheduler_.make_ready(v);
  std::exception_ptr error;
  std::mutex error_mutex;
  // The threads spin until the clock starts (a blocking wait would wake them tens of us late).
  std::atomic<std::size_t> waiting{0};
  std::atomic<bool> go{false};
  const bool gated = this->gated();
  primed_ = 0;
  host_epoch_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point host_start;
  std::vector<DeviceId> mine;
  for (DeviceId d = 0; d < devices_.size(); ++d)
    if (local(d)) mine.push_back(d);
  if (!state_.workers || state_.workers->size() != mine.size())
    state_.workers = std::make_unique<WorkerThreads>(mine.size());
  state_.workers->start([&](std::size_t i) {
    ++waiting;
    while (!go) std::this_thread::yield();
    try {
      device_loop(mine[i]);
    } catch (...) {
      const std::lock_guard lock(error_mutex);
      if (!error) error = std::current_exception();
      abort_ = true;
    }
  });
  while (waiting < mine.size()) std::this_thread::yield();
  try {
    start_clock();
  } catch (...) {
    const std::lock_guard lock(error_mutex);
    error = std::current_exception();
    abort_ = true;
  }
  host_start = std::chrono::steady_clock::now();
  go = true;
  if (gated) {
    // Every device thread's first launches are enqueued (or a thread failed): release the GPUs.
    // At most kGateWait later in any case: a launch call may block while the GPU is held (the
    // first launch of a lazily loaded kernel, a full launch queue) until the gate opens.
    const auto deadline = std::chrono::steady_clock::now() + kGateWait;
    while (primed_ < mine.size() && !abort_ && std::chrono::steady_clock::now() < deadline)
      std::this_thread::yield();
    clock_started_ = std::chrono::steady_clock::now();
    devices_.open_gate();
  }
  state_.workers->wait();
  if (error) {
    devices_.synchronize();
    std::rethrow_exception(error);
  }
  const double host_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - host_start).count();
  devices_.synchronize();
  ExecuteResult result = collect();
  result.host_ms = host_ms;
  return result;
}

// Device d's host thread: launch what the scheduler releases, poll what is in flight, until every
// op has finished and d's transfers have landed.
void Run::device_loop(DeviceId d) {
  devices_.use(d);
  std::vector<Inflight>& mine = inflight_[d];
  std::vector<int> waiting;  // queues whose oldest entry is unfinished, this pass
  if (nccl_) post_remote(d);
  bool primed = false;
  while (!abort_) {
    bool progress = launch_ops(d);
    if (!primed) {
      primed = true;
      ++primed_;
    }
    waiting.clear();
    std::size_t kept = 0;
    for (std::size_t i = 0; i < mine.size(); ++i) {
      const Inflight f = mine[i];
      const bool behind = std::find(waiting.begin(), waiting.end(), f.queue) != waiting.end();
      const cudaError_t status = behind ? cudaErrorNotReady : cudaEventQuery(f.end);
      if (status == cudaErrorNotReady) {
        if (!behind && f.queue != kAnyOrder) waiting.push_back(f.queue);
        mine[kept++] = f;
        continue;
      }
      check(status, where_of(f), "cudaEventQuery");
      progress = true;
      if (f.transfer) {
        transfer_done(f.id);
      } else {
        op_done(f.id);
      }
    }
    mine.resize(kept);
    if (done_ == local_ops_ && mine.empty()) return;
    if (!progress) {
      if (mine.empty()) check_stall();
      std::this_thread::yield();
    }
  }
}

// A stall: nothing in flight, nothing ready, ops left. (With other processes, their progress is
// not visible here: no check.)
void Run::check_stall() {
  if (nccl_) return;
  const std::lock_guard lock(mutex_);
  if (in_progress_ > 0 || done_ == local_ops_) return;
  for (DeviceId e = 0; e < devices_.size(); ++e)
    if (scheduler_.ready_count(e) > 0) return;
  throw Error("hw: the run stalled: no task or transfer in flight");
}

Where Run::where_of(const Inflight& f) const {
  if (f.transfer) {
    const Transfer& t = scheduler_.transfer(f.id);
    return Where{"transfer of", lowered_.graph.op(t.tensor).name, static_cast<int>(t.src)};
  }
  return Where{"task", lowered_.graph.op(f.id).name, static_cast<int>(scheduler_.device_of(f.id))};
}

// One arena per local device: task outputs, transfer copies arriving there, the compute streams'
// workspaces. Other processes' blocks have no buffer here.
void Run::allocate() {
  const std::size_t n = devices_.size();
  const std::size_t ops = exec_.num_ops;
  const auto streams = static_cast<std::size_t>(options_.streams);
  std::vector<std::size_t> used(n, 0), workspace(n, 0);
  std::vector<std::size_t> out_offset(ops), transfer_offset(scheduler_.num_transfers());
  for (OpId u = 0; u < ops; ++u) {
    const DeviceId d = scheduler_.device_of(u);
    out_offset[u] = used[d];
    used[d] += align_up(kernels_.output_bytes(u));
    workspace[d] = std::max(workspace[d], kernels_.workspace_bytes(u));
  }
  for (TransferId t = 0; t < scheduler_.num_transfers(); ++t) {
    const Transfer& tr = scheduler_.transfer(t);
    transfer_offset[t] = used[tr.dst];
    used[tr.dst] += align_up(kernels_.output_bytes(tr.tensor));
  }
  std::vector<std::size_t> workspace_offset(n);
  for (DeviceId d = 0; d < n; ++d) {
    workspace_offset[d] = used[d];
    used[d] += workspace[d] * streams;
  }
  out_.resize(ops);
  transfer_buffer_.resize(scheduler_.num_transfers());
  workspace_.assign(n, {});
  std::vector<std::byte*> base(n, nullptr);
  for (DeviceId d = 0; d < n; ++d) {
    if (!local(d)) continue;
    base[d] = devices_.arena(d, used[d]);
    for (std::size_t s = 0; s < streams; ++s)
      workspace_[d].push_back(base[d] + workspace_offset[d] + workspace[d] * s);
  }
  local_ops_ = 0;
  for (OpId u = 0; u < ops; ++u) {
    const DeviceId d = scheduler_.device_of(u);
    out_[u] = local(d) ? base[d] + out_offset[u] : nullptr;
    local_ops_ += local(d);
  }
  for (TransferId t = 0; t < scheduler_.num_transfers(); ++t) {
    const DeviceId d = scheduler_.transfer(t).dst;
    transfer_buffer_[t] = local(d) ? base[d] + transfer_offset[t] : nullptr;
  }
}

// Each task input's buffer: the producer's output on the same device, else its transfer's copy.
void Run::resolve_inputs() {
  input_begin_.assign(exec_.num_ops + 1, 0);
  for (OpId v = 0; v < exec_.num_ops; ++v) {
    const DeviceId d = scheduler_.device_of(v);
    input_begin_[v] = inputs_.size();
    if (!local(d)) {
      inputs_.insert(inputs_.end(), lowered_.tasks[v].inputs.size(), nullptr);
      input_transfer_.insert(input_transfer_.end(), lowered_.tasks[v].inputs.size(), kNoTransfer);
      continue;
    }
    for (const OpId u : lowered_.tasks[v].inputs) {
      const void* buffer = nullptr;
      TransferId via = kNoTransfer;
      if (scheduler_.device_of(u) == d) {
        buffer = out_[u];
      } else {
        for (const TransferId t : scheduler_.transfers_of(u)) {
          if (scheduler_.transfer(t).dst != d) continue;
          buffer = transfer_buffer_[t];
          via = t;
        }
      }
      input_transfer_.push_back(via);
      if (!buffer) {
        throw Error("hw: task '" + lowered_.graph.op(v).name + "' reads '" + lowered_.graph.op(u).name +
                    "', which is no predecessor in the task graph");
      }
      inputs_.push_back(buffer);
    }
  }
  input_begin_[exec_.num_ops] = inputs_.size();
}

// With preload_inputs, the load blocks are copied to their devices before the clock starts, unless
// the previous run left them in the same places (repetitions of a plan: no run writes into a load's
// block), which saves the copy's host time per run (hundreds of MB for the large workloads).
void Run::preload() {
  if (!options_.preload_inputs) return;
  std::vector<std::uint64_t> generation(devices_.size(), 0);
  for (DeviceId d = 0; d < devices_.size(); ++d) generation[d] = devices_[d].arena_generation;
  std::vector<const std::byte*> at(exec_.num_ops, nullptr);
  for (OpId u = 0; u < exec_.num_ops; ++u)
    if (state_.host_block[u] && local(scheduler_.device_of(u))) at[u] = out_[u];
  if (at == state_.preloaded_at && generation == state_.preloaded_generation) return;
  state_.preloaded_at.clear();
  for (OpId u = 0; u < exec_.num_ops; ++u) {
    if (!at[u]) continue;
    const DeviceId d = scheduler_.device_of(u);
    devices_.use(d);
    check(cudaMemcpyAsync(out_[u], state_.host_block[u], kernels_.output_bytes(u), cudaMemcpyHostToDevice,
                          devices_[d].host_to_device),
          Where{"task", lowered_.graph.op(u).name, static_cast<int>(d)}, "cudaMemcpyAsync (preload)");
  }
  devices_.synchronize();
  state_.preloaded_at = std::move(at);
  state_.preloaded_generation = std::move(generation);
}

void Run::make_events() {
  devices_.reset_events();
  start_event_.resize(exec_.num_ops);
  end_event_.resize(exec_.num_ops);
  for (OpId u = 0; u < exec_.num_ops; ++u) {
    const DeviceId d = scheduler_.device_of(u);
    start_event_[u] = local(d) ? devices_.make_event(d) : nullptr;
    end_event_[u] = local(d) ? devices_.make_event(d) : nullptr;
  }
  // A transfer's events are on its source (the sending side), or on its destination when only
  // the destination is local (a receive).
  transfer_start_.resize(scheduler_.num_transfers());
  transfer_end_.resize(scheduler_.num_transfers());
  for (TransferId t = 0; t < scheduler_.num_transfers(); ++t) {
    const Transfer& tr = scheduler_.transfer(t);
    const bool any = local(tr.src) || local(tr.dst);
    const DeviceId side = local(tr.src) ? tr.src : tr.dst;
    transfer_start_[t] = any ? devices_.make_event(side) : nullptr;
    transfer_end_[t] = any ? devices_.make_event(side) : nullptr;
  }
  base_.assign(devices_.size(), nullptr);
  for (DeviceId d = 0; d < devices_.size(); ++d)
    if (local(d)) base_[d] = devices_.make_event(d);
  queued_.assign(devices_.size(), std::vector<int>(static_cast<std::size_t>(options_.streams), 0));
  stream_of_.assign(exec_.num_ops, 0);
  finished_.assign(exec_.num_ops, 0);
  resident_.assign(exec_.num_ops, 0);
  if (options_.preload_inputs)
    for (OpId u = 0; u < exec_.num_ops; ++u) resident_[u] = lowered_.tasks[u].role == TaskRole::kLoad;
  inflight_.assign(devices_.size(), {});
  launched_ms_.assign(exec_.num_ops, std::numeric_limits<double>::quiet_NaN());
  transfer_launched_ms_.assign(scheduler_.num_transfers(), std::numeric_limits<double>::quiet_NaN());
  submitted_ms_.assign(exec_.num_ops, std::numeric_limits<double>::quiet_NaN());
  transfer_submitted_ms_.assign(scheduler_.num_transfers(), std::numeric_limits<double>::quiet_NaN());
}

// Base events: recorded at one host instant; across processes right after a barrier (an
// all-reduce), which every GPU leaves at nearly the same time. With gated_start they wait behind
// the closed gate: the clock starts when run() opens it.
void Run::start_clock() {
  if (options_.warm_up) devices_.warm_up();
  devices_.synchronize();
  if (gated()) devices_.close_gate();
  for (DeviceId d = 0; d < devices_.size(); ++d) {
    if (!local(d)) continue;
    const Where where{"set-up", "", static_cast<int>(d)};
    devices_.use(d);
    const cudaStream_t stream = devices_[d].compute[0];
    if (nccl_)
      nccl_->all_reduce_sum(reinterpret_cast<double*>(devices_.scratch(d, sizeof(double))), 1, stream);
    check(cudaEventRecord(base_[d], stream), where, "cudaEventRecord");
    // Behind a gate, nothing may start before the clock: the other streams wait for it too.
    if (gated())
      for (const cudaStream_t other : devices_.other_streams(d))
        check(cudaStreamWaitEvent(other, base_[d], 0), where, "cudaStreamWaitEvent (clock)");
    if (nccl_) check(cudaStreamSynchronize(stream), where, "cudaStreamSynchronize (barrier)");
  }
  clock_started_ = std::chrono::steady_clock::now();  // after the barrier, with other processes
}

// Enqueues every op the scheduler releases on device d, on its least loaded compute stream (a
// resident load records its end event there, or, without loads_in_stream_order, finishes at
// once); the op's same-device successors count its output as arrived
// at once (ordered by stream or event). Then its transfers queue behind it (after the kernels,
// so that their launch costs do not delay the kernels). Returns whether any op was released.
bool Run::launch_ops(DeviceId d) {
  bool any = false;
  for (;;) {
    OpId u = kNoOp;
    {
      const std::lock_guard lock(mutex_);
      u = scheduler_.next_op(d);
      if (u == kNoOp) break;
      ++in_progress_;
    }
    any = true;
    if (resident_[u] && !options_.loads_in_stream_order) {
      finished_[u] = 1;
    } else {
      std::vector<int>& queued = queued_[d];
      const int stream = static_cast<int>(std::min_element(queued.begin(), queued.end()) - queued.begin());
      ++queued[static_cast<std::size_t>(stream)];
      launch(u, d, stream);
      inflight_[d].push_back({false, u, end_event_[u], stream_of_[u]});
    }
    {
      const std::lock_guard lock(mutex_);
      for (const OpId v : exec_.successors(u))
        if (scheduler_.device_of(v) == d && scheduler_.input_arrived(v)) scheduler_.make_ready(v);
      for (const TransferId t : scheduler_.transfers_of(u)) {
        if (local(scheduler_.transfer(t).dst)) {
          scheduler_.transfer_ready(t);
        } else {
          send_ready_[t] = 1;
        }
        ++in_progress_;
      }
      if (resident_[u] && !options_.loads_in_stream_order) {
        scheduler_.op_finished(u);
        ++done_;
        --in_progress_;
      }
    }
  }
  launch_transfers(d);
  return any;
}

double Run::host_ms_now() const {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - host_epoch_).count();
}

void Run::launch(OpId u, DeviceId d, int index) {
  launched_ms_[u] = host_ms_now();
  const DeviceResources& dev = devices_[d];
  const Where where{"task", lowered_.graph.op(u).name, static_cast<int>(d)};
  check(cudaSetDevice(dev.ordinal), where, "cudaSetDevice");
  const bool copy_in = lowered_.tasks[u].role == TaskRole::kLoad && !options_.preload_inputs;
  const auto slot = static_cast<std::size_t>(index);
  const cudaStream_t stream = copy_in ? dev.host_to_device : dev.compute[slot];
  stream_of_[u] = copy_in ? -1 : index;
  for (const OpId p : exec_.predecessors(u)) {
    if (scheduler_.device_of(p) != d || finished_[p] || stream_of_[p] == stream_of_[u]) continue;
    check(cudaStreamWaitEvent(stream, end_event_[p], 0), where, "cudaStreamWaitEvent");
  }
  for (std::size_t i = input_begin_[u]; i < input_begin_[u + 1]; ++i) {
    const TransferId t = input_transfer_[i];
    if (t != kNoTransfer && local(scheduler_.transfer(t).src))
      check(cudaStreamWaitEvent(stream, transfer_end_[t], 0), where, "cudaStreamWaitEvent (copy)");
  }
  if (!resident_[u]) check(cudaEventRecord(start_event_[u], stream), where, "cudaEventRecord");
  if (copy_in) {
    check(cudaMemcpyAsync(out_[u], state_.host_block[u], kernels_.output_bytes(u), cudaMemcpyHostToDevice,
                          stream),
          where, "cudaMemcpyAsync");
    submitted_ms_[u] = host_ms_now();
  } else if (lowered_.tasks[u].role != TaskRole::kLoad) {
    const std::span<const void* const> inputs(inputs_.data() + input_begin_[u],
                                              inputs_.data() + input_begin_[u + 1]);
    kernels_.launch(u, inputs, out_[u],
                    LaunchContext{stream, dev.blas[slot], workspace_[d][slot], static_cast<int>(d)});
    submitted_ms_[u] = host_ms_now();
  }
  check(cudaEventRecord(end_event_[u], stream), where, "cudaEventRecord");
}

// Every transfer the scheduler releases from `src` (its FIFO, in release order) is enqueued at once
// on the copy stream of its destination, behind its producer's end event. Its consumers count it
// as arrived at once: they wait for its end event on the GPU, so no host round trip lies between
// the copy's end and their start.
void Run::launch_transfers(DeviceId src) {
  if (nccl_) post_remote(src);
  for (;;) {
    TransferId t = kNoTransfer;
    {
      const std::lock_guard lock(mutex_);
      t = scheduler_.next_transfer(src, src);  // the source's FIFO head, to whichever destination
      if (t == kNoTransfer) break;
      scheduler_.transfer_finished(t);
    }
    const OpId producer = scheduler_.transfer(t).tensor;
    const DeviceId dst = scheduler_.transfer(t).dst;
    const Where where{"transfer of", lowered_.graph.op(producer).name, static_cast<int>(src)};
    const DeviceResources& from = devices_[src];
    const cudaStream_t stream = from.to_device[dst];
    check(cudaSetDevice(from.ordinal), where, "cudaSetDevice");
    transfer_launched_ms_[t] = host_ms_now();
    if (!finished_[producer])
      check(cudaStreamWaitEvent(stream, end_event_[producer], 0), where, "cudaStreamWaitEvent");
    check(cudaEventRecord(transfer_start_[t], stream), where, "cudaEventRecord");
    check(cudaMemcpyPeerAsync(transfer_buffer_[t], devices_[dst].ordinal, out_[producer], from.ordinal,
                              kernels_.output_bytes(producer), stream),
          where, "cudaMemcpyPeerAsync");
    transfer_submitted_ms_[t] = host_ms_now();
    check(cudaEventRecord(transfer_end_[t], stream), where, "cudaEventRecord");
    inflight_[src].push_back({true, t, transfer_end_[t], kCopyQueues + static_cast<int>(dst)});
    const std::lock_guard lock(mutex_);
    for (const OpId v : scheduler_.consumers_of(t))
      if (scheduler_.input_arrived(v)) scheduler_.make_ready(v);
  }
}

void Run::op_done(OpId u) {
  const DeviceId d = scheduler_.device_of(u);
  finished_[u] = 1;
  if (stream_of_[u] >= 0) --queued_[d][static_cast<std::size_t>(stream_of_[u])];
  const std::lock_guard lock(mutex_);
  scheduler_.op_finished(u);
  ++done_;
  --in_progress_;
}

// A copy between this process's devices released its consumers when it was enqueued; a transfer
// received from another process releases them when it has landed.
void Run::transfer_done(TransferId t) {
  const std::lock_guard lock(mutex_);
  const Transfer& tr = scheduler_.transfer(t);
  if (local(tr.dst) && !local(tr.src))
    for (const OpId v : scheduler_.consumers_of(t))
      if (scheduler_.input_arrived(v)) scheduler_.make_ready(v);
  --in_progress_;
}

}  // namespace doppler::hw
