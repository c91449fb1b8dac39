// Run's results: task and transfer timings from CUDA events, and the output tensors assembled
// from their blocks (executor_run.hpp).
#include <algorithm>
#include <chrono>

#include "executor_run.hpp"
#include "input_blocks.hpp"

namespace doppler::hw {

double Run::elapsed(DeviceId d, cudaEvent_t event) const {
  float ms = 0;
  check(cudaEventElapsedTime(&ms, base_[d], event), Where{"timing", "", static_cast<int>(d)},
        "cudaEventElapsedTime");
  return ms;
}

// A host time kept from host_epoch_ as ms from the clock's start (may be negative behind a gated
// start); NaN (not launched) stays NaN.
double Run::on_clock(double host_ms) const {
  return host_ms - std::chrono::duration<double, std::milli>(clock_started_ - host_epoch_).count();
}

ExecuteResult Run::collect() {
  ExecuteResult result;
  result.tasks.resize(exec_.num_ops);
  for (OpId u = 0; u < exec_.num_ops; ++u) {
    const DeviceId d = scheduler_.device_of(u);
    result.tasks[u] = TaskTiming{d, 0, 0.0, 0.0};
    if (!resident_[u] && local(d)) {
      result.tasks[u] = TaskTiming{d, stream_of_[u], elapsed(d, start_event_[u]), elapsed(d, end_event_[u])};
    } else if (options_.loads_in_stream_order && local(d)) {
      const double reached = elapsed(d, end_event_[u]);
      result.tasks[u] = TaskTiming{d, stream_of_[u], reached, reached};
    }
    if (local(d)) {
      result.tasks[u].launched_ms = on_clock(launched_ms_[u]);
      result.tasks[u].submitted_ms = on_clock(submitted_ms_[u]);
    }
    if (kernels_.is_gemm(u)) ++result.gemm_joins;
    if (kernels_.is_generic_join(u)) ++result.generic_joins;
  }
  for (TransferId t = 0; t < scheduler_.num_transfers(); ++t) {
    const Transfer& tr = scheduler_.transfer(t);
    TransferTiming timing{tr.tensor, tr.src, tr.dst, static_cast<double>(kernels_.output_bytes(tr.tensor)),
                          0,         0};
    if (local(tr.src)) {
      timing.start_ms = elapsed(tr.src, transfer_start_[t]);
      timing.end_ms = elapsed(tr.src, transfer_end_[t]);
      timing.launched_ms = on_clock(transfer_launched_ms_[t]);
      timing.submitted_ms = on_clock(transfer_submitted_ms_[t]);
    }
    result.transfers.push_back(timing);
  }
  if (nccl_) gather_timings(result);
  for (const TaskTiming& t : result.tasks) result.makespan_ms = std::max(result.makespan_ms, t.end_ms);
  for (const TransferTiming& t : result.transfers)
    result.makespan_ms = std::max(result.makespan_ms, t.end_ms);
  result.gpu = state_.environment;
  result.values.resize(graph_.num_tensors());
  for (einsum::TensorId t = 0; t < graph_.num_tensors(); ++t) {
    const einsum::Tensor& tensor = graph_.tensor(t);
    const bool wanted = (options_.return_outputs && tensor.kind == einsum::TensorKind::kOutput) ||
                        (options_.assemble_intermediates && tensor.kind == einsum::TensorKind::kIntermediate);
    if (wanted) result.values[t] = assemble(t);
  }
  return result;
}

// The tensor from this process's blocks; with other processes, their blocks summed in (each
// element belongs to exactly one block).
std::vector<float> Run::assemble(einsum::TensorId t) {
  std::vector<float> values = assemble_tensor(graph_, lowered_, kernels_, t, [&](OpId u, std::byte* bytes) {
    const DeviceId d = scheduler_.device_of(u);
    if (!local(d)) return false;
    devices_.use(d);
    check(cudaMemcpy(bytes, out_[u], kernels_.output_bytes(u), cudaMemcpyDeviceToHost),
          Where{"task", lowered_.graph.op(u).name, static_cast<int>(d)}, "cudaMemcpy (result)");
    return true;
  });
  if (nccl_) all_reduce(values);
  return values;
}

}  // namespace doppler::hw
