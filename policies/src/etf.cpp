// etf (Earliest Task First, Hwang, Chow, Anger, Lee 1989): list scheduling without insertion. At
// each step, over every (ready op, device) pair, take the pair whose start time
// max(device free, inputs on device) is earliest; ties by larger b-level, then smaller op id, then
// lower device id. Priority = scheduling order.
//
// Each device keeps two heaps of the ready ops: `waiting` (inputs arrive after the device frees,
// ordered by arrival) and `startable` (inputs already there: all start when the device frees,
// ordered by b-level). Device free times only grow, so ops move from waiting to startable once;
// placed ops are dropped lazily. A step costs O(D log n) instead of O(ready * D).
#include <limits>
#include <queue>

#include "heuristics.hpp"
#include "list_scheduling.hpp"

namespace doppler::policies {
namespace {

struct Arrival {
  double time;
  OpId op;
};

class EtfScheduler {
 public:
  EtfScheduler(const PlacementContext& context, std::size_t devices)
      : graph_(context.simulator.graph()),
        costs_(context.simulator.costs()),
        devices_(devices),
        level_(detail::estimated_bottom_levels(context.simulator)),
        placed_on_(graph_.num_ops, 0),
        finish_(graph_.num_ops, 0.0),
        placed_(graph_.num_ops, 0),
        available_(devices, 0.0),
        waiting_(devices, WaitingHeap(ArrivesLater{this})),
        startable_(devices, StartableHeap(RanksLower{this})) {}

  EtfScheduler(const EtfScheduler&) = delete;  // the heaps' comparators point back at it
  EtfScheduler& operator=(const EtfScheduler&) = delete;

  Plan run(Plan plan) {
    detail::ReadyTracker tracker(graph_);
    for (OpId op : tracker.sources()) make_ready(op);
    std::vector<OpId> order;
    order.reserve(graph_.num_ops);
    for (std::size_t step = 0; step < graph_.num_ops; ++step) {
      const Candidate chosen = best_candidate();
      placed_on_[chosen.op] = chosen.device;
      placed_[chosen.op] = 1;
      finish_[chosen.op] = chosen.start + costs_.compute(chosen.op, chosen.device);
      available_[chosen.device] = finish_[chosen.op];
      order.push_back(chosen.op);
      for (OpId released : tracker.place(chosen.op)) make_ready(released);
    }
    plan.device = placed_on_;
    plan.priority = detail::priority_from_order(order);
    return plan;
  }

 private:
  struct Candidate {
    double start;
    OpId op;
    DeviceId device;
  };
  // Orders a heap so that its top is the op to run first on one device.
  struct ArrivesLater {
    const EtfScheduler* self;
    bool operator()(const Arrival& a, const Arrival& b) const {
      if (a.time != b.time) return a.time > b.time;
      return self->ranks_lower(a.op, b.op);
    }
  };
  struct RanksLower {
    const EtfScheduler* self;
    bool operator()(OpId a, OpId b) const { return self->ranks_lower(a, b); }
  };
  using WaitingHeap = std::priority_queue<Arrival, std::vector<Arrival>, ArrivesLater>;
  using StartableHeap = std::priority_queue<OpId, std::vector<OpId>, RanksLower>;

  // True when `a` loses to `b` at an equal start time: smaller b-level, then larger id.
  bool ranks_lower(OpId a, OpId b) const { return level_[a] != level_[b] ? level_[a] < level_[b] : a > b; }

  void make_ready(OpId op) {
    for (DeviceId device = 0; device < devices_; ++device) {
      waiting_[device].push({detail::data_ready_time(graph_, costs_, op, device, placed_on_, finish_), op});
    }
  }

  // The op this device would start first, and when; op = kNoOp when it has no ready op.
  Candidate device_candidate(DeviceId device) {
    WaitingHeap& waiting = waiting_[device];
    StartableHeap& startable = startable_[device];
    while (!waiting.empty() && (placed_[waiting.top().op] || waiting.top().time <= available_[device])) {
      if (!placed_[waiting.top().op]) startable.push(waiting.top().op);
      waiting.pop();
    }
    while (!startable.empty() && placed_[startable.top()]) startable.pop();
    if (!startable.empty()) return {available_[device], startable.top(), device};
    if (!waiting.empty()) return {waiting.top().time, waiting.top().op, device};
    return {std::numeric_limits<double>::infinity(), kNoOp, device};
  }

  Candidate best_candidate() {
    Candidate best{std::numeric_limits<double>::infinity(), kNoOp, 0};
    for (DeviceId device = 0; device < devices_; ++device) {
      const Candidate candidate = device_candidate(device);
      if (candidate.op == kNoOp) continue;
      const bool better = best.op == kNoOp || candidate.start < best.start ||
                          (candidate.start == best.start && ranks_lower(best.op, candidate.op));
      if (better) best = candidate;
    }
    return best;
  }

  const ExecGraph& graph_;
  const sim::CostTable& costs_;
  std::size_t devices_;
  std::vector<double> level_;
  std::vector<DeviceId> placed_on_;
  std::vector<double> finish_;
  std::vector<std::uint8_t> placed_;
  std::vector<double> available_;
  std::vector<WaitingHeap> waiting_;
  std::vector<StartableHeap> startable_;
};

}  // namespace

Plan place_etf(const PlacementContext& context) {
  const std::size_t devices = detail::device_count(context);
  EtfScheduler scheduler(context, devices);
  return scheduler.run(detail::empty_plan(context, "etf"));
}

}  // namespace doppler::policies
