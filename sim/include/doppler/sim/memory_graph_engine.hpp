#pragma once
// Contract: executes a MemoryGraph (core memory/memory_graph.hpp) in the simulator, event-driven:
// any node whose dependencies are done may run (work-conserving). alloc and free are instant; an
// op holds one of its device's compute streams for the cost table's compute time (roofline); a
// load holds its device's host->device link, an evict its device->host link and a copy its
// directed device link, for latency + bytes / bandwidth (the machine's LinkSpecs; one transfer at a
// time per link). A free resource starts its ready node with the lowest index; timed events pop by
// (time, sequence id), so a run is deterministic. Every alloc is checked against the budget and
// against live regions; a violation throws std::logic_error (an internal error: the compiler
// broke its contract). The result carries the peak bytes per device and a Trace.
// A machine whose calibration has concurrency_slowdown s > 1 slows kernels under copies: an op
// started while loads, evictions or copies into or out of its device are running advances at 1/s
// of its speed until the last of them ends (copies started later do not slow it); the compute
// bound counts kernel times alone.
// With `jitter` j > 0, every op and transfer takes its time x (1 + j u), u uniform in [-1, 1)
// drawn from (seed, node index): run-to-run variation of real hardware, the same per node whatever
// the order, so event-driven and fixed-order runs of one graph see the same durations.
// A calibration's latencies (all 0 unless fitted) delay starts: a load or evict that becomes ready
// when a timed node ends starts copy_dispatch later (the runtime notices the end and launches it);
// a link idles copy_gap after each transfer; an op made ready by a node on another resource starts
// arrival_latency later.
// `durations` (one per node, seconds) replays given times instead of the cost table's and the
// links' (e.g. the durations measured on a GPU, to separate durations from latencies); the
// concurrency slowdown is then not applied (measured times include it).
#include <cstdint>
#include <vector>

#include "doppler/machine.hpp"
#include "doppler/memory/memory_graph.hpp"
#include "doppler/sim/cost_model.hpp"
#include "doppler/task_graph.hpp"
#include "doppler/trace.hpp"

namespace doppler::sim {

struct MemoryRunResult {
  double makespan = 0;
  std::vector<std::uint64_t> peak_bytes;  // per device, as executed
  double bytes_loaded = 0;                // host -> device
  double bytes_evicted = 0;               // device -> host
  double bytes_copied = 0;                // device -> device
  // Lower bound of any schedule of this memory graph: max over devices of its compute time (over
  // its streams) and of its host-link bytes / bandwidth, each direction (with jitter: each
  // transfer's bytes / bandwidth times its factor).
  double lower_bound = 0;
  double compute_bound = 0;
  double host_link_bound = 0;
  std::uint64_t events = 0;
  Trace trace;  // compute rows for ops, transfer rows for loads, evicts (to kHostDevice) and copies
};

struct MemoryRunOptions {
  bool record_trace = false;
  double jitter = 0;  // in [0, 1)
  std::uint64_t seed = 1;
  std::vector<double> durations = {};  // empty, or one per memory-graph node (instant nodes ignored)
};

// `costs` must be built from `graph` and `machine`; `machine` has the graph's devices.
MemoryRunResult run_memory_graph(const memory::MemoryGraph& memory_graph, const TaskGraph& graph,
                                 const Machine& machine, const CostTable& costs,
                                 const MemoryRunOptions& options);
MemoryRunResult run_memory_graph(const memory::MemoryGraph& memory_graph, const TaskGraph& graph,
                                 const Machine& machine, const CostTable& costs, bool record_trace = false);

}  // namespace doppler::sim
