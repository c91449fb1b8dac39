// Randomised properties of both simulator models on generated DAGs and random plans:
//  - makespan >= lower bound (critical path without communication, total work / devices);
//  - work conserving: a device never idles while an op placed on it is ready;
//  - every op runs once, after all its inputs arrived; a device never runs more than `streams` ops;
//  - deterministic: same graph and plan = identical trace.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

#include "doppler/random_dag.hpp"
#include "doppler/sim/simulator.hpp"

namespace doppler {
namespace {

struct Case {
  sim::CostModelKind model;
  int streams;
  int issue_depth = 0;  // > 0: a calibration replaying launch-ahead (sim/issue_engine.hpp)
};

Machine machine_for(std::size_t devices, const Case& c) {
  Machine m = abstract_machine(devices);
  for (auto& d : m.devices) d.streams = c.streams;
  if (c.issue_depth > 0) {
    m.calibration = Calibration{};
    m.calibration->issue_depth = c.issue_depth;
  }
  return m;
}

Plan random_plan(std::size_t ops, std::size_t devices, std::mt19937_64& rng, bool with_priority) {
  Plan p;
  std::uniform_int_distribution<DeviceId> pick(0, static_cast<DeviceId>(devices - 1));
  for (std::size_t i = 0; i < ops; ++i) p.device.push_back(pick(rng));
  if (with_priority) {
    std::uniform_int_distribution<int> prio(0, 5);
    for (std::size_t i = 0; i < ops; ++i) p.priority.push_back(prio(rng));
  }
  return p;
}

// Checks all properties on one run; returns a description of the first violation or "". Work
// conservation (no free stream while an op is ready) only when `work_conserving`: an engine that
// issues ahead may hold a stream for an op whose input is still on its way.
std::string check_run(const TaskGraph& graph, const sim::SimResult& r, const Plan& plan, int streams,
                      double lower_bound, bool work_conserving) {
  const double eps = 1e-9 * std::max(1.0, r.makespan);
  if (r.makespan + eps < lower_bound) return "makespan below lower bound";
  const std::size_t n = graph.num_ops();
  std::vector<const TraceRecord*> run(n, nullptr);
  std::map<std::pair<OpId, DeviceId>, double> arrival;
  for (const TraceRecord& rec : r.trace.records) {
    if (rec.kind == TraceRecord::Kind::compute) {
      if (run[rec.op]) return "op " + std::to_string(rec.op) + " ran twice";
      run[rec.op] = &rec;
      if (rec.device != plan.device[rec.op]) return "op ran on the wrong device";
    } else {
      arrival[{rec.op, rec.device}] = rec.end;
    }
  }
  std::vector<double> ready(n, 0.0);
  for (OpId v = 0; v < n; ++v) {
    if (!run[v]) return "op " + std::to_string(v) + " never ran";
    for (OpId u : graph.predecessors(v)) {
      if (!run[u]) return "predecessor never ran";
      const double t = plan.device[u] == plan.device[v] ? run[u]->end : arrival.at({u, plan.device[v]});
      if (plan.device[u] != plan.device[v] && t + eps < run[u]->end)
        return "transfer ended before its producer";
      ready[v] = std::max(ready[v], t);
    }
    if (run[v]->start + eps < ready[v])
      return "op " + std::to_string(v) + " started before its inputs arrived";
  }
  // Work conservation and stream capacity: sweep each device's busy intervals.
  for (DeviceId d = 0; d < r.busy.size(); ++d) {
    std::vector<std::pair<double, int>> edges;
    for (OpId v = 0; v < n; ++v)
      if (plan.device[v] == d && run[v]->end > run[v]->start) {
        edges.push_back({run[v]->start, +1});
        edges.push_back({run[v]->end, -1});
      }
    std::sort(edges.begin(), edges.end());            // ends (-1) before starts (+1) at equal times
    std::vector<std::pair<double, double>> not_full;  // intervals with a free stream
    int busy = 0;
    double last = 0;
    for (const auto& [t, delta] : edges) {
      if (t > last && busy < streams) not_full.push_back({last, t});
      busy += delta;
      if (busy > streams) return "device " + std::to_string(d) + " ran more ops than it has streams";
      last = t;
    }
    for (OpId v = 0; v < n && work_conserving; ++v) {
      if (plan.device[v] != d) continue;
      for (const auto& [a, b] : not_full) {
        const double lo = std::max(a, ready[v]), hi = std::min(b, run[v]->start);
        if (hi - lo > eps) {
          return "device " + std::to_string(d) + " had a free stream in [" + std::to_string(lo) + ", " +
                 std::to_string(hi) + ") while op " + std::to_string(v) + " was ready";
        }
      }
    }
  }
  return "";
}

class SimProperties : public ::testing::TestWithParam<Case> {};

TEST_P(SimProperties, HoldOnRandomGraphsAndPlans) {
  const Case c = GetParam();
  std::mt19937_64 rng(2024);
  for (int trial = 0; trial < 60; ++trial) {
    RandomDagOptions options;
    options.num_ops = 5 + trial * 4;
    options.mean_fan_in = 1.0 + (trial % 4);
    options.max_compute = trial % 3 == 0 ? 3 : 100;  // small costs: many ties
    options.max_comm = trial % 3 == 0 ? 2 : 60;
    options.seed = 100 + trial;
    const TaskGraph graph = random_dag(options);
    const std::size_t devices = 1 + trial % 5;
    const Machine machine = machine_for(devices, c);
    sim::Simulator simulator(graph, machine, c.model);
    const Plan plan = random_plan(graph.num_ops(), devices, rng, trial % 2 == 1);
    const sim::SimResult r = simulator.run(plan, true);
    const int streams = c.model == sim::CostModelKind::paper ? 1 : c.streams;
    const std::string violation =
        check_run(graph, r, plan, streams, simulator.lower_bound(), c.issue_depth == 0);
    ASSERT_EQ(violation, "") << graph.source() << " on " << devices << " devices, trial " << trial;
    // Same inputs, same trace, also through the allocation-free hot path.
    const sim::SimResult again = simulator.run(plan, true);
    ASSERT_EQ(again.trace.records.size(), r.trace.records.size());
    for (std::size_t i = 0; i < r.trace.records.size(); ++i) {
      const TraceRecord &a = r.trace.records[i], &b = again.trace.records[i];
      ASSERT_TRUE(a.op == b.op && a.device == b.device && a.start == b.start && a.end == b.end) << i;
    }
    ASSERT_EQ(simulator.makespan(plan.device, plan.priority), r.makespan);
  }
}

INSTANTIATE_TEST_SUITE_P(Models, SimProperties,
                         ::testing::Values(Case{sim::CostModelKind::paper, 1},
                                           Case{sim::CostModelKind::roofline, 1},
                                           Case{sim::CostModelKind::roofline, 2},
                                           Case{sim::CostModelKind::roofline, 1, 1},
                                           Case{sim::CostModelKind::roofline, 2, 4}));

TEST(SimProperties, BusyTimeEqualsTotalWorkAndUtilisationIsAFraction) {
  const TaskGraph graph = random_dag({.num_ops = 300, .seed = 5});
  sim::Simulator simulator(graph, abstract_machine(4), sim::CostModelKind::paper);
  std::mt19937_64 rng(1);
  const auto r = simulator.run(random_plan(graph.num_ops(), 4, rng, false));
  double busy = 0, work = 0;
  for (double b : r.busy) busy += b;
  for (OpId v = 0; v < graph.num_ops(); ++v) work += *graph.op(v).fixed_cost;
  EXPECT_DOUBLE_EQ(busy, work);
  for (double u : r.utilisation) {
    EXPECT_GE(u, 0);
    EXPECT_LE(u, 1);
  }
}

}  // namespace
}  // namespace doppler
