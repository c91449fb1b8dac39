#pragma once
// Contract: static analysis of a graph under per-op cost vectors (compute time of an op, and the
// delay of each edge leaving it when it crosses devices). Levels include the op's own compute.
#include <span>
#include <vector>

#include "doppler/exec_graph.hpp"

namespace doppler {

// b-level(u) = compute[u] + max over successors v of (comm[u] + b-level(v)); pass comm empty to ignore it.
std::vector<double> bottom_levels(const ExecGraph& g, std::span<const double> compute,
                                  std::span<const double> comm);
// t-level(v) = max over predecessors u of (t-level(u) + compute[u] + comm[u]): earliest start.
std::vector<double> top_levels(const ExecGraph& g, std::span<const double> compute,
                               std::span<const double> comm);

struct GraphStats {
  std::size_t num_ops = 0;
  std::size_t num_edges = 0;
  std::size_t depth = 0;  // ops on the longest path by count
  std::size_t sources = 0;
  std::size_t sinks = 0;
  double total_work = 0;     // sum of compute
  double critical_path = 0;  // longest path of compute, no communication
  double critical_path_with_comm = 0;
};
GraphStats graph_stats(const ExecGraph& g, std::span<const double> compute, std::span<const double> comm);

// max(critical path without communication, total work / parallel slots): no schedule beats it.
// Slots = devices when each runs one op at a time; the sum of compute streams otherwise.
double makespan_lower_bound(const ExecGraph& g, std::span<const double> compute, std::size_t parallel_slots);

}  // namespace doppler
