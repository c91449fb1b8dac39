// local_search: an optimiser, not a heuristic (a reference of what plans the simulator allows).
// place("local_search") starts from the plan of smallest simulated makespan among
// all_heuristic_names() (ties: the first); improve_plan() runs simulated annealing over (device per
// op, priority order) from a given plan. Moves: one op to another device; an op and one of its
// neighbours to another device; the devices of two ops swapped; an op past one of the nearest ops of
// its device in the priority order (their relative order swapped). A candidate worse by a fraction x
// of the current makespan is accepted with probability exp(-x / T), T falling geometrically from 1e-2
// to 1e-4 over the budget; after a stretch without a new best the search returns to the best.
// local_search_devices: device moves only, from critical_path's plan, whose priority it keeps.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <queue>
#include <random>

#include "doppler/error.hpp"
#include "doppler/policies/local_search.hpp"
#include "heuristics.hpp"
#include "list_scheduling.hpp"

namespace doppler::policies {
namespace {

constexpr double kStartTemperature = 1e-2;
constexpr double kEndTemperature = 1e-4;
constexpr std::size_t kNearbyOps = 8;  // candidates on each side for an order move

// The ops in the order the simulated run of `plan` started them: by start time, then end time, then
// position in the graph's topological order; a topological order itself (an op starts no earlier
// than its inputs end, and only zero-time ops end when they start).
std::vector<OpId> run_order(const Plan& plan, sim::Simulator& simulator) {
  const ExecGraph& graph = simulator.graph();
  std::vector<std::size_t> topo_position(graph.num_ops);
  for (std::size_t i = 0; i < graph.topo.size(); ++i) topo_position[graph.topo[i]] = i;
  std::vector<std::pair<double, double>> time(graph.num_ops);
  for (const TraceRecord& record : simulator.run(plan, true).trace.records)
    if (record.kind == TraceRecord::Kind::compute) time[record.op] = {record.start, record.end};
  std::vector<OpId> order(graph.topo.begin(), graph.topo.end());
  std::stable_sort(order.begin(), order.end(), [&](OpId a, OpId b) {
    if (time[a] != time[b]) return time[a] < time[b];
    return topo_position[a] < topo_position[b];
  });
  return order;
}

// `priority`'s order made topological: repeatedly the ready op of smallest priority (what a plan
// teacher's SEL labels follow).
std::vector<OpId> topological_order(const ExecGraph& graph, const std::vector<double>& priority) {
  const auto later = [&priority](OpId a, OpId b) {
    return priority[a] != priority[b] ? priority[a] > priority[b] : a > b;
  };
  std::priority_queue<OpId, std::vector<OpId>, decltype(later)> ready(later);
  std::vector<std::uint32_t> missing(graph.num_ops);
  for (OpId op = 0; op < graph.num_ops; ++op)
    if ((missing[op] = graph.in_degree(op)) == 0) ready.push(op);
  std::vector<OpId> order;
  while (!ready.empty()) {
    const OpId op = ready.top();
    ready.pop();
    order.push_back(op);
    for (OpId next : graph.successors(op))
      if (--missing[next] == 0) ready.push(next);
  }
  return order;
}

// The start's priority order: by priority (ties by id), or for a plan without one its run order.
std::vector<OpId> order_of(const Plan& plan, sim::Simulator& simulator) {
  if (!plan.has_priority()) return run_order(plan, simulator);
  std::vector<OpId> order(plan.device.size());
  std::iota(order.begin(), order.end(), OpId{0});
  std::stable_sort(order.begin(), order.end(),
                   [&plan](OpId a, OpId b) { return plan.priority[a] < plan.priority[b]; });
  return order;
}

class Annealer {
 public:
  Annealer(sim::Simulator& simulator, const Plan& start, std::uint64_t seed, bool reorder)
      : simulator_(simulator),
        reorder_(reorder),
        graph_(simulator.graph()),
        devices_(simulator.machine().num_devices()),
        device_(start.device),
        order_(order_of(start, simulator)),
        position_(order_.size()),
        priority_(order_.size()),
        generator_(seed) {
    for (std::size_t i = 0; i < order_.size(); ++i) set_position(i);
  }

  // Runs `budget` evaluations (the first scores the start); keeps the best (device, order) seen.
  void run(std::size_t budget) {
    current_ = evaluate();
    keep_best();
    const std::size_t patience = std::max<std::size_t>(500, budget / 20);
    std::size_t since_best = 0;
    for (std::size_t step = 1; step < budget; ++step) {
      if (since_best >= patience) {
        restore_best();
        since_best = 0;
      }
      const double temperature =
          kStartTemperature * std::pow(kEndTemperature / kStartTemperature,
                                       static_cast<double>(step) / static_cast<double>(budget));
      propose();
      const double candidate = evaluate();
      const double worse = (candidate - current_) / current_;
      if (worse <= 0 || uniform_(generator_) < std::exp(-worse / temperature)) {
        current_ = candidate;
      } else {
        undo();
      }
      ++since_best;
      if (current_ < best_makespan_) {
        keep_best();
        since_best = 0;
      }
    }
  }

  double best_makespan() const { return best_makespan_; }
  const std::vector<DeviceId>& best_device() const { return best_device_; }
  // The best order as priorities (an op's position in it).
  std::vector<double> best_priority() const {
    std::vector<double> priority(best_order_.size());
    for (std::size_t i = 0; i < best_order_.size(); ++i) priority[best_order_[i]] = static_cast<double>(i);
    return priority;
  }

 private:
  double evaluate() { return simulator_.makespan(device_, priority_); }

  void set_position(std::size_t i) {
    position_[order_[i]] = i;
    priority_[order_[i]] = static_cast<double>(i);
  }

  void keep_best() {
    best_makespan_ = current_;
    best_device_ = device_;
    best_order_ = order_;
  }

  void restore_best() {
    current_ = best_makespan_;
    device_ = best_device_;
    order_ = best_order_;
    for (std::size_t i = 0; i < order_.size(); ++i) set_position(i);
  }

  OpId random_op() { return std::uniform_int_distribution<OpId>(0, graph_.num_ops - 1)(generator_); }

  DeviceId other_device(DeviceId device) {
    const auto draw = std::uniform_int_distribution<std::size_t>(0, devices_ - 2)(generator_);
    return static_cast<DeviceId>(draw >= device ? draw + 1 : draw);
  }

  void propose() {
    moved_devices_.clear();
    rotated_ = false;
    const double kind = uniform_(generator_);
    const OpId op = random_op();
    if (devices_ > 1 && kind < 0.1) {  // swap the devices of two ops
      const OpId other = random_op();
      const DeviceId target = device_[other];
      move_to(other, device_[op]);
      move_to(op, target);
      if (!moved_devices_.empty()) return;
    }
    if (devices_ > 1 && kind < 0.5) {
      const DeviceId target = other_device(device_[op]);
      move_to(op, target);
      const auto preds = graph_.predecessors(op), succs = graph_.successors(op);
      const std::size_t neighbours = preds.size() + succs.size();
      if (kind < 0.2 && neighbours > 0) {
        const auto k = std::uniform_int_distribution<std::size_t>(0, neighbours - 1)(generator_);
        move_to(k < preds.size() ? preds[k] : succs[k - preds.size()], target);
      }
      return;
    }
    if ((!reorder_ || !reorder(op)) && devices_ > 1) move_to(op, other_device(device_[op]));
  }

  void move_to(OpId op, DeviceId device) {
    if (device_[op] == device) return;
    moved_devices_.push_back({op, device_[op]});
    device_[op] = device;
  }

  // Moves `op` just past one of the nearest ops of its device in the order; false when it has none.
  bool reorder(OpId op) {
    nearby_.clear();
    const std::size_t at = position_[op];
    for (std::size_t i = at, found = 0; i > 0 && found < kNearbyOps; --i)
      if (device_[order_[i - 1]] == device_[op]) nearby_.push_back(i - 1), ++found;
    for (std::size_t i = at + 1, found = 0; i < order_.size() && found < kNearbyOps; ++i)
      if (device_[order_[i]] == device_[op]) nearby_.push_back(i), ++found;
    if (nearby_.empty()) return false;
    const std::size_t to =
        nearby_[std::uniform_int_distribution<std::size_t>(0, nearby_.size() - 1)(generator_)];
    rotate(at, to);
    rotated_ = true;
    rotated_from_ = at;
    rotated_to_ = to;
    return true;
  }

  // The op at position `from` goes to position `to`; the ones between shift by one towards `from`.
  void rotate(std::size_t from, std::size_t to) {
    if (from < to) {
      std::rotate(order_.begin() + static_cast<std::ptrdiff_t>(from),
                  order_.begin() + static_cast<std::ptrdiff_t>(from) + 1,
                  order_.begin() + static_cast<std::ptrdiff_t>(to) + 1);
    } else {
      std::rotate(order_.begin() + static_cast<std::ptrdiff_t>(to),
                  order_.begin() + static_cast<std::ptrdiff_t>(from),
                  order_.begin() + static_cast<std::ptrdiff_t>(from) + 1);
    }
    for (std::size_t i = std::min(from, to); i <= std::max(from, to); ++i) set_position(i);
  }

  void undo() {
    if (rotated_) rotate(rotated_to_, rotated_from_);
    for (auto it = moved_devices_.rbegin(); it != moved_devices_.rend(); ++it)
      device_[it->first] = it->second;
  }

  sim::Simulator& simulator_;
  bool reorder_;  // order moves too, not only device moves
  const ExecGraph& graph_;
  std::size_t devices_;
  std::vector<DeviceId> device_;
  std::vector<OpId> order_;            // ops by priority, first first
  std::vector<std::size_t> position_;  // op -> index in order_
  std::vector<double> priority_;       // op -> position, as the simulator takes it
  std::mt19937_64 generator_;
  std::uniform_real_distribution<double> uniform_{0.0, 1.0};
  double current_ = 0;
  double best_makespan_ = 0;
  std::vector<DeviceId> best_device_;
  std::vector<OpId> best_order_;
  // The last proposal, for undo().
  std::vector<std::pair<OpId, DeviceId>> moved_devices_;
  bool rotated_ = false;
  std::size_t rotated_from_ = 0, rotated_to_ = 0;
  std::vector<std::size_t> nearby_;
};

}  // namespace

Plan improve_plan(const sim::Simulator& simulator, const Plan& start, std::uint64_t seed,
                  std::size_t evaluations, SearchMoves moves) {
  if (evaluations == 0) throw Error("local_search: the evaluation budget must be at least 1");
  validate_plan(start, simulator.task_graph(), simulator.machine().num_devices());
  sim::Simulator copy(simulator.task_graph(), simulator.machine(), simulator.model());
  Plan plan = start;
  plan.method = "local_search";
  if (plan.device.size() < 2) return plan;
  const double start_makespan = copy.makespan(start.device, start.priority);
  const bool reorder = moves == SearchMoves::devices_and_order;
  Annealer annealer(copy, start, seed, reorder);
  annealer.run(evaluations);
  if (annealer.best_makespan() < start_makespan) {
    plan.device = annealer.best_device();
    if (!reorder) return plan;  // the start's priority
    plan.priority = annealer.best_priority();
    // Prefer a topological priority (one a policy's SEL order, and a plan teacher's, can follow) when
    // it is no slower: the best plan's run order, else its order made topological.
    for (const std::vector<OpId>& order :
         {run_order(plan, copy), topological_order(copy.graph(), annealer.best_priority())}) {
      std::vector<double> priority = detail::priority_from_order(order);
      if (copy.makespan(plan.device, priority) <= annealer.best_makespan()) {
        plan.priority = std::move(priority);
        break;
      }
    }
  }
  return plan;
}

Plan place_local_search(const PlacementContext& context) {
  if (context.search_evaluations == 0) throw Error("local_search: the evaluation budget must be at least 1");
  Plan start;
  double best = std::numeric_limits<double>::infinity();
  sim::Simulator simulator(context.simulator.task_graph(), context.simulator.machine(),
                           context.simulator.model());
  for (const std::string& method : all_heuristic_names()) {
    if (method == "metis" && !metis_available()) continue;
    Plan plan = place(method, context);
    const double makespan = simulator.makespan(plan.device, plan.priority);
    if (makespan < best) best = makespan, start = std::move(plan);
  }
  return improve_plan(context.simulator, start, context.seed, context.search_evaluations);
}

Plan place_local_search_devices(const PlacementContext& context) {
  if (context.search_evaluations == 0) throw Error("local_search: the evaluation budget must be at least 1");
  Plan plan = improve_plan(context.simulator, place("critical_path", context), context.seed,
                           context.search_evaluations, SearchMoves::devices);
  plan.method = "local_search_devices";
  return plan;
}

}  // namespace doppler::policies
