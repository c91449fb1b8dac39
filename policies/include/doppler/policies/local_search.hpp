#pragma once
// Contract: the engine of the local_search placement (an optimiser, not a heuristic): simulated
// annealing from `start` over the device of each op and the priority order, every candidate scored by
// the simulator's makespan on a private copy of `simulator`; `evaluations` (>= 1, else an Error)
// scored candidates, the start's score included (a few more runs order the result's priority).
// Deterministic for a seed. Returns the best plan seen, so never one slower
// than `start` (start itself, with its priority or none, when nothing beats it); method "local_search".
#include <cstddef>
#include <cstdint>

#include "doppler/plan.hpp"
#include "doppler/sim/simulator.hpp"

namespace doppler::policies {

// devices: only device moves (one op, an op and a neighbour, two ops swapped); the result keeps
// start's priority.
enum class SearchMoves { devices_and_order, devices };
Plan improve_plan(const sim::Simulator& simulator, const Plan& start, std::uint64_t seed,
                  std::size_t evaluations, SearchMoves moves = SearchMoves::devices_and_order);

}  // namespace doppler::policies
