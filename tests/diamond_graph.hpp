#pragma once
// Test helper: the hand-worked diamond a -> {b, c} -> d in the paper model (compute 2, 3, 5, 1;
// comm 10, 1, 1, 0) whose features the placement-environment and learned-policy tests check.
#include <string>
#include <utility>

#include "doppler/task_graph.hpp"

namespace doppler::test_support {

inline TaskGraph diamond() {
  TaskGraph graph("diamond");
  const double compute[] = {2, 3, 5, 1};
  const double comm[] = {10, 1, 1, 0};
  for (int i = 0; i < 4; ++i) {
    Op op;
    op.name = std::string(1, static_cast<char>('a' + i));
    op.fixed_cost = compute[i];
    op.comm_cost = comm[i];
    graph.add_op(std::move(op));
  }
  graph.add_edge(0, 1);
  graph.add_edge(0, 2);
  graph.add_edge(1, 3);
  graph.add_edge(2, 3);
  return graph;
}

}  // namespace doppler::test_support
