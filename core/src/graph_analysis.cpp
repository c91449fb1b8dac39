#include "doppler/graph_analysis.hpp"

#include <algorithm>

namespace doppler {

std::vector<double> bottom_levels(const ExecGraph& g, std::span<const double> compute,
                                  std::span<const double> comm) {
  std::vector<double> level(g.num_ops, 0.0);
  for (auto it = g.topo.rbegin(); it != g.topo.rend(); ++it) {
    const OpId u = *it;
    double best = 0;
    const double delay = comm.empty() ? 0.0 : comm[u];
    for (OpId v : g.successors(u)) best = std::max(best, delay + level[v]);
    level[u] = compute[u] + best;
  }
  return level;
}

std::vector<double> top_levels(const ExecGraph& g, std::span<const double> compute,
                               std::span<const double> comm) {
  std::vector<double> level(g.num_ops, 0.0);
  for (OpId v : g.topo) {
    double best = 0;
    for (OpId u : g.predecessors(v))
      best = std::max(best, level[u] + compute[u] + (comm.empty() ? 0.0 : comm[u]));
    level[v] = best;
  }
  return level;
}

GraphStats graph_stats(const ExecGraph& g, std::span<const double> compute, std::span<const double> comm) {
  GraphStats s;
  s.num_ops = g.num_ops;
  s.num_edges = g.num_edges();
  std::vector<std::size_t> depth(g.num_ops, 1);
  for (OpId v : g.topo)
    for (OpId u : g.predecessors(v)) depth[v] = std::max(depth[v], depth[u] + 1);
  for (OpId v = 0; v < g.num_ops; ++v) {
    s.depth = std::max(s.depth, depth[v]);
    s.total_work += compute[v];
    if (g.in_degree(v) == 0) ++s.sources;
    if (g.successors(v).empty()) ++s.sinks;
  }
  for (double b : bottom_levels(g, compute, {})) s.critical_path = std::max(s.critical_path, b);
  for (double b : bottom_levels(g, compute, comm))
    s.critical_path_with_comm = std::max(s.critical_path_with_comm, b);
  return s;
}

double makespan_lower_bound(const ExecGraph& g, std::span<const double> compute, std::size_t parallel_slots) {
  double total = 0;
  for (double c : compute) total += c;
  double path = 0;
  for (double b : bottom_levels(g, compute, {})) path = std::max(path, b);
  return std::max(path, total / static_cast<double>(parallel_slots));
}

}  // namespace doppler
