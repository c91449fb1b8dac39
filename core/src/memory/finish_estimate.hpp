#pragma once
// Contract: while the memory-plan compiler emits nodes, when each would finish in a simple model of
// the run: a transfer (load, evict, copy) takes its `bytes` in time units on its link (a directed
// pair of arenas), each link runs its transfers one at a time in emission order, and alloc, free
// and op nodes take no time (on offload workloads the links are the bottleneck). Only relative
// times matter; the compiler uses them to choose eviction victims whose release does not hold up
// the next load. Private to the memory-plan compiler.
#include <map>
#include <utility>
#include <vector>

#include "doppler/memory/memory_graph.hpp"

namespace doppler::memory {

class FinishEstimate {
 public:
  // Records `node`, the next emitted node (its deps already recorded); returns its finish.
  double record(const MemNode& node);
  double at(MemNodeId node) const { return finish_[node]; }
  // When the link from -> to finishes the transfers recorded so far (0 when it has none).
  double link_free(DeviceId from, DeviceId to) const;

 private:
  std::vector<double> finish_;
  std::map<std::pair<DeviceId, DeviceId>, double> links_;  // (from, to) -> when it is free
};

}  // namespace doppler::memory
