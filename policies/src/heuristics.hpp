#pragma once
// Contract: one entry point per placement method (one source file each; local_search and
// local_search_devices are the optimisers, the others heuristics); place() dispatches to them by name. Each
// returns a Plan for context.simulator's graph with `method` set to its name.
#include "doppler/policies/placement.hpp"

namespace doppler::policies {

Plan place_random(const PlacementContext& context);
Plan place_round_robin(const PlacementContext& context);
Plan place_critical_path(const PlacementContext& context);
Plan place_heft(const PlacementContext& context);
Plan place_etf(const PlacementContext& context);
Plan place_metis(const PlacementContext& context);
Plan place_eindecomp(const PlacementContext& context);
Plan place_local_search(const PlacementContext& context);
Plan place_local_search_devices(const PlacementContext& context);

}  // namespace doppler::policies
