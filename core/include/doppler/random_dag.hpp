#pragma once
// Contract: seeded random DAG generator for property tests and benchmarks. Same options = same
// graph. Costs are integers (exact in double), so simulated makespans are exact too.
#include <cstdint>

#include "doppler/task_graph.hpp"

namespace doppler {

struct RandomDagOptions {
  std::size_t num_ops = 100;
  double mean_fan_in = 2.0;  // average distinct predecessors of a non-source op
  std::size_t window = 32;   // predecessors are drawn from the previous `window` ops (locality)
  std::uint32_t max_compute = 100;
  std::uint32_t max_comm = 50;
  std::uint64_t seed = 1;
};

TaskGraph random_dag(const RandomDagOptions& options);

}  // namespace doppler
