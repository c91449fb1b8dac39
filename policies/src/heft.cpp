// heft (Topcuoglu, Hariri, Wu 2002): upward rank = b-level under the mean compute over devices and
// the mean transfer over ordered device pairs. Ops are taken by decreasing rank (ties: smaller op
// id; a ready set keeps precedence even when zero costs tie ranks) and each goes to the device
// with the earliest finish time, filling idle gaps (insertion). Priority = scheduling order.
#include <limits>

#include "doppler/graph_analysis.hpp"
#include "doppler/policies/device_timeline.hpp"
#include "heuristics.hpp"
#include "list_scheduling.hpp"

namespace doppler::policies {
namespace {

std::vector<double> upward_ranks(const ExecGraph& graph, const sim::CostTable& costs, std::size_t devices) {
  std::vector<double> mean_compute(graph.num_ops, 0.0);
  std::vector<double> mean_transfer(graph.num_ops, 0.0);
  const double pairs = static_cast<double>(devices * (devices - 1));
  for (OpId op = 0; op < graph.num_ops; ++op) {
    double compute = 0;
    double transfer = 0;
    for (DeviceId src = 0; src < devices; ++src) {
      compute += costs.compute(op, src);
      for (DeviceId dst = 0; dst < devices; ++dst)
        if (src != dst) transfer += costs.transfer(op, src, dst);
    }
    mean_compute[op] = compute / static_cast<double>(devices);
    mean_transfer[op] = devices > 1 ? transfer / pairs : 0.0;
  }
  return bottom_levels(graph, mean_compute, mean_transfer);
}

}  // namespace

Plan place_heft(const PlacementContext& context) {
  const std::size_t devices = detail::device_count(context);
  const ExecGraph& graph = context.simulator.graph();
  const sim::CostTable& costs = context.simulator.costs();
  std::vector<DeviceTimeline> timeline(devices);
  std::vector<double> finish(graph.num_ops, 0.0);
  const auto choose = [&](OpId op, std::span<const DeviceId> placed_on) {
    DeviceId best = 0;
    double best_start = 0;
    double best_finish = std::numeric_limits<double>::infinity();
    for (DeviceId device = 0; device < devices; ++device) {
      const double duration = costs.compute(op, device);
      const double data = detail::data_ready_time(graph, costs, op, device, placed_on, finish);
      const double start = timeline[device].earliest_start(data, duration);
      if (start + duration < best_finish) {
        best_finish = start + duration;
        best_start = start;
        best = device;
      }
    }
    finish[op] = best_finish;
    timeline[best].reserve(best_start, costs.compute(op, best));
    return best;
  };
  return detail::list_schedule(context, "heft", upward_ranks(graph, costs, devices), choose);
}

}  // namespace doppler::policies
