#pragma once
// Contract: pieces shared by the list-scheduling heuristics: a plan skeleton, the critical-path
// priority (b-level under the cost table's device-independent estimates), the time at which all
// of an op's inputs are on a device, ready-set tracking, and priorities from a scheduling order.
#include <cstddef>
#include <cstdint>
#include <queue>
#include <span>
#include <vector>

#include "doppler/policies/placement.hpp"

namespace doppler::policies::detail {

// Number of devices of the context's machine; throws an Error when it has none.
std::size_t device_count(const PlacementContext& context);

// A plan for the context's graph: every op on device 0, no priority, `method` and fingerprint set.
Plan empty_plan(const PlacementContext& context, const char* method);

// b-level with compute_estimate() and comm_estimate() of the simulator's cost table.
std::vector<double> estimated_bottom_levels(const sim::Simulator& simulator);

// Earliest time every input of `op` is on `device`: the max over predecessors p of finish[p], plus
// the transfer of p's output when p sits on another device. Every predecessor must be placed.
double data_ready_time(const ExecGraph& graph, const sim::CostTable& costs, OpId op, DeviceId device,
                       std::span<const DeviceId> placed_on, std::span<const double> finish);

// priority[op] = position of op in `order` (0 runs first). `order` lists every op once.
std::vector<double> priority_from_order(std::span<const OpId> order);

// Ops whose predecessors are all placed. sources() lists the initially ready ops by id;
// place(op) returns the successors of `op` that it made ready, in successor order.
class ReadyTracker {
 public:
  explicit ReadyTracker(const ExecGraph& graph);
  std::span<const OpId> sources() const { return sources_; }
  std::span<const OpId> place(OpId op);

 private:
  const ExecGraph& graph_;
  std::vector<std::uint32_t> unplaced_preds_;
  std::vector<OpId> sources_;
  std::vector<OpId> released_;
};

// The list-scheduling loop of critical_path, heft and eindecomp: ready ops (predecessors all
// placed) are taken by decreasing `rank` (ties: smaller op id); `choose(op, placed_on)` returns the
// op's device and updates the caller's schedule state; placed_on[p] holds every placed p's device.
// Returns the plan with priority = scheduling order.
template <typename Choose>
Plan list_schedule(const PlacementContext& context, const char* method, const std::vector<double>& rank,
                   Choose&& choose) {
  const ExecGraph& graph = context.simulator.graph();
  Plan plan = empty_plan(context, method);
  auto runs_later = [&rank](OpId a, OpId b) { return rank[a] != rank[b] ? rank[a] < rank[b] : a > b; };
  std::priority_queue<OpId, std::vector<OpId>, decltype(runs_later)> ready(runs_later);
  ReadyTracker tracker(graph);
  for (OpId op : tracker.sources()) ready.push(op);
  std::vector<OpId> order;
  order.reserve(graph.num_ops);
  while (!ready.empty()) {
    const OpId op = ready.top();
    ready.pop();
    plan.device[op] = choose(op, std::span<const DeviceId>(plan.device));
    order.push_back(op);
    for (OpId released : tracker.place(op)) ready.push(released);
  }
  plan.priority = priority_from_order(order);
  return plan;
}

}  // namespace doppler::policies::detail
