// critical_path (the Doppler paper's teacher): list scheduling without insertion. Among ready ops
// (all predecessors placed) take the one with the largest b-level (ties: smaller op id) and put it
// on the device where it can start earliest (ties: lower device id); that device is then busy
// until the op finishes. Priority = scheduling order.
#include <algorithm>
#include <limits>

#include "heuristics.hpp"
#include "list_scheduling.hpp"

namespace doppler::policies {

Plan place_critical_path(const PlacementContext& context) {
  const std::size_t devices = detail::device_count(context);
  const ExecGraph& graph = context.simulator.graph();
  const sim::CostTable& costs = context.simulator.costs();
  std::vector<double> available(devices, 0.0);
  std::vector<double> finish(graph.num_ops, 0.0);
  const auto choose = [&](OpId op, std::span<const DeviceId> placed_on) {
    DeviceId best = 0;
    double best_start = std::numeric_limits<double>::infinity();
    for (DeviceId device = 0; device < devices; ++device) {
      const double data = detail::data_ready_time(graph, costs, op, device, placed_on, finish);
      const double start = std::max(available[device], data);
      if (start < best_start) {
        best_start = start;
        best = device;
      }
    }
    finish[op] = best_start + costs.compute(op, best);
    available[best] = finish[op];
    return best;
  };
  return detail::list_schedule(context, "critical_path", detail::estimated_bottom_levels(context.simulator),
                               choose);
}

}  // namespace doppler::policies
