#include "doppler/policies/placement_env.hpp"

#include <algorithm>
#include <limits>
#include <string>

#include "doppler/error.hpp"
#include "doppler/graph_analysis.hpp"
#include "list_scheduling.hpp"

namespace doppler::policies {

OpFeatures op_features(const sim::Simulator& simulator) {
  const ExecGraph& g = simulator.graph();
  const sim::CostTable& costs = simulator.costs();
  const std::vector<double>& compute = costs.compute_estimate();
  const std::vector<double>& comm = costs.comm_estimate();
  const std::vector<double> b = bottom_levels(g, compute, comm);
  const std::vector<double> t = top_levels(g, compute, comm);
  OpFeatures features;
  features.rows.resize(g.num_ops);
  features.next_on_exit_path.assign(g.num_ops, kNoOp);
  features.previous_on_entry_path.assign(g.num_ops, kNoOp);
  for (OpId op = 0; op < g.num_ops; ++op) {
    double in = 0, entry = -1;
    for (const OpId p : g.predecessors(op)) {
      in += comm[p];
      const double through = t[p] + compute[p] + comm[p];
      if (through > entry || (through == entry && p < features.previous_on_entry_path[op])) {
        entry = through;
        features.previous_on_entry_path[op] = p;
      }
    }
    double exit = -1;
    for (const OpId s : g.successors(op)) {
      if (b[s] > exit || (b[s] == exit && s < features.next_on_exit_path[op])) {
        exit = b[s];
        features.next_on_exit_path[op] = s;
      }
    }
    const double out = comm[op] * static_cast<double>(g.successors(op).size());
    features.rows[op] = {compute[op], b[op], t[op], in, out};
  }
  return features;
}

PlacementEnv::PlacementEnv(const sim::Simulator& simulator)
    : simulator_(simulator), b_level_(detail::estimated_bottom_levels(simulator)) {
  if (simulator.machine().num_devices() == 0)
    throw Error("placement environment: the machine has no devices");
  reset();
}

void PlacementEnv::reset() {
  const ExecGraph& g = simulator_.graph();
  const std::size_t devices = simulator_.machine().num_devices();
  unplaced_preds_.resize(g.num_ops);
  legal_.clear();
  for (OpId op = 0; op < g.num_ops; ++op) {
    unplaced_preds_[op] = g.in_degree(op);
    if (unplaced_preds_[op] == 0) legal_.push_back(op);
  }
  device_.assign(g.num_ops, kUnplaced);
  finish_.assign(g.num_ops, 0.0);
  available_.assign(devices, 0.0);
  placed_compute_.assign(devices, 0.0);
  order_.clear();
  order_.reserve(g.num_ops);
  placed_count_ = 0;
}

double PlacementEnv::earliest_start(OpId op, DeviceId device) const {
  const double data =
      detail::data_ready_time(simulator_.graph(), simulator_.costs(), op, device, device_, finish_);
  return std::max(available_[device], data);
}

void PlacementEnv::step(OpId op, DeviceId device) {
  const auto at = std::find(legal_.begin(), legal_.end(), op);
  if (op >= num_ops() || at == legal_.end()) {
    const std::string name = op < num_ops() ? simulator_.task_graph().op(op).name : std::to_string(op);
    throw Error("placement step: op '" + name + "' is not legal (" +
                (op < num_ops() && is_placed(op) ? "already placed" : "an input is unplaced or no such op") +
                ")");
  }
  if (device >= num_devices()) {
    throw Error("placement step: device " + std::to_string(device) + " is out of range (" +
                std::to_string(num_devices()) + " devices)");
  }
  const double start = earliest_start(op, device);
  const double compute = simulator_.costs().compute(op, device);
  device_[op] = device;
  finish_[op] = start + compute;
  available_[device] = finish_[op];
  placed_compute_[device] += compute;
  order_.push_back(op);
  ++placed_count_;
  legal_.erase(at);
  for (const OpId next : simulator_.graph().successors(op)) {
    if (--unplaced_preds_[next] == 0) legal_.push_back(next);
  }
}

void PlacementEnv::device_features(OpId op, std::span<DeviceFeatureRow> out) const {
  const sim::CostTable& costs = simulator_.costs();
  for (DeviceId d = 0; d < num_devices(); ++d) {
    double inputs_compute = 0, first_end = std::numeric_limits<double>::infinity(), last_end = 0;
    bool any = false;
    for (const OpId p : simulator_.graph().predecessors(op)) {
      if (device_[p] != d) continue;
      any = true;
      inputs_compute += costs.compute(p, d);
      first_end = std::min(first_end, finish_[p]);
      last_end = std::max(last_end, finish_[p]);
    }
    if (!any) first_end = 0;
    out[d] = {placed_compute_[d], inputs_compute, first_end, last_end, earliest_start(op, d)};
  }
}

double PlacementEnv::estimated_makespan() const {
  return available_.empty() ? 0.0 : *std::max_element(available_.begin(), available_.end());
}

std::vector<OpId> PlacementEnv::teacher_ops() const {
  std::vector<OpId> best;
  double level = -std::numeric_limits<double>::infinity();
  for (const OpId op : legal_) {
    if (b_level_[op] > level) {
      level = b_level_[op];
      best.assign(1, op);
    } else if (b_level_[op] == level) {
      best.push_back(op);
    }
  }
  std::sort(best.begin(), best.end());
  return best;
}

std::vector<DeviceId> PlacementEnv::teacher_devices(OpId op) const {
  std::vector<DeviceId> best;
  double earliest = std::numeric_limits<double>::infinity();
  for (DeviceId d = 0; d < num_devices(); ++d) {
    const double start = earliest_start(op, d);
    if (start < earliest) {
      earliest = start;
      best.assign(1, d);
    } else if (start == earliest) {
      best.push_back(d);
    }
  }
  return best;
}

Plan PlacementEnv::plan() const {
  if (!done()) {
    throw Error("placement environment: plan() before every op is placed (" + std::to_string(placed_count_) +
                " of " + std::to_string(num_ops()) + ")");
  }
  Plan plan;
  plan.device = device_;
  plan.priority = detail::priority_from_order(order_);
  plan.graph_fingerprint = simulator_.task_graph().fingerprint();
  return plan;
}

}  // namespace doppler::policies
