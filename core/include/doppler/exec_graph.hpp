#pragma once
// Contract: a read-only, flat (CSR) copy of a validated TaskGraph's structure for hot loops
// (simulators, scheduler, policies). Successor lists keep the TaskGraph's insertion order.
#include <cstdint>
#include <span>
#include <vector>

#include "doppler/task_graph.hpp"

namespace doppler {

struct ExecGraph {
  std::uint32_t num_ops = 0;
  std::vector<std::uint32_t> succ_begin;  // num_ops + 1 offsets into succ
  std::vector<OpId> succ;
  std::vector<std::uint32_t> pred_begin;  // num_ops + 1 offsets into pred
  std::vector<OpId> pred;
  std::vector<OpId> topo;  // a topological order (Kahn, ties by id)

  static ExecGraph from(const TaskGraph& graph);  // validates the graph first

  std::span<const OpId> successors(OpId u) const {
    return {succ.data() + succ_begin[u], succ.data() + succ_begin[u + 1]};
  }
  std::span<const OpId> predecessors(OpId v) const {
    return {pred.data() + pred_begin[v], pred.data() + pred_begin[v + 1]};
  }
  std::uint32_t in_degree(OpId v) const { return pred_begin[v + 1] - pred_begin[v]; }
  std::size_t num_edges() const { return succ.size(); }
};

}  // namespace doppler
