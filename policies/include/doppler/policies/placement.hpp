#pragma once
// Contract: placement heuristics. Each turns (graph, machine, cost model) into a Plan: a device
// per op and, for list schedulers, a priority per op (their scheduling order, lower first). All
// are deterministic given the seed. place() dispatches by name and throws an Error for an unknown
// method, listing the known ones.
#include <cstdint>
#include <string>
#include <vector>

#include "doppler/plan.hpp"
#include "doppler/sim/simulator.hpp"

namespace doppler::policies {

struct PlacementContext {
  const sim::Simulator& simulator;  // graph, exec graph, machine and cost table
  std::uint64_t seed = 1;
};

// Names: random, round_robin, critical_path, heft, etf, metis.
const std::vector<std::string>& heuristic_names();
Plan place(const std::string& method, const PlacementContext& context);

}  // namespace doppler::policies
