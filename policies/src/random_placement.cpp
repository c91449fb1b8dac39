// random: every op on a uniformly drawn device (std::mt19937_64 seeded by the context's seed).
#include <random>

#include "heuristics.hpp"
#include "list_scheduling.hpp"

namespace doppler::policies {

Plan place_random(const PlacementContext& context) {
  const std::size_t devices = detail::device_count(context);
  Plan plan = detail::empty_plan(context, "random");
  std::mt19937_64 generator(context.seed);
  std::uniform_int_distribution<DeviceId> draw(0, static_cast<DeviceId>(devices - 1));
  for (DeviceId& device : plan.device) device = draw(generator);
  return plan;
}

}  // namespace doppler::policies
