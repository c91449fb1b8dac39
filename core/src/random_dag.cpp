#include "doppler/random_dag.hpp"

#include <algorithm>
#include <random>

namespace doppler {

TaskGraph random_dag(const RandomDagOptions& options) {
  std::mt19937_64 rng(options.seed);
  TaskGraph graph("random-dag(seed=" + std::to_string(options.seed) +
                  ",ops=" + std::to_string(options.num_ops) + ")");
  std::uniform_int_distribution<std::uint32_t> compute(1, std::max<std::uint32_t>(1, options.max_compute));
  std::uniform_int_distribution<std::uint32_t> comm(0, options.max_comm);
  for (std::size_t i = 0; i < options.num_ops; ++i) {
    Op op;
    op.kind = "random";
    op.fixed_cost = compute(rng);
    op.comm_cost = comm(rng);
    op.flops = *op.fixed_cost;
    op.output_bytes = *op.comm_cost;
    graph.add_op(std::move(op));
  }
  std::poisson_distribution<int> fan_in(options.mean_fan_in);
  for (std::size_t v = 1; v < options.num_ops; ++v) {
    const std::size_t lo = v > options.window ? v - options.window : 0;
    std::uniform_int_distribution<std::size_t> pick(lo, v - 1);
    const int k = std::min<int>(fan_in(rng), static_cast<int>(v - lo));
    for (int j = 0; j < k; ++j) graph.add_edge(static_cast<OpId>(pick(rng)), static_cast<OpId>(v));
  }
  return graph;
}

}  // namespace doppler
