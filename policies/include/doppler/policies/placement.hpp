#pragma once
// Contract: placement methods: heuristics and one optimiser. Each turns (graph, machine, cost model)
// into a Plan: a device per op and, for list schedulers, a priority per op (their scheduling order,
// lower first). All are deterministic given the seed. place() dispatches by name and throws an Error for an
// unknown method, listing the known ones. Costs come from the simulator's CostTable, so the same code serves
// the paper model and the roofline model.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "doppler/plan.hpp"
#include "doppler/sim/simulator.hpp"

namespace doppler::policies {

inline constexpr std::size_t kDefaultSearchEvaluations = 100000;

struct PlacementContext {
  const sim::Simulator& simulator;  // graph, exec graph, machine and cost table
  std::uint64_t seed = 1;
  double comm_weight = 1.0;  // eindecomp: weight of transfer time against compute load
  std::size_t search_evaluations = kDefaultSearchEvaluations;  // local_search: simulator runs (>= 1)
};

// heuristic_names(): random, round_robin, critical_path, heft, etf, metis (the set tools compare
// by default); all_heuristic_names(): those and eindecomp (what evaluate compares a policy against
// and the best_heuristic teacher chooses from); placement_names(): those and the optimisers
// local_search and local_search_devices, every method place() accepts.
//  random         uniform device per op (mt19937_64 seeded by the seed); no priority
//  round_robin    op i -> device i mod D; no priority
//  critical_path  ready op with the largest b-level -> device where it starts earliest (Doppler's teacher)
//  heft           upward rank (mean costs) -> device with the earliest finish, insertion into idle gaps
//  etf            the (ready op, device) pair that starts earliest; ties by larger b-level
//  metis          METIS k-way partition balancing compute and cutting communication; b-level priority
//  eindecomp      ready op with the largest b-level -> device minimising its compute load after the op
//                 + comm_weight x transfer time of the op's inputs from other devices (EinDecomp's placer)
//  local_search   optimiser, not a heuristic: simulated annealing from the best of all_heuristic_names()'
//                 plans over devices and priority order, each candidate scored by the simulator's
//                 makespan, search_evaluations of them; never slower than its start (a reference of
//                 what is reachable; seconds on graphs of hundreds of ops)
//  local_search_devices  the same over devices only, from critical_path's plan, keeping its priority
//                 (a plan that a PLC-only policy, SEL = critical path, can follow)
const std::vector<std::string>& heuristic_names();
const std::vector<std::string>& all_heuristic_names();
const std::vector<std::string>& placement_names();
Plan place(const std::string& method, const PlacementContext& context);

// False when doppler was built without METIS; place("metis", ...) then throws an Error.
bool metis_available();

}  // namespace doppler::policies
