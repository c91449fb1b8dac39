// Placement heuristics: valid, deterministic plans on random DAGs and the Doppler paper's graphs;
// hand-worked answers for critical_path, heft and etf; METIS balance and cut; makespans never
// below the lower bound; the list schedulers beat random placement on the paper's graphs.
#include <gtest/gtest.h>

#include <iomanip>
#include <iostream>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "doppler/error.hpp"
#include "doppler/number_format.hpp"
#include "doppler/paper_graph_format.hpp"
#include "doppler/policies/device_timeline.hpp"
#include "doppler/policies/placement.hpp"
#include "doppler/random_dag.hpp"

namespace doppler::policies {
namespace {

const std::string kPaperDir = std::string(DOPPLER_SOURCE_DIR) + "/configs/workloads/doppler-paper/";
const std::vector<std::string> kPaperGraphs = {
    "chain_mm_112nodes", "ffnn_192nodes", "transformer_block_215nodes", "full_transformer_layer_261nodes"};

// Heuristics that this build can run (metis only when built with METIS).
std::vector<std::string> runnable_heuristics() {
  std::vector<std::string> names;
  for (const std::string& name : heuristic_names())
    if (name != "metis" || metis_available()) names.push_back(name);
  return names;
}

struct OpCost {
  double compute;
  double comm;
};

// A paper-model graph: op i has fixed cost costs[i].compute and comm cost costs[i].comm.
TaskGraph make_graph(const std::vector<OpCost>& costs, const std::vector<std::pair<OpId, OpId>>& edges) {
  TaskGraph graph("hand-worked");
  for (const OpCost& cost : costs) {
    Op op;
    op.fixed_cost = cost.compute;
    op.comm_cost = cost.comm;
    graph.add_op(std::move(op));
  }
  for (const auto& [src, dst] : edges) graph.add_edge(src, dst);
  return graph;
}

Plan place_on(const std::string& method, const TaskGraph& graph, std::size_t devices,
              std::uint64_t seed = 1) {
  sim::Simulator simulator(graph, abstract_machine(devices), sim::CostModelKind::paper);
  return place(method, {simulator, seed});
}

double simulated_makespan(const TaskGraph& graph, std::size_t devices, const Plan& plan) {
  sim::Simulator simulator(graph, abstract_machine(devices), sim::CostModelKind::paper);
  return simulator.run(plan).makespan;
}

// Fork-join A -> {B, C} -> D with costs 1, 10, 10, 1 and the same comm cost on every op.
TaskGraph fork_join(double comm) {
  return make_graph({{1, comm}, {10, comm}, {10, comm}, {1, comm}}, {{0, 1}, {0, 2}, {1, 3}, {2, 3}});
}

// P1 (2, comm 100) and P2 (2, comm 2) feed H (10); L (5) is independent. b-levels 112, 14, 10, 5.
// critical_path: P1->0, P2->1, H->0 at 4, L->1 (makespan 14). etf: P1->0, P2->1, then L can
// start at 2 (before H's inputs arrive at 4) and takes device 0, pushing H to 7 (makespan 17).
TaskGraph late_input_graph() {
  return make_graph({{2, 100}, {2, 2}, {10, 0}, {5, 0}}, {{0, 2}, {1, 2}});
}

std::size_t cut_edges(const TaskGraph& graph, const Plan& plan) {
  std::size_t cut = 0;
  for (OpId op = 0; op < graph.num_ops(); ++op)
    for (OpId succ : graph.successors(op)) cut += plan.device[op] != plan.device[succ];
  return cut;
}

TEST(PlacementNames, ListsEveryHeuristic) {
  EXPECT_EQ(heuristic_names(),
            (std::vector<std::string>{"random", "round_robin", "critical_path", "heft", "etf", "metis"}));
}

TEST(PlacementNames, UnknownMethodErrorListsKnownNames) {
  const TaskGraph graph = fork_join(1);
  sim::Simulator simulator(graph, abstract_machine(2), sim::CostModelKind::paper);
  try {
    place("simulated_annealing", {simulator, 1});
    FAIL() << "expected an Error";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("unknown placement method 'simulated_annealing'"), std::string::npos) << message;
    for (const std::string& name : heuristic_names())
      EXPECT_NE(message.find(name), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos);
  }
}

class PlacementOnDevices : public ::testing::TestWithParam<std::size_t> {};

TEST_P(PlacementOnDevices, ValidPlansOnRandomDags) {
  const std::size_t devices = GetParam();
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    const TaskGraph graph = random_dag({.num_ops = 150, .seed = seed});
    for (sim::CostModelKind model : {sim::CostModelKind::paper, sim::CostModelKind::roofline}) {
      sim::Simulator simulator(graph, abstract_machine(devices), model);
      for (const std::string& method : runnable_heuristics()) {
        SCOPED_TRACE(method + " seed " + std::to_string(seed) + " model " + sim::to_string(model));
        const Plan plan = place(method, {simulator, seed});
        EXPECT_NO_THROW(validate_plan(plan, graph, devices));
        EXPECT_EQ(plan.method, method);
        const double makespan = simulator.run(plan).makespan;
        EXPECT_GE(makespan, simulator.lower_bound());
      }
    }
  }
}

TEST_P(PlacementOnDevices, ValidPlansOnPaperGraphs) {
  const std::size_t devices = GetParam();
  for (const std::string& name : kPaperGraphs) {
    const TaskGraph graph = read_paper_graph(kPaperDir + name + ".txt");
    sim::Simulator simulator(graph, abstract_machine(devices), sim::CostModelKind::paper);
    for (const std::string& method : runnable_heuristics()) {
      SCOPED_TRACE(method + " on " + name);
      const Plan plan = place(method, {simulator, 7});
      EXPECT_NO_THROW(validate_plan(plan, graph, devices));
      const bool list_scheduler = method != "random" && method != "round_robin";
      EXPECT_EQ(plan.has_priority(), list_scheduler);
      EXPECT_GE(simulator.run(plan).makespan, simulator.lower_bound());
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Devices, PlacementOnDevices, ::testing::Values(1, 2, 4, 8));

TEST(PlacementOnOneDevice, EveryOpOnDeviceZero) {
  const TaskGraph graph = random_dag({.num_ops = 60, .seed = 3});
  for (const std::string& method : runnable_heuristics()) {
    const Plan plan = place_on(method, graph, 1);
    EXPECT_EQ(plan.device, std::vector<DeviceId>(graph.num_ops(), 0)) << method;
  }
}

TEST(PlacementDeterminism, SameSeedSamePlan) {
  const TaskGraph graph = read_paper_graph(kPaperDir + "ffnn_192nodes.txt");
  sim::Simulator simulator(graph, abstract_machine(4), sim::CostModelKind::paper);
  for (const std::string& method : runnable_heuristics()) {
    const Plan first = place(method, {simulator, 42});
    const Plan second = place(method, {simulator, 42});
    EXPECT_EQ(first.device, second.device) << method;
    EXPECT_EQ(first.priority, second.priority) << method;
  }
}

TEST(PlacementDeterminism, RandomDependsOnTheSeed) {
  const TaskGraph graph = read_paper_graph(kPaperDir + "ffnn_192nodes.txt");
  EXPECT_NE(place_on("random", graph, 4, 1).device, place_on("random", graph, 4, 2).device);
}

TEST(RoundRobin, OpIdModDevices) {
  const TaskGraph graph = random_dag({.num_ops = 11, .seed = 5});
  const Plan plan = place_on("round_robin", graph, 4);
  EXPECT_EQ(plan.device, (std::vector<DeviceId>{0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2}));
  EXPECT_FALSE(plan.has_priority());
}

TEST(Random, UsesEveryDevice) {
  const TaskGraph graph = random_dag({.num_ops = 200, .seed = 5});
  const Plan plan = place_on("random", graph, 4, 9);
  std::vector<std::size_t> count(4, 0);
  for (DeviceId device : plan.device) ++count[device];
  for (std::size_t c : count) EXPECT_GT(c, 25u);
}

TEST(CriticalPath, ForkJoinSplitsWhenCommunicationIsCheap) {
  // A->0; B (b-level 12, smaller id) ->0 at 1; C ->1 at 2 (dev 0 is busy until 11);
  // D starts at 12 on 1 (C there; B's output arrives at 12) vs 13 on 0.
  const TaskGraph graph = fork_join(1);
  const Plan plan = place_on("critical_path", graph, 2);
  EXPECT_EQ(plan.device, (std::vector<DeviceId>{0, 0, 1, 1}));
  EXPECT_EQ(plan.priority, (std::vector<double>{0, 1, 2, 3}));
  EXPECT_EQ(simulated_makespan(graph, 2, plan), 13);
}

TEST(CriticalPath, ForkJoinStaysTogetherWhenCommunicationIsExpensive) {
  const TaskGraph graph = fork_join(100);
  const Plan plan = place_on("critical_path", graph, 2);
  EXPECT_EQ(plan.device, (std::vector<DeviceId>(4, 0)));
  EXPECT_EQ(simulated_makespan(graph, 2, plan), 22);
}

TEST(CriticalPath, LargestBottomLevelFirstThenEarliestStart) {
  const TaskGraph graph = late_input_graph();
  const Plan plan = place_on("critical_path", graph, 2);
  EXPECT_EQ(plan.device, (std::vector<DeviceId>{0, 1, 0, 1}));
  EXPECT_EQ(plan.priority, (std::vector<double>{0, 1, 2, 3}));
  EXPECT_EQ(simulated_makespan(graph, 2, plan), 14);
}

TEST(Heft, ForkJoinSplitsWhenCommunicationIsCheap) {
  // Finish times: A 1 on 0; B 11 on 0 (12 on 1); C 12 on 1 (21 on 0); D 13 on 1 (14 on 0).
  const TaskGraph graph = fork_join(1);
  const Plan plan = place_on("heft", graph, 2);
  EXPECT_EQ(plan.device, (std::vector<DeviceId>{0, 0, 1, 1}));
  EXPECT_EQ(simulated_makespan(graph, 2, plan), 13);
}

TEST(Heft, ForkJoinStaysTogetherWhenCommunicationIsExpensive) {
  const TaskGraph graph = fork_join(100);
  const Plan plan = place_on("heft", graph, 2);
  EXPECT_EQ(plan.device, (std::vector<DeviceId>(4, 0)));
  EXPECT_EQ(simulated_makespan(graph, 2, plan), 22);
}

TEST(Heft, InsertsIntoAnIdleGap) {
  // A (2, comm 1) and B (2, comm 1) feed J (5); D (4) and C (1) are independent. Ranks 8, 8, 5, 4, 1.
  // A->0 [0,2], B->1 [0,2], J->0 [3,8] (its input from B arrives at 3: gap [2,3] on device 0),
  // D->1 [2,6], and C fits the gap: finish 3 on device 0 beats 7 on device 1.
  const TaskGraph graph = make_graph({{2, 1}, {2, 1}, {5, 0}, {4, 0}, {1, 0}}, {{0, 2}, {1, 2}});
  const Plan plan = place_on("heft", graph, 2);
  EXPECT_EQ(plan.device, (std::vector<DeviceId>{0, 1, 0, 1, 0}));
  EXPECT_EQ(plan.priority, (std::vector<double>{0, 1, 2, 3, 4}));
  EXPECT_EQ(simulated_makespan(graph, 2, plan), 8);
}

TEST(Etf, EarliestStartingPairFirst) {
  const TaskGraph graph = late_input_graph();
  const Plan plan = place_on("etf", graph, 2);
  EXPECT_EQ(plan.device, (std::vector<DeviceId>{0, 1, 0, 0}));
  EXPECT_EQ(plan.priority, (std::vector<double>{0, 1, 3, 2}));
  EXPECT_EQ(simulated_makespan(graph, 2, plan), 17);
}

TEST(Etf, ForkJoinMatchesCriticalPath) {
  for (double comm : {1.0, 100.0}) {
    const TaskGraph graph = fork_join(comm);
    EXPECT_EQ(place_on("etf", graph, 2).device, place_on("critical_path", graph, 2).device) << comm;
  }
}

TEST(DeviceTimeline, FindsTheFirstGapThatFits) {
  DeviceTimeline timeline;
  EXPECT_EQ(timeline.earliest_start(3, 2), 3);
  timeline.reserve(0, 2);
  timeline.reserve(5, 3);
  EXPECT_EQ(timeline.end(), 8);
  EXPECT_EQ(timeline.earliest_start(0, 3), 2);  // gap [2,5]
  EXPECT_EQ(timeline.earliest_start(0, 4), 8);  // too long for the gap
  EXPECT_EQ(timeline.earliest_start(3, 2), 3);
  EXPECT_EQ(timeline.earliest_start(4, 2), 8);
  EXPECT_EQ(timeline.earliest_start(6, 0), 8);  // inside a busy interval
  EXPECT_EQ(timeline.earliest_start(9, 1), 9);
}

TEST(DeviceTimeline, RejectsOverlapsAndAcceptsTouchingIntervals) {
  DeviceTimeline timeline;
  timeline.reserve(2, 3);
  timeline.reserve(0, 2);
  timeline.reserve(5, 0);
  timeline.reserve(5, 1);
  EXPECT_EQ(timeline.gaps(), 0u);
  EXPECT_EQ(timeline.end(), 6);
  EXPECT_THROW(timeline.reserve(4, 1), Error);
  EXPECT_THROW(timeline.reserve(1, 0.5), Error);
  EXPECT_THROW(timeline.reserve(3, 0), Error);
}

TEST(DeviceTimeline, MatchesABruteForceScanOfBusyTimeUnits) {
  // Integer times, so a bitmap of busy unit slots [t, t + 1) is an exact reference.
  std::mt19937_64 generator(11);
  std::uniform_int_distribution<int> time(0, 1000);
  std::uniform_int_distribution<int> length(0, 12);
  DeviceTimeline timeline;
  std::vector<bool> busy(40000, false);
  auto idle = [&busy](int start, int duration) {
    for (int t = start; t < start + std::max(duration, 1); ++t)
      if (busy[t]) return false;
    return true;
  };
  for (int step = 0; step < 3000; ++step) {
    const int ready = time(generator);
    const int duration = length(generator);
    int expected = ready;
    while (!idle(expected, duration)) ++expected;
    const double start = timeline.earliest_start(ready, duration);
    ASSERT_EQ(start, expected) << "step " << step << " ready " << ready << " duration " << duration;
    timeline.reserve(start, duration);
    for (int t = expected; t < expected + duration; ++t) busy[t] = true;
  }
}

// Eight blocks of twelve ops (each op depends on the two before it in its block), the last op of
// a block feeding the first of the next: METIS should cut between blocks, round robin cuts almost all.
TaskGraph chain_of_blocks() {
  std::vector<OpCost> costs(96, {10, 10});
  std::vector<std::pair<OpId, OpId>> edges;
  for (OpId block = 0; block < 8; ++block) {
    const OpId first = block * 12;
    for (OpId i = 1; i < 12; ++i) {
      edges.emplace_back(first + i - 1, first + i);
      if (i >= 2) edges.emplace_back(first + i - 2, first + i);
    }
    if (block > 0) edges.emplace_back(first - 1, first);
  }
  return make_graph(costs, edges);
}

TEST(Metis, BalancesComputeAndCutsLessThanRoundRobin) {
  if (!metis_available()) GTEST_SKIP() << "built without METIS";
  const TaskGraph graph = chain_of_blocks();
  const Plan plan = place_on("metis", graph, 4);
  std::vector<double> load(4, 0.0);
  for (OpId op = 0; op < graph.num_ops(); ++op) load[plan.device[op]] += *graph.op(op).fixed_cost;
  const double mean = std::accumulate(load.begin(), load.end(), 0.0) / 4;
  for (double device_load : load) EXPECT_NEAR(device_load, mean, 0.1 * mean);
  const std::size_t metis_cut = cut_edges(graph, plan);
  const std::size_t round_robin_cut = cut_edges(graph, place_on("round_robin", graph, 4));
  EXPECT_LE(metis_cut, 6u);
  EXPECT_LT(metis_cut, round_robin_cut);
}

TEST(Metis, SpreadsIndependentOpsEvenly) {
  if (!metis_available()) GTEST_SKIP() << "built without METIS";
  const TaskGraph graph = make_graph(std::vector<OpCost>(16, {10, 10}), {});
  const Plan plan = place_on("metis", graph, 4);
  std::vector<std::size_t> count(4, 0);
  for (DeviceId device : plan.device) ++count[device];
  EXPECT_EQ(count, (std::vector<std::size_t>(4, 4)));
}

TEST(Metis, FewerOpsThanDevicesGetOneDeviceEach) {
  if (!metis_available()) GTEST_SKIP() << "built without METIS";
  EXPECT_EQ(place_on("metis", fork_join(1), 8).device, (std::vector<DeviceId>{0, 1, 2, 3}));
}

TEST(Metis, PriorityFollowsBottomLevel) {
  if (!metis_available()) GTEST_SKIP() << "built without METIS";
  const TaskGraph graph = fork_join(1);  // b-levels 14, 12, 12, 1
  const Plan plan = place_on("metis", graph, 2);
  EXPECT_EQ(plan.priority, (std::vector<double>{0, 1, 2, 3}));
}

TEST(Metis, OneDeviceNeedsNoPartitioner) {
  if (!metis_available()) GTEST_SKIP() << "built without METIS";
  const TaskGraph graph = chain_of_blocks();
  EXPECT_EQ(place_on("metis", graph, 1).device, std::vector<DeviceId>(graph.num_ops(), 0));
}

TEST(Metis, WithoutMetisTheErrorSaysHowToFixIt) {
  if (metis_available()) GTEST_SKIP() << "built with METIS";
  try {
    place_on("metis", fork_join(1), 2);
    FAIL() << "expected an Error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("libmetis-dev"), std::string::npos) << error.what();
  }
}

TEST(PaperGraphs, ListSchedulersBeatRandom) {
  // Prints every makespan beside the lower bound (4 devices, paper model; random: mean of 10 seeds)
  // and compares the mean of makespan / lower bound over the four graphs.
  const std::vector<std::string> methods = runnable_heuristics();
  std::map<std::string, double> mean_ratio;
  for (const std::string& name : kPaperGraphs) {
    const TaskGraph graph = read_paper_graph(kPaperDir + name + ".txt");
    sim::Simulator simulator(graph, abstract_machine(4), sim::CostModelKind::paper);
    const double bound = simulator.lower_bound();
    std::cout << name << "  lower_bound " << format_number(bound) << "\n";
    for (const std::string& method : methods) {
      const int runs = method == "random" ? 10 : 1;
      double makespan = 0;
      for (int seed = 1; seed <= runs; ++seed)
        makespan += simulator.run(place(method, {simulator, static_cast<std::uint64_t>(seed)})).makespan;
      makespan /= runs;
      mean_ratio[method] += makespan / bound / static_cast<double>(kPaperGraphs.size());
      std::cout << "  " << std::left << std::setw(14) << method << format_number(makespan) << "  ("
                << format_short(makespan / bound, 3) << " x bound)\n";
    }
  }
  for (const std::string& method : methods)
    std::cout << "mean makespan / bound  " << std::setw(14) << method << format_short(mean_ratio[method], 3)
              << "\n";
  for (const char* method : {"critical_path", "heft", "etf"})
    EXPECT_LT(mean_ratio[method], 0.8 * mean_ratio["random"]) << method;
}

}  // namespace
}  // namespace doppler::policies
