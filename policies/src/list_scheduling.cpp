#include "list_scheduling.hpp"

#include <algorithm>

#include "doppler/error.hpp"
#include "doppler/graph_analysis.hpp"

namespace doppler::policies::detail {

std::size_t device_count(const PlacementContext& context) {
  const std::size_t devices = context.simulator.machine().num_devices();
  if (devices == 0)
    throw Error("machine '" + context.simulator.machine().name + "' has no devices to place ops on");
  return devices;
}

Plan empty_plan(const PlacementContext& context, const char* method) {
  Plan plan;
  plan.device.assign(context.simulator.graph().num_ops, 0);
  plan.method = method;
  plan.graph_fingerprint = context.simulator.task_graph().fingerprint();
  return plan;
}

std::vector<double> estimated_bottom_levels(const sim::Simulator& simulator) {
  const sim::CostTable& costs = simulator.costs();
  return bottom_levels(simulator.graph(), costs.compute_estimate(), costs.comm_estimate());
}

double data_ready_time(const ExecGraph& graph, const sim::CostTable& costs, OpId op, DeviceId device,
                       std::span<const DeviceId> placed_on, std::span<const double> finish) {
  double ready = 0;
  for (OpId pred : graph.predecessors(op)) {
    const DeviceId src = placed_on[pred];
    const double arrival = finish[pred] + (src == device ? 0.0 : costs.transfer(pred, src, device));
    ready = std::max(ready, arrival);
  }
  return ready;
}

std::vector<double> priority_from_order(std::span<const OpId> order) {
  std::vector<double> priority(order.size(), 0.0);
  for (std::size_t position = 0; position < order.size(); ++position)
    priority[order[position]] = static_cast<double>(position);
  return priority;
}

ReadyTracker::ReadyTracker(const ExecGraph& graph) : graph_(graph), unplaced_preds_(graph.num_ops) {
  for (OpId v = 0; v < graph.num_ops; ++v) {
    unplaced_preds_[v] = graph.in_degree(v);
    if (unplaced_preds_[v] == 0) sources_.push_back(v);
  }
}

std::span<const OpId> ReadyTracker::place(OpId op) {
  released_.clear();
  for (OpId succ : graph_.successors(op))
    if (--unplaced_preds_[succ] == 0) released_.push_back(succ);
  return released_;
}

}  // namespace doppler::policies::detail
