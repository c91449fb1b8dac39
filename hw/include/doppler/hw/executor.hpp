#pragma once
// Contract: runs a LOWERED einsum task graph on N GPUs of this process under a plan (a device per
// task, optional priorities), with the same work-conserving Scheduler as the simulator: the
// executor launches what the scheduler picks and feeds back completions polled from CUDA events.
// Per device: `streams` compute streams (each with a cuBLAS handle and a workspace), one stream
// for host->device copies and one per destination for device->device copies (peer access enabled
// where available). Every block buffer (task outputs and transferred copies) is allocated before
// the run; the run allocates nothing on the GPU. Input/parameter values are the CPU reference's
// (ReferenceOptions), so results compare with run_reference / run_lowered.
// Errors (a plan device beyond the visible GPUs, any failed CUDA or cuBLAS call) throw one-line
// doppler::Errors naming the task or transfer and the device.
#include <cstdint>
#include <string>
#include <vector>

#include "doppler/einsum/einsum_graph.hpp"
#include "doppler/einsum/lowering.hpp"
#include "doppler/plan.hpp"

namespace doppler::hw {

struct ExecuteOptions {
  einsum::ReferenceOptions inputs;      // values of inputs and parameters (seeded or given)
  int num_devices = 0;                  // GPUs used; 0 = the plan's largest device + 1
  std::vector<int> cuda_devices;        // CUDA ordinal of each plan device; empty = 0, 1, ...
  int streams = 1;                      // compute streams per device
  bool use_cublas = true;               // contractions through cuBLAS where they map to a GEMM
  bool preload_inputs = true;           // load tasks' blocks copied before the run (inputs resident)
  bool assemble_intermediates = false;  // also return intermediate tensors, not only outputs
};

// One task or transfer on the GPU: milliseconds from its device's base event (recorded on all
// devices at the same host instant, just before the first launch).
struct TaskTiming {
  DeviceId device = 0;
  int stream = 0;  // compute stream index; -1: the host->device stream (a load)
  double start_ms = 0;
  double end_ms = 0;
};

struct TransferTiming {
  OpId producer = 0;
  DeviceId src = 0;
  DeviceId dst = 0;
  double bytes = 0;
  double start_ms = 0;  // on the source device's clock
  double end_ms = 0;
};

struct ExecuteResult {
  std::vector<std::vector<float>> values;  // by TensorId: outputs (and intermediates if asked)
  std::vector<TaskTiming> tasks;           // by OpId of the lowered graph
  std::vector<TransferTiming> transfers;   // in the scheduler's transfer order
  double makespan_ms = 0;                  // latest end over tasks and transfers
  int gemm_joins = 0;                      // joins run through cuBLAS
  int generic_joins = 0;                   // joins run by the generic join kernel
  std::vector<std::string> device_names;   // per plan device
};

ExecuteResult execute(const einsum::EinsumGraph& graph, const einsum::LoweredGraph& lowered, const Plan& plan,
                      const ExecuteOptions& options = {});

// GPUs this process can use (0 when there is no driver or device); `reason` says why when 0.
int visible_gpus(std::string* reason = nullptr);

}  // namespace doppler::hw
