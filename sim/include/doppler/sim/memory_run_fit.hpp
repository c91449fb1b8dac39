#pragma once
// Contract: fits the runtime's latencies from measured runs of memory graphs (`doppler offload
// --gpu`), as the memory-graph simulator applies them (memory_graph_engine.hpp). Each run gives
// every node's start and end in seconds (alloc/free ignored: one is done when its dependencies
// are). A node is READY when its last dependency is done, MADE READY by the timed node whose end
// that was (through allocs and frees). Medians, 0 without samples and never negative:
//  copy_dispatch:   start - ready of loads and evictions made ready by a timed node while their
//                   link was free (the runtime notices the end, then launches the copy);
//  copy_gap:        start - the previous transfer's end on the link, for those ready before it;
//  arrival_latency: start - ready of ops made ready by a node on another resource while their
//                   device's compute was free;
//  dispatch_gap:    start - the previous op's end on the device, for ops ready before it ended
//                   (the runtime's gap between back-to-back kernels, its host cost per node
//                   included: the simulator adds it to every kernel, calibration.hpp).
#include <span>
#include <vector>

#include "doppler/memory/memory_graph.hpp"

namespace doppler::sim {

struct MeasuredMemoryRun {
  const memory::MemoryGraph* graph = nullptr;
  std::span<const double> start, end;  // per node, seconds
};

struct MemoryRunLatencies {
  double copy_dispatch = 0;
  double copy_gap = 0;
  double arrival_latency = 0;
  double dispatch_gap = 0;
};

MemoryRunLatencies fit_memory_run_latencies(std::span<const MeasuredMemoryRun> runs);

}  // namespace doppler::sim
