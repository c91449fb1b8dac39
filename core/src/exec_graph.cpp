#include "doppler/exec_graph.hpp"

namespace doppler {

ExecGraph ExecGraph::from(const TaskGraph& graph) {
  graph.validate();
  ExecGraph g;
  g.num_ops = static_cast<std::uint32_t>(graph.num_ops());
  g.succ_begin.assign(g.num_ops + 1, 0);
  g.pred_begin.assign(g.num_ops + 1, 0);
  for (OpId u = 0; u < g.num_ops; ++u) {
    for (OpId v : graph.successors(u)) {
      g.succ.push_back(v);
      ++g.pred_begin[v + 1];
    }
    g.succ_begin[u + 1] = static_cast<std::uint32_t>(g.succ.size());
  }
  for (OpId v = 0; v < g.num_ops; ++v) g.pred_begin[v + 1] += g.pred_begin[v];
  g.pred.resize(g.succ.size());
  std::vector<std::uint32_t> fill(g.pred_begin.begin(), g.pred_begin.end() - 1);
  for (OpId u = 0; u < g.num_ops; ++u)
    for (OpId v : g.successors(u)) g.pred[fill[v]++] = u;
  g.topo = graph.topological_order();
  return g;
}

}  // namespace doppler
