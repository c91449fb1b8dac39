#pragma once
// Contract: runs a MEMORY GRAPH (doppler/memory/memory_graph.hpp: TURNIP offload under a per-GPU
// budget) compiled from a lowered einsum graph on real GPUs, device d of the graph on CUDA ordinal
// d. Memory: per device one arena up to the highest region end (within `budget`; any size for an
// unlimited budget 0) holding every region at its offset (plus a workspace for GEMM permutations,
// outside the budget); the graph inputs' blocks pinned once per runner; a pinned host arena for
// evicted tensors at their host regions. Work: op nodes run the backend's kernels on compute
// stream 0, loads on the device's host->device stream, evicts on its device->host stream, copies
// on the source's device->device stream; alloc and free are bookkeeping.
// EVENT-DRIVEN: one host thread launches whatever is ready, whatever order that gives. With
// issue_ahead (default) a node is ready when each of its dependencies was enqueued (or passed, for
// alloc/free) and waits on the GPU for those on other streams (their end events; an alloc or free
// stands for the unfinished nodes it depends on), so no host round trip lies between a node and
// its successors; without it, a dependency on another stream must have finished (polled CUDA
// events). Loads and evictions are not issued ahead unless host_copies_ahead: they wait on the host
// until their dependencies (and what passed allocs/frees stand for) have finished, so a copy whose
// memory is not yet free never blocks the copies behind it on its stream (with them ahead, one
// waiting load held back every later load: head-of-line blocking the simulator does not have).
// At most queue_depth nodes per stream are in flight; among a stream's ready nodes the
// earliest in the graph's node order goes first. A fixed-order graph (with_fixed_order) runs
// through the same loop, its chains imposing the order.
// Returns the makespan (median of `repetitions` runs, after an untimed one when more than one or
// when the runner has not run yet: its first run is cold, kernels measured up to 1.8x slower),
// each node's times and the outputs of the last run (alloc/free: when they were passed; outputs
// read from their kept regions, others empty) and the GPU's description.
// Errors (fewer GPUs than the graph's devices, a region too small for its block, any CUDA or cuBLAS
// failure) throw one-line doppler::Errors naming the node and device.
#include <memory>
#include <vector>

#include "doppler/einsum/lowering.hpp"
#include "doppler/einsum/reference_executor.hpp"
#include "doppler/memory/memory_graph.hpp"
#include "doppler/traced_run.hpp"

namespace doppler::hw {

struct MemoryRunOptions {
  einsum::ReferenceOptions inputs;  // input/parameter values, as the CPU reference's
  bool use_cublas = true;
  int queue_depth = 4;  // nodes in flight per stream
  bool warm_up = true;  // a GEMM burst before the clock starts
  bool return_outputs = true;
  int repetitions = 1;      // timed runs, after an untimed one (see above); set-up (arenas, inputs) once
  bool issue_ahead = true;  // see EVENT-DRIVEN above
  bool host_copies_ahead = false;  // loads and evictions issued ahead too (issue_ahead only)
};

struct MemoryNodeTiming {
  double start_ms = 0;
  double end_ms = 0;
};

struct MemoryRunResult {
  double makespan_ms = 0;  // the median over the timed runs
  double host_ms = 0;      // wall time of the launch loop
  std::vector<MemoryNodeTiming> nodes;
  std::vector<std::vector<float>> values;  // by TensorId: the graph's outputs
  double bytes_loaded = 0;
  double bytes_evicted = 0;
  GpuInfo gpu;
};

// Runs memory graphs of one lowered graph, keeping between them what does not depend on the
// memory graph: the GPUs' resources, the kernels' parameters and the graph inputs' blocks, gathered
// and converted once into pinned memory (load nodes of inputs read them there; the host arena holds
// only evicted tensors). Owns its GPU resources; graph and lowered must outlive it.
class MemoryGraphRunner {
 public:
  MemoryGraphRunner(const einsum::EinsumGraph& graph, const einsum::LoweredGraph& lowered,
                    MemoryRunOptions options = {});
  ~MemoryGraphRunner();
  MemoryGraphRunner(const MemoryGraphRunner&) = delete;
  MemoryGraphRunner& operator=(const MemoryGraphRunner&) = delete;

  MemoryRunResult run(const memory::MemoryGraph& memory_graph);

  struct State;

 private:
  std::unique_ptr<State> state_;
};

// One memory graph, set-up included.
MemoryRunResult run_memory_graph(const einsum::EinsumGraph& graph, const einsum::LoweredGraph& lowered,
                                 const memory::MemoryGraph& memory_graph,
                                 const MemoryRunOptions& options = {});

}  // namespace doppler::hw
