// The local_search optimiser: never slower than its start (a given plan, or the best heuristic's),
// deterministic for a seed and different for another, fixes a hand-made bad start, reorders ops
// where only the priority helps; local_search_devices moves devices only; both are placement methods
// but no heuristics; a zero budget is refused.
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "doppler/error.hpp"
#include "doppler/paper_graph_format.hpp"
#include "doppler/policies/local_search.hpp"
#include "doppler/policies/placement.hpp"
#include "doppler/random_dag.hpp"

namespace doppler::policies {
namespace {

const std::string kPaperDir = std::string(DOPPLER_SOURCE_DIR) + "/configs/workloads/doppler-paper/";

// A graph of ops with the given compute and comm costs and edges, as the paper format's import
// makes them (fixed costs for the paper model, flops and output bytes for the roofline model).
TaskGraph make_graph(const std::vector<double>& compute, const std::vector<double>& comm,
                     const std::vector<std::pair<OpId, OpId>>& edges) {
  TaskGraph graph("hand-made");
  for (std::size_t i = 0; i < compute.size(); ++i) {
    Op op;
    op.fixed_cost = compute[i];
    op.comm_cost = comm[i];
    op.flops = compute[i];
    op.output_bytes = comm[i];
    graph.add_op(std::move(op));
  }
  for (const auto& [src, dst] : edges) graph.add_edge(src, dst);
  return graph;
}

double makespan_of(sim::Simulator& simulator, const Plan& plan) {
  return simulator.makespan(plan.device, plan.priority);
}

double best_heuristic_makespan(sim::Simulator& simulator) {
  double best = std::numeric_limits<double>::infinity();
  for (const std::string& method : all_heuristic_names()) {
    if (method == "metis" && !metis_available()) continue;
    best = std::min(best, makespan_of(simulator, place(method, {simulator, 1})));
  }
  return best;
}

TEST(LocalSearch, NeverSlowerThanTheBestHeuristicOnPaperGraphs) {
  for (const std::string name : {"chain_mm_112nodes", "ffnn_192nodes", "full_transformer_layer_261nodes"}) {
    const TaskGraph graph = read_paper_graph(kPaperDir + name + ".txt");
    sim::Simulator simulator(graph, abstract_machine(4), sim::CostModelKind::paper);
    PlacementContext context{simulator, 1};
    context.search_evaluations = 2000;
    const Plan plan = place("local_search", context);
    EXPECT_NO_THROW(validate_plan(plan, graph, 4));
    EXPECT_EQ(plan.method, "local_search");
    EXPECT_LE(makespan_of(simulator, plan), best_heuristic_makespan(simulator)) << name;
    EXPECT_GE(makespan_of(simulator, plan), simulator.lower_bound()) << name;
  }
}

TEST(LocalSearch, NeverSlowerThanAGivenStartOnRandomGraphs) {
  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
    const TaskGraph graph = random_dag({.num_ops = 40, .seed = seed});
    sim::Simulator simulator(graph, abstract_machine(2), sim::CostModelKind::roofline);
    for (const std::string method : {"random", "critical_path", "round_robin"}) {
      const Plan start = place(method, {simulator, seed});
      const Plan plan = improve_plan(simulator, start, seed, 300);
      EXPECT_LE(makespan_of(simulator, plan), makespan_of(simulator, start)) << seed << " " << method;
    }
  }
}

TEST(LocalSearch, DeterministicForASeed) {
  const TaskGraph graph = random_dag({.num_ops = 60, .seed = 7});
  sim::Simulator simulator(graph, abstract_machine(3), sim::CostModelKind::paper);
  const Plan start = place("random", {simulator, 1});
  const Plan a = improve_plan(simulator, start, 11, 1000);
  const Plan b = improve_plan(simulator, start, 11, 1000);
  EXPECT_EQ(a.device, b.device);
  EXPECT_EQ(a.priority, b.priority);
  const Plan c = improve_plan(simulator, start, 12, 1000);
  EXPECT_TRUE(a.device != c.device || a.priority != c.priority);  // the seed drives the search
  PlacementContext context{simulator, 5};
  context.search_evaluations = 500;
  const Plan p = place("local_search", context), q = place("local_search", context);
  EXPECT_EQ(p.device, q.device);
  EXPECT_EQ(p.priority, q.priority);
}

TEST(LocalSearch, SpreadsIndependentOpsPiledOnOneDevice) {
  // Four independent ops of 5 time units, all on device 0 of 2: 20; two per device: 10.
  const TaskGraph graph = make_graph({5, 5, 5, 5}, {1, 1, 1, 1}, {});
  sim::Simulator simulator(graph, abstract_machine(2), sim::CostModelKind::paper);
  Plan start;
  start.device = {0, 0, 0, 0};
  ASSERT_EQ(makespan_of(simulator, start), 20);
  const Plan plan = improve_plan(simulator, start, 1, 200);
  EXPECT_EQ(makespan_of(simulator, plan), 10);
  EXPECT_EQ(std::count(plan.device.begin(), plan.device.end(), 0), 2);
}

TEST(LocalSearch, RunsTheOpThatFeedsTheOtherDeviceFirst) {
  // s (1) -> a (10), s -> b (1) -> c (10); s, a, b on device 0 and c on device 1. Running a before b
  // ends at 22; b first lets c overlap a: 12, the critical path. Moving a or b off device 0 costs s's
  // transfer (100), so only the order can reach 12. (Roofline model: the paper model starts the first
  // op released at once, so there the order of a and b never matters.)
  const TaskGraph graph = make_graph({1, 10, 1, 10}, {100, 0, 0, 0}, {{0, 1}, {0, 2}, {2, 3}});
  sim::Simulator simulator(graph, abstract_machine(2), sim::CostModelKind::roofline);
  Plan start;
  start.device = {0, 0, 0, 1};
  start.priority = {0, 1, 2, 3};
  ASSERT_EQ(makespan_of(simulator, start), 22);
  const Plan plan = improve_plan(simulator, start, 1, 100);
  EXPECT_EQ(makespan_of(simulator, plan), 12);
  EXPECT_LT(plan.priority[2], plan.priority[1]);
}

TEST(LocalSearch, DevicesOnlyKeepsCriticalPathsPriority) {
  const TaskGraph graph = random_dag({.num_ops = 60, .seed = 9});
  sim::Simulator simulator(graph, abstract_machine(3), sim::CostModelKind::roofline);
  const Plan start = place("critical_path", {simulator, 1});
  PlacementContext context{simulator, 1};
  context.search_evaluations = 1000;
  const Plan plan = place("local_search_devices", context);
  EXPECT_EQ(plan.method, "local_search_devices");
  EXPECT_EQ(plan.priority, start.priority);
  EXPECT_LE(makespan_of(simulator, plan), makespan_of(simulator, start));
  EXPECT_EQ(plan.device, improve_plan(simulator, start, 1, 1000, SearchMoves::devices).device);
}

TEST(LocalSearch, IsAPlacementMethodButNoHeuristic) {
  const std::vector<std::string>& all = placement_names();
  for (const std::string optimiser : {"local_search", "local_search_devices"}) {
    EXPECT_NE(std::find(all.begin(), all.end(), optimiser), all.end());
    for (const auto* names : {&heuristic_names(), &all_heuristic_names()})
      EXPECT_EQ(std::find(names->begin(), names->end(), optimiser), names->end());
  }
  EXPECT_EQ(all_heuristic_names().size() + 2, all.size());
}

TEST(LocalSearch, RefusesAZeroBudget) {
  const TaskGraph graph = make_graph({1, 1}, {0, 0}, {});
  sim::Simulator simulator(graph, abstract_machine(2), sim::CostModelKind::paper);
  PlacementContext context{simulator, 1};
  context.search_evaluations = 0;
  EXPECT_THROW(place("local_search", context), Error);
  Plan start;
  start.device = {0, 1};
  EXPECT_THROW(improve_plan(simulator, start, 1, 0), Error);
}

}  // namespace
}  // namespace doppler::policies
