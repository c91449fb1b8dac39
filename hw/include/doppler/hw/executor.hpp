#pragma once
// Contract: runs a LOWERED einsum task graph on N GPUs of this process under a plan (a device per
// task, optional priorities), with the same work-conserving Scheduler as the simulator: the
// executor launches what the scheduler picks and feeds back completions polled from CUDA events,
// one host thread per device (its launches, its outgoing transfers, its events).
// Per device: `streams` compute streams (each with a cuBLAS handle and a workspace), one stream
// for host->device copies and one per destination for device->device copies (peer access enabled
// where available). Launches run ahead of the GPU: an op is enqueued as soon as its inputs from
// its own device are enqueued (stream order or an event wait guards them) and its inputs from
// other devices have arrived, with at most `queue_depth` ops per compute stream not yet finished;
// a transfer is enqueued behind its producer (its copy stream waits on the producer's event), a
// GPU's outgoing transfers in the order they were released (the GPU runs them one at a time).
// Every block buffer (task outputs and transferred copies) is allocated before the run; the run
// allocates nothing on the GPU. Input/parameter values are the CPU reference's (ReferenceOptions),
// so results compare with run_reference / run_lowered.
// An Executor keeps devices, streams, cuBLAS handles, kernel parameters and the staged input
// blocks between runs, so repeated runs (placements, repetitions) pay the set-up once.
// Errors (a plan device beyond the visible GPUs, any failed CUDA or cuBLAS call) throw one-line
// doppler::Errors naming the task or transfer and the device.
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "doppler/einsum/einsum_graph.hpp"
#include "doppler/einsum/lowering.hpp"
#include "doppler/plan.hpp"
#include "doppler/traced_run.hpp"

namespace doppler::hw {

// Multi-process mode: this process runs plan device `rank` of `size` (one GPU per process, the
// plan has `size` devices), on CUDA ordinal cuda_devices[0] (default 0). Every process runs the
// same graph and plan; transfers between processes go through NCCL (one communicator and one
// NCCL stream per process; every process posts its transfers in one global order, by the
// producers' topological positions, so pairs match and cannot deadlock). The clocks start
// together after a barrier; every process returns the whole result (timings and outputs gathered
// with all-reduces).
struct ProcessGroup {
  int rank = 0;
  int size = 1;
  std::string rendezvous = "/tmp/doppler-rendezvous";  // a directory every rank reads (the NCCL id)
  std::string job_id = "job";                          // tells jobs sharing the directory apart
};

struct ExecuteOptions {
  einsum::ReferenceOptions inputs;  // values of inputs and parameters (seeded or given)
  int num_devices = 0;              // GPUs used; 0 = the plan's largest device + 1
  std::vector<int> cuda_devices;    // CUDA ordinal of each plan device; empty = 0, 1, ...
  int streams = 1;                  // compute streams per device
  int queue_depth = 4;              // ops enqueued and not finished per compute stream (>= 1)
  bool use_cublas = true;           // contractions through cuBLAS where they map to a GEMM
  bool preload_inputs = true;       // load tasks' blocks copied before the run (inputs resident)
  // A preloaded load takes its place in its stream's order, as the simulator's issue engine has it:
  // its outgoing copies start when the stream reaches it (in the plan's priority order among the
  // device's ops). false: every preloaded load counts as done when the run starts, so all of their
  // copies queue at once, ahead of the activations' copies.
  bool loads_in_stream_order = true;
  bool return_outputs = true;           // copy the output tensors back (ExecuteResult::values)
  bool assemble_intermediates = false;  // also return intermediate tensors, not only outputs
  bool warm_up = true;                  // a GEMM burst on every GPU just before the clock starts
  // Hold the GPUs until every device thread has made its first launches; the clock starts when
  // they are released, so the first kernels do not wait for their own launch calls. One process
  // only: ignored in multi-process mode, whose clock starts at a barrier.
  bool gated_start = true;
  std::optional<ProcessGroup> processes;  // multi-process mode
};

// One task or transfer on the GPU: milliseconds from its device's base event (recorded on all
// devices at the same host instant, just before the first launch). A preloaded load runs nothing:
// with loads_in_stream_order it reads t..t (when its stream reached it), else 0..0.
struct TaskTiming {
  DeviceId device = 0;
  int stream = 0;  // compute stream index; -1: the host->device stream (a load)
  double start_ms = 0;
  double end_ms = 0;
  // Host time of its launch call, ms after the base events were recorded or (gated_start) the gate
  // opened (negative: launched before that): the GPUs' clock start within a few us; NaN when it was
  // not launched here.
  double launched_ms = std::numeric_limits<double>::quiet_NaN();
  // Host time when its kernel launch (cuBLAS call, own kernel, copy) returned, on the same clock;
  // NaN when nothing was launched (a preloaded load). A kernel on an idle stream cannot start
  // before about this time, though its start event (recorded before the call) fires earlier.
  double submitted_ms = std::numeric_limits<double>::quiet_NaN();
};

struct TransferTiming {
  OpId producer = 0;
  DeviceId src = 0;
  DeviceId dst = 0;
  double bytes = 0;
  double start_ms = 0;  // on the source device's clock
  double end_ms = 0;
  double launched_ms = std::numeric_limits<double>::quiet_NaN();  // host time of its enqueue, as TaskTiming's
  double submitted_ms = std::numeric_limits<double>::quiet_NaN();  // when its copy call returned
};

struct ExecuteResult {
  std::vector<std::vector<float>> values;  // by TensorId: outputs (return_outputs), intermediates if asked
  std::vector<TaskTiming> tasks;           // by OpId of the lowered graph
  std::vector<TransferTiming> transfers;   // in the scheduler's transfer order
  double makespan_ms = 0;                  // latest end over tasks and transfers
  int gemm_joins = 0;                      // joins run through cuBLAS
  int generic_joins = 0;                   // joins run by the generic join kernel
  GpuInfo gpu;                             // versions, clocks, per plan device the GPU's name
  double host_ms = 0;                      // host wall time from the first launch to the last completion
};

class Executor {
 public:
  // Keeps references to graph and lowered: they must outlive the executor. Nothing touches a GPU
  // before the first run.
  Executor(const einsum::EinsumGraph& graph, const einsum::LoweredGraph& lowered,
           ExecuteOptions options = {});
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Runs one plan. The GPUs are chosen by the first run (options.num_devices, or the plan's largest
  // device + 1); later plans must fit them.
  ExecuteResult run(const Plan& plan);

  struct State;  // devices, kernels, staged inputs (hw/src/executor_run.hpp)

 private:
  std::unique_ptr<State> state_;
};

// One run with a fresh Executor.
ExecuteResult execute(const einsum::EinsumGraph& graph, const einsum::LoweredGraph& lowered, const Plan& plan,
                      const ExecuteOptions& options = {});

// GPUs this process can use (0 when there is no driver or device); `reason` says why when 0.
int visible_gpus(std::string* reason = nullptr);

// Empty when at least `wanted` GPUs are visible, else "N GPUs wanted, M visible (why)".
std::string missing_gpus(int wanted);

}  // namespace doppler::hw
