// eindecomp (the EinDecomp paper's kernel placement, arXiv 2410.02682): ops are taken in list
// order, the ready op with the largest b-level first (ties: smaller op id), as critical_path does,
// so independent chains interleave instead of one chain filling the devices first. Each op goes
// to the device d minimising
//     load[d] + compute(op, d) + comm_weight * sum of transfer(p, device(p), d)
// over the op's predecessors p placed on another device, where load[d] is the compute already
// placed on d (no timing: idle gaps and arrival times are ignored). Ties: lower device id.
// Priority = placement order.
#include <limits>

#include "heuristics.hpp"
#include "list_scheduling.hpp"

namespace doppler::policies {

Plan place_eindecomp(const PlacementContext& context) {
  const std::size_t devices = detail::device_count(context);
  const ExecGraph& graph = context.simulator.graph();
  const sim::CostTable& costs = context.simulator.costs();
  std::vector<double> load(devices, 0.0);
  const auto choose = [&](OpId op, std::span<const DeviceId> placed_on) {
    DeviceId best = 0;
    double best_cost = std::numeric_limits<double>::infinity();
    for (DeviceId device = 0; device < devices; ++device) {
      double moved = 0;
      for (OpId pred : graph.predecessors(op)) {
        const DeviceId src = placed_on[pred];
        if (src != device) moved += costs.transfer(pred, src, device);
      }
      const double cost = load[device] + costs.compute(op, device) + context.comm_weight * moved;
      if (cost < best_cost) {
        best_cost = cost;
        best = device;
      }
    }
    load[best] += costs.compute(op, best);
    return best;
  };
  return detail::list_schedule(context, "eindecomp", detail::estimated_bottom_levels(context.simulator),
                               choose);
}

}  // namespace doppler::policies
