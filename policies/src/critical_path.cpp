// critical_path (the Doppler paper's teacher): list scheduling without insertion. Among ready ops
// (all predecessors placed) take the one with the largest b-level (ties: smaller op id) and put it
// on the device where it can start earliest (ties: lower device id); that device is then busy
// until the op finishes. Priority = scheduling order.
#include <limits>
#include <queue>

#include "heuristics.hpp"
#include "list_scheduling.hpp"

namespace doppler::policies {

Plan place_critical_path(const PlacementContext& context) {
  const std::size_t devices = detail::device_count(context);
  const ExecGraph& graph = context.simulator.graph();
  const sim::CostTable& costs = context.simulator.costs();
  Plan plan = detail::empty_plan(context, "critical_path");
  const std::vector<double> level = detail::estimated_bottom_levels(context.simulator);

  auto runs_later = [&level](OpId a, OpId b) { return level[a] != level[b] ? level[a] < level[b] : a > b; };
  std::priority_queue<OpId, std::vector<OpId>, decltype(runs_later)> ready(runs_later);
  detail::ReadyTracker tracker(graph);
  for (OpId op : tracker.sources()) ready.push(op);

  std::vector<double> available(devices, 0.0);
  std::vector<double> finish(graph.num_ops, 0.0);
  std::vector<OpId> order;
  order.reserve(graph.num_ops);
  while (!ready.empty()) {
    const OpId op = ready.top();
    ready.pop();
    DeviceId best = 0;
    double best_start = std::numeric_limits<double>::infinity();
    for (DeviceId device = 0; device < devices; ++device) {
      const double data = detail::data_ready_time(graph, costs, op, device, plan.device, finish);
      const double start = std::max(available[device], data);
      if (start < best_start) {
        best_start = start;
        best = device;
      }
    }
    plan.device[op] = best;
    finish[op] = best_start + costs.compute(op, best);
    available[best] = finish[op];
    order.push_back(op);
    for (OpId released : tracker.place(op)) ready.push(released);
  }
  plan.priority = detail::priority_from_order(order);
  return plan;
}

}  // namespace doppler::policies
