// The multi-GPU executor of a lowered graph (declared in doppler/hw/executor.hpp).
#include "doppler/hw/executor.hpp"

#include <algorithm>
#include <thread>

#include "cuda_check.hpp"
#include "device_set.hpp"
#include "doppler/exec_graph.hpp"
#include "doppler/scheduler.hpp"
#include "elements.hpp"
#include "task_kernels.hpp"

namespace doppler::hw {
namespace {

using einsum::TaskRole;

constexpr std::size_t kAlign = 256;

std::size_t align_up(std::size_t bytes) {
  return (bytes + kAlign - 1) / kAlign * kAlign;
}

std::vector<einsum::Range> whole(const std::vector<std::int64_t>& dims) {
  std::vector<einsum::Range> box;
  for (const std::int64_t n : dims) box.push_back(einsum::Range{0, n});
  return box;
}

class Run {
 public:
  Run(const einsum::EinsumGraph& graph, const einsum::LoweredGraph& lowered, const Plan& plan,
      const ExecuteOptions& options, std::vector<int> ordinals)
      : graph_(graph),
        lowered_(lowered),
        options_(options),
        exec_(ExecGraph::from(lowered.graph)),
        scheduler_(exec_, std::vector<int>(ordinals.size(), options.streams)),
        kernels_(graph, lowered, options.use_cublas),
        devices_(ordinals, options.streams) {
    scheduler_.start(plan.device, plan.priority);
    scheduler_.build_transfers();
    allocate();
    resolve_inputs();
    stage_loads();
    make_events();
  }

  ExecuteResult run() {
    start_clock();
    for (const OpId v : scheduler_.sources()) scheduler_.make_ready(v);
    for (DeviceId d = 0; d < devices_.size(); ++d) launch_ops(d);
    std::size_t done = 0;
    while (done < exec_.num_ops) {
      if (inflight_.empty()) throw Error("hw: the run stalled: no task or transfer in flight");
      bool progress = false;
      for (std::size_t i = 0; i < inflight_.size();) {
        const Inflight f = inflight_[i];
        const cudaError_t status = cudaEventQuery(f.end);
        if (status == cudaErrorNotReady) {
          ++i;
          continue;
        }
        check(status, where_of(f), "cudaEventQuery");
        inflight_[i] = inflight_.back();
        inflight_.pop_back();
        progress = true;
        if (f.transfer) {
          transfer_done(f.id);
        } else {
          ++done;
          op_done(f.id);
        }
      }
      if (!progress) std::this_thread::yield();
    }
    devices_.synchronize();
    return collect();
  }

 private:
  struct Inflight {
    bool transfer;
    std::uint32_t id;
    cudaEvent_t end;
  };

  Where where_of(const Inflight& f) const {
    if (f.transfer) {
      const Transfer& t = scheduler_.transfer(f.id);
      return Where{"transfer of", lowered_.graph.op(t.tensor).name, static_cast<int>(t.src)};
    }
    return Where{"task", lowered_.graph.op(f.id).name, static_cast<int>(scheduler_.device_of(f.id))};
  }

  // One arena per device: task outputs, transfer copies arriving there, the compute streams'
  // workspaces.
  void allocate() {
    const std::size_t n = devices_.size();
    const std::size_t ops = exec_.num_ops;
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
      used[d] += workspace[d] * static_cast<std::size_t>(options_.streams);
    }
    out_.resize(ops);
    transfer_buffer_.resize(scheduler_.num_transfers());
    workspace_.assign(n, {});
    std::vector<std::byte*> base(n);
    for (DeviceId d = 0; d < n; ++d) {
      base[d] = devices_.allocate_arena(d, used[d]);
      for (int s = 0; s < options_.streams; ++s)
        workspace_[d].push_back(base[d] + workspace_offset[d] + workspace[d] * static_cast<std::size_t>(s));
    }
    for (OpId u = 0; u < ops; ++u) out_[u] = base[scheduler_.device_of(u)] + out_offset[u];
    for (TransferId t = 0; t < scheduler_.num_transfers(); ++t)
      transfer_buffer_[t] = base[scheduler_.transfer(t).dst] + transfer_offset[t];
  }

  // Each task input's buffer: the producer's output on the same device, else its transfer's copy.
  void resolve_inputs() {
    input_begin_.assign(exec_.num_ops + 1, 0);
    for (OpId v = 0; v < exec_.num_ops; ++v) {
      const DeviceId d = scheduler_.device_of(v);
      input_begin_[v] = inputs_.size();
      for (const OpId u : lowered_.tasks[v].inputs) {
        const void* buffer = nullptr;
        if (scheduler_.device_of(u) == d) {
          buffer = out_[u];
        } else {
          for (const TransferId t : scheduler_.transfers_of(u))
            if (scheduler_.transfer(t).dst == d) buffer = transfer_buffer_[t];
        }
        if (!buffer) {
          throw Error("hw: task '" + lowered_.graph.op(v).name + "' reads '" + lowered_.graph.op(u).name +
                      "', which is no predecessor in the task graph");
        }
        inputs_.push_back(buffer);
      }
    }
    input_begin_[exec_.num_ops] = inputs_.size();
  }

  // Load blocks: the reference's input values, gathered per block and converted, in pinned memory;
  // with preload_inputs copied to the device now.
  void stage_loads() {
    std::vector<std::vector<float>> values(graph_.num_tensors());
    std::size_t bytes = 0;
    for (OpId u = 0; u < exec_.num_ops; ++u)
      if (lowered_.tasks[u].role == TaskRole::kLoad) bytes += align_up(kernels_.output_bytes(u));
    std::byte* pinned = devices_.allocate_pinned(bytes);
    host_block_.assign(exec_.num_ops, nullptr);
    for (OpId u = 0; u < exec_.num_ops; ++u) {
      const einsum::TaskInfo& info = lowered_.tasks[u];
      if (info.role != TaskRole::kLoad) continue;
      const einsum::Tensor& tensor = graph_.tensor(info.tensor);
      if (values[info.tensor].empty()) values[info.tensor] = input_values(info.tensor);
      std::vector<float> block(static_cast<std::size_t>(einsum::elements_of(info.ranges)));
      if (auto copy = box_copy(whole(tensor.dims), info.ranges))
        run_copy_on_host(*copy, values[info.tensor].data(), block.data());
      encode(block, elem_type(tensor.dtype), pinned);
      host_block_[u] = pinned;
      pinned += align_up(kernels_.output_bytes(u));
      if (options_.preload_inputs) {
        const DeviceId d = scheduler_.device_of(u);
        devices_.use(d);
        check(cudaMemcpy(out_[u], host_block_[u], kernels_.output_bytes(u), cudaMemcpyHostToDevice),
              Where{"task", lowered_.graph.op(u).name, static_cast<int>(d)}, "cudaMemcpy (preload)");
      }
    }
  }

  std::vector<float> input_values(einsum::TensorId t) const {
    const einsum::Tensor& tensor = graph_.tensor(t);
    const auto given = options_.inputs.given.find(t);
    const std::vector<double> v =
        given != options_.inputs.given.end()
            ? given->second
            : einsum::random_tensor_values(options_.inputs.seed, t, tensor.elements(), options_.inputs.low,
                                           options_.inputs.high);
    if (static_cast<std::int64_t>(v.size()) != tensor.elements()) {
      throw Error("tensor '" + tensor.name + "': given " + std::to_string(v.size()) + " values, expected " +
                  std::to_string(tensor.elements()));
    }
    return std::vector<float>(v.begin(), v.end());
  }

  void make_events() {
    start_event_.resize(exec_.num_ops);
    end_event_.resize(exec_.num_ops);
    for (OpId u = 0; u < exec_.num_ops; ++u) {
      start_event_[u] = devices_.make_event(scheduler_.device_of(u));
      end_event_[u] = devices_.make_event(scheduler_.device_of(u));
    }
    transfer_start_.resize(scheduler_.num_transfers());
    transfer_end_.resize(scheduler_.num_transfers());
    for (TransferId t = 0; t < scheduler_.num_transfers(); ++t) {
      transfer_start_[t] = devices_.make_event(scheduler_.transfer(t).src);
      transfer_end_[t] = devices_.make_event(scheduler_.transfer(t).src);
    }
    base_.resize(devices_.size());
    for (DeviceId d = 0; d < devices_.size(); ++d) base_[d] = devices_.make_event(d);
    free_slots_.assign(devices_.size(), {});
    for (DeviceId d = 0; d < devices_.size(); ++d)
      for (int k = options_.streams - 1; k >= 0; --k) free_slots_[d].push_back(k);
    slot_of_.assign(exec_.num_ops, 0);
    stream_of_.assign(exec_.num_ops, 0);
  }

  void start_clock() {
    devices_.synchronize();
    for (DeviceId d = 0; d < devices_.size(); ++d) {
      devices_.use(d);
      check(cudaEventRecord(base_[d], devices_[d].compute[0]), Where{"set-up", "", static_cast<int>(d)},
            "cudaEventRecord");
    }
  }

  void launch_ops(DeviceId d) {
    for (OpId u = scheduler_.next_op(d); u != kNoOp; u = scheduler_.next_op(d)) {
      const int slot = free_slots_[d].back();
      free_slots_[d].pop_back();
      slot_of_[u] = slot;
      launch(u, d, slot);
      inflight_.push_back({false, u, end_event_[u]});
    }
  }

  void launch(OpId u, DeviceId d, int slot) {
    const DeviceResources& dev = devices_[d];
    const Where where{"task", lowered_.graph.op(u).name, static_cast<int>(d)};
    check(cudaSetDevice(dev.ordinal), where, "cudaSetDevice");
    const bool copy_in = lowered_.tasks[u].role == TaskRole::kLoad && !options_.preload_inputs;
    const cudaStream_t stream = copy_in ? dev.host_to_device : dev.compute[static_cast<std::size_t>(slot)];
    stream_of_[u] = copy_in ? -1 : slot;
    check(cudaEventRecord(start_event_[u], stream), where, "cudaEventRecord");
    if (copy_in) {
      check(
          cudaMemcpyAsync(out_[u], host_block_[u], kernels_.output_bytes(u), cudaMemcpyHostToDevice, stream),
          where, "cudaMemcpyAsync");
    } else if (lowered_.tasks[u].role != TaskRole::kLoad) {
      const std::span<const void* const> inputs(inputs_.data() + input_begin_[u],
                                                inputs_.data() + input_begin_[u + 1]);
      kernels_.launch(u, inputs, out_[u],
                      LaunchContext{stream, dev.blas[static_cast<std::size_t>(slot)],
                                    workspace_[d][static_cast<std::size_t>(slot)], static_cast<int>(d)});
    }
    check(cudaEventRecord(end_event_[u], stream), where, "cudaEventRecord");
  }

  void launch_transfer(DeviceId src, DeviceId dst) {
    const TransferId t = scheduler_.next_transfer(src, dst);
    if (t == kNoTransfer) return;
    const OpId producer = scheduler_.transfer(t).tensor;
    const Where where{"transfer of", lowered_.graph.op(producer).name, static_cast<int>(src)};
    const DeviceResources& from = devices_[src];
    const cudaStream_t stream = from.to_device[dst];
    check(cudaSetDevice(from.ordinal), where, "cudaSetDevice");
    check(cudaEventRecord(transfer_start_[t], stream), where, "cudaEventRecord");
    check(cudaMemcpyPeerAsync(transfer_buffer_[t], devices_[dst].ordinal, out_[producer], from.ordinal,
                              kernels_.output_bytes(producer), stream),
          where, "cudaMemcpyPeerAsync");
    check(cudaEventRecord(transfer_end_[t], stream), where, "cudaEventRecord");
    inflight_.push_back({true, t, transfer_end_[t]});
  }

  void op_done(OpId u) {
    const DeviceId d = scheduler_.device_of(u);
    scheduler_.op_finished(u);
    free_slots_[d].push_back(slot_of_[u]);
    for (const OpId v : exec_.successors(u))
      if (scheduler_.device_of(v) == d && scheduler_.input_arrived(v)) scheduler_.make_ready(v);
    for (const TransferId t : scheduler_.transfers_of(u)) {
      scheduler_.transfer_ready(t);
      launch_transfer(d, scheduler_.transfer(t).dst);
    }
    launch_ops(d);
  }

  void transfer_done(TransferId t) {
    const Transfer tr = scheduler_.transfer(t);
    scheduler_.transfer_finished(t);
    for (const OpId v : scheduler_.consumers_of(t))
      if (scheduler_.input_arrived(v)) scheduler_.make_ready(v);
    launch_ops(tr.dst);
    launch_transfer(tr.src, tr.dst);
  }

  double elapsed(DeviceId d, cudaEvent_t event) const {
    float ms = 0;
    check(cudaEventElapsedTime(&ms, base_[d], event), Where{"timing", "", static_cast<int>(d)},
          "cudaEventElapsedTime");
    return ms;
  }

  ExecuteResult collect() {
    ExecuteResult result;
    result.tasks.resize(exec_.num_ops);
    for (OpId u = 0; u < exec_.num_ops; ++u) {
      const DeviceId d = scheduler_.device_of(u);
      result.tasks[u] = TaskTiming{d, stream_of_[u], elapsed(d, start_event_[u]), elapsed(d, end_event_[u])};
      result.makespan_ms = std::max(result.makespan_ms, result.tasks[u].end_ms);
      if (kernels_.is_gemm(u)) ++result.gemm_joins;
      if (kernels_.is_generic_join(u)) ++result.generic_joins;
    }
    for (TransferId t = 0; t < scheduler_.num_transfers(); ++t) {
      const Transfer& tr = scheduler_.transfer(t);
      result.transfers.push_back(
          TransferTiming{tr.tensor, tr.src, tr.dst, static_cast<double>(kernels_.output_bytes(tr.tensor)),
                         elapsed(tr.src, transfer_start_[t]), elapsed(tr.src, transfer_end_[t])});
      result.makespan_ms = std::max(result.makespan_ms, result.transfers.back().end_ms);
    }
    for (DeviceId d = 0; d < devices_.size(); ++d) {
      cudaDeviceProp prop{};
      check(cudaGetDeviceProperties(&prop, devices_[d].ordinal), Where{"set-up", "", static_cast<int>(d)},
            "cudaGetDeviceProperties");
      result.device_names.emplace_back(prop.name);
    }
    result.values.resize(graph_.num_tensors());
    for (einsum::TensorId t = 0; t < graph_.num_tensors(); ++t) {
      const einsum::Tensor& tensor = graph_.tensor(t);
      const bool wanted =
          tensor.kind == einsum::TensorKind::kOutput ||
          (options_.assemble_intermediates && tensor.kind == einsum::TensorKind::kIntermediate);
      if (wanted) result.values[t] = assemble(t);
    }
    return result;
  }

  std::vector<float> assemble(einsum::TensorId t) {
    const einsum::Tensor& tensor = graph_.tensor(t);
    const std::vector<einsum::Range> box = whole(tensor.dims);
    std::vector<float> values(static_cast<std::size_t>(tensor.elements()));
    std::vector<std::byte> bytes;
    std::vector<float> block;
    for (const OpId u : lowered_.tensors[t].tasks) {
      const DeviceId d = scheduler_.device_of(u);
      bytes.resize(kernels_.output_bytes(u));
      devices_.use(d);
      check(cudaMemcpy(bytes.data(), out_[u], bytes.size(), cudaMemcpyDeviceToHost),
            Where{"task", lowered_.graph.op(u).name, static_cast<int>(d)}, "cudaMemcpy (result)");
      const ElemType type = kernels_.output_type(u);
      block.resize(bytes.size() / elem_bytes(type));
      decode(bytes.data(), type, block);
      if (auto copy = box_copy(lowered_.tasks[u].ranges, box))
        run_copy_on_host(*copy, block.data(), values.data());
    }
    return values;
  }

  const einsum::EinsumGraph& graph_;
  const einsum::LoweredGraph& lowered_;
  const ExecuteOptions& options_;
  ExecGraph exec_;
  Scheduler scheduler_;
  TaskKernels kernels_;
  DeviceSet devices_;

  std::vector<std::byte*> out_;
  std::vector<std::byte*> transfer_buffer_;
  std::vector<std::vector<std::byte*>> workspace_;
  std::vector<std::size_t> input_begin_;
  std::vector<const void*> inputs_;
  std::vector<const std::byte*> host_block_;

  std::vector<cudaEvent_t> start_event_, end_event_, transfer_start_, transfer_end_, base_;
  std::vector<std::vector<int>> free_slots_;
  std::vector<int> slot_of_, stream_of_;
  std::vector<Inflight> inflight_;
};

}  // namespace

int visible_gpus(std::string* reason) {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    cudaGetLastError();
    if (reason) *reason = std::string("no usable CUDA device: ") + cudaGetErrorString(status);
    return 0;
  }
  if (count == 0 && reason) *reason = "no CUDA device is visible";
  return count;
}

ExecuteResult execute(const einsum::EinsumGraph& graph, const einsum::LoweredGraph& lowered, const Plan& plan,
                      const ExecuteOptions& options) {
  if (options.streams < 1) throw Error("hw: streams per device must be >= 1");
  int n = options.num_devices;
  if (n == 0)
    for (const DeviceId d : plan.device) n = std::max(n, static_cast<int>(d) + 1);
  n = std::max(n, 1);
  validate_plan(plan, lowered.graph, static_cast<std::size_t>(n));
  std::vector<int> ordinals = options.cuda_devices;
  if (ordinals.empty())
    for (int d = 0; d < n; ++d) ordinals.push_back(d);
  if (static_cast<int>(ordinals.size()) != n) {
    throw Error("hw: " + std::to_string(ordinals.size()) + " CUDA devices given for a plan on " +
                std::to_string(n) + " devices");
  }
  std::string reason;
  const int visible = visible_gpus(&reason);
  for (const int ordinal : ordinals) {
    if (ordinal < 0 || ordinal >= visible) {
      throw Error("hw: plan '" + plan.source + "' needs CUDA device " + std::to_string(ordinal) + " but " +
                  std::to_string(visible) + " are visible" + (reason.empty() ? "" : " (" + reason + ")"));
    }
  }
  return Run(graph, lowered, plan, options, std::move(ordinals)).run();
}

}  // namespace doppler::hw
