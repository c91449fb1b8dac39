// round_robin: op i on device i mod D, as line 2 of the Doppler paper's reference files.
#include "heuristics.hpp"
#include "list_scheduling.hpp"

namespace doppler::policies {

Plan place_round_robin(const PlacementContext& context) {
  const std::size_t devices = detail::device_count(context);
  Plan plan = detail::empty_plan(context, "round_robin");
  for (std::size_t op = 0; op < plan.device.size(); ++op)
    plan.device[op] = static_cast<DeviceId>(op % devices);
  return plan;
}

}  // namespace doppler::policies
