// The eindecomp placement (EinDecomp's load + communication placer): valid, deterministic plans on
// random DAGs, the Doppler paper's graphs and lowered einsum graphs; independent heavy chains split
// over devices; a chain with heavy communication stays on one device; comm_weight trades the two;
// and printed makespans: against the other heuristics and over comm_weight on the paper's graphs.
#include <gtest/gtest.h>

#include <algorithm>
#include <iomanip>
#include <iostream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "doppler/einsum/lowering.hpp"
#include "doppler/einsum/workloads.hpp"
#include "doppler/error.hpp"
#include "doppler/paper_graph_format.hpp"
#include "doppler/policies/placement.hpp"
#include "doppler/random_dag.hpp"

namespace doppler::policies {
namespace {

const std::string kPaperDir = std::string(DOPPLER_SOURCE_DIR) + "/configs/workloads/doppler-paper/";
const std::vector<std::string> kPaperGraphs = {
    "chain_mm_112nodes", "ffnn_192nodes", "transformer_block_215nodes", "full_transformer_layer_261nodes"};

// A paper-model graph: op i has fixed cost compute and comm cost comm.
TaskGraph make_graph(const std::vector<std::pair<double, double>>& costs,
                     const std::vector<std::pair<OpId, OpId>>& edges) {
  TaskGraph graph("hand-worked");
  for (const auto& [compute, comm] : costs) {
    Op op;
    op.fixed_cost = compute;
    op.comm_cost = comm;
    graph.add_op(std::move(op));
  }
  for (const auto& [src, dst] : edges) graph.add_edge(src, dst);
  return graph;
}

// `chains` independent chains of `length` ops each (chain c holds ops c*length ..), all with the
// same compute and comm cost.
TaskGraph chains_graph(int chains, int length, double compute, double comm) {
  std::vector<std::pair<double, double>> costs;
  std::vector<std::pair<OpId, OpId>> edges;
  for (int c = 0; c < chains; ++c) {
    for (int i = 0; i < length; ++i) {
      const auto op = static_cast<OpId>(costs.size());
      costs.emplace_back(compute, comm);
      if (i > 0) edges.emplace_back(op - 1, op);
    }
  }
  return make_graph(costs, edges);
}

Plan eindecomp_on(const TaskGraph& graph, std::size_t devices, double comm_weight = 1.0,
                  sim::CostModelKind model = sim::CostModelKind::paper) {
  sim::Simulator simulator(graph, abstract_machine(devices), model);
  return place("eindecomp", {.simulator = simulator, .seed = 1, .comm_weight = comm_weight});
}

void expect_valid(const Plan& plan, const TaskGraph& graph, std::size_t devices) {
  EXPECT_NO_THROW(validate_plan(plan, graph, devices));
  EXPECT_EQ(plan.method, "eindecomp");
  ASSERT_EQ(plan.priority.size(), graph.num_ops());
  std::set<double> distinct(plan.priority.begin(), plan.priority.end());
  EXPECT_EQ(distinct.size(), graph.num_ops());  // a total order
}

TEST(EindecompPlacement, IsAPlacementMethodButNotADefaultHeuristic) {
  const std::vector<std::string>& all = placement_names();
  EXPECT_NE(std::find(all.begin(), all.end(), "eindecomp"), all.end());
  const std::vector<std::string>& defaults = heuristic_names();
  EXPECT_EQ(std::find(defaults.begin(), defaults.end(), "eindecomp"), defaults.end());
  for (const std::string& name : defaults) EXPECT_NE(std::find(all.begin(), all.end(), name), all.end());
}

TEST(EindecompPlacement, UnknownMethodErrorListsIt) {
  const TaskGraph graph = chains_graph(1, 2, 1, 1);
  sim::Simulator simulator(graph, abstract_machine(2), sim::CostModelKind::paper);
  try {
    place("eindecompp", {simulator, 1});
    FAIL() << "expected an Error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("etf, metis, eindecomp, local_search, local_search_devices)"),
              std::string::npos)
        << error.what();
  }
}

TEST(EindecompPlacement, ValidPlanForEveryOpOnRandomDags) {
  for (std::size_t devices : {1u, 2u, 4u, 8u}) {
    for (std::uint64_t seed = 1; seed <= 4; ++seed) {
      const TaskGraph graph = random_dag({.num_ops = 150, .seed = seed});
      for (sim::CostModelKind model : {sim::CostModelKind::paper, sim::CostModelKind::roofline}) {
        SCOPED_TRACE(std::to_string(devices) + " devices, seed " + std::to_string(seed));
        sim::Simulator simulator(graph, abstract_machine(devices), model);
        const Plan plan = place("eindecomp", {simulator, seed});
        expect_valid(plan, graph, devices);
        EXPECT_GE(simulator.run(plan).makespan, simulator.lower_bound());
      }
    }
  }
}

TEST(EindecompPlacement, ValidPlanOnLoweredEinsumGraph) {
  const einsum::EinsumGraph ffnn =
      einsum::ffnn({.batch = 64, .in = 64, .hidden = 128, .out = 32, .layers = 3});
  std::vector<einsum::Partition> partitions(ffnn.num_ops());
  for (einsum::EinsumOpId op = 0; op < ffnn.num_ops(); ++op) partitions[op].set('i', 4);
  const einsum::LoweredGraph lowered = einsum::lower(ffnn, partitions);
  const Plan plan = eindecomp_on(lowered.graph, 4, 1.0, sim::CostModelKind::roofline);
  expect_valid(plan, lowered.graph, 4);
  EXPECT_GT(std::set<DeviceId>(plan.device.begin(), plan.device.end()).size(), 1u);  // it spreads the rows
}

TEST(EindecompPlacement, DeterministicOnPaperGraphs) {
  for (const std::string& name : kPaperGraphs) {
    const TaskGraph graph = read_paper_graph(kPaperDir + name + ".txt");
    const Plan first = eindecomp_on(graph, 4);
    const Plan second = eindecomp_on(graph, 4);
    expect_valid(first, graph, 4);
    EXPECT_EQ(first.device, second.device) << name;
    EXPECT_EQ(first.priority, second.priority) << name;
  }
}

TEST(EindecompPlacement, SplitsTwoIndependentHeavyChainsOverTwoDevices) {
  const TaskGraph graph = chains_graph(2, 5, 10, 1);
  const Plan plan = eindecomp_on(graph, 2);
  for (OpId op = 1; op < 5; ++op) EXPECT_EQ(plan.device[op], plan.device[0]) << op;
  for (OpId op = 6; op < 10; ++op) EXPECT_EQ(plan.device[op], plan.device[5]) << op;
  EXPECT_NE(plan.device[0], plan.device[5]);
  sim::Simulator simulator(graph, abstract_machine(2), sim::CostModelKind::paper);
  EXPECT_DOUBLE_EQ(simulator.run(plan).makespan, 50);
}

TEST(EindecompPlacement, KeepsAChainWithHeavyCommunicationOnOneDevice) {
  const TaskGraph graph = chains_graph(1, 8, 1, 100);
  EXPECT_EQ(eindecomp_on(graph, 4).device, std::vector<DeviceId>(8, 0));
}

TEST(EindecompPlacement, CommWeightTradesLoadAgainstTransfers) {
  // Compute 1, comm 4: op k of the chain costs k + 1 on device 0 and 1 + 4 x weight on device 1,
  // so weight 1 keeps the 4 ops together; weight 0 is pure load balancing and alternates devices.
  const TaskGraph graph = chains_graph(1, 4, 1, 4);
  EXPECT_EQ(eindecomp_on(graph, 2, 1.0).device, (std::vector<DeviceId>{0, 0, 0, 0}));
  EXPECT_EQ(eindecomp_on(graph, 2, 0.0).device, (std::vector<DeviceId>{0, 1, 0, 1}));
}

TEST(EindecompPlacement, ComparedWithTheOtherHeuristicsOnPaperGraphs) {
  std::vector<std::string> methods;
  for (const std::string& name : all_heuristic_names())
    if (name != "metis" || metis_available()) methods.push_back(name);
  std::cout << std::left << std::setw(34) << "graph (4 devices, paper model)";
  for (const std::string& method : methods) std::cout << std::right << std::setw(14) << method;
  std::cout << "\n";
  for (const std::string& name : kPaperGraphs) {
    const TaskGraph graph = read_paper_graph(kPaperDir + name + ".txt");
    sim::Simulator simulator(graph, abstract_machine(4), sim::CostModelKind::paper);
    std::cout << std::left << std::setw(34) << name;
    for (const std::string& method : methods) {
      const double makespan = simulator.run(place(method, {simulator, 1})).makespan;
      EXPECT_GE(makespan, simulator.lower_bound()) << name << " " << method;
      std::cout << std::right << std::setw(14) << std::scientific << std::setprecision(5) << makespan;
    }
    std::cout << "\n";
  }
}

TEST(EindecompPlacement, CommWeightSweepOnPaperGraphs) {
  const std::vector<double> weights = {0, 0.25, 1, 4, 16};
  std::cout << std::left << std::setw(34) << "eindecomp makespan, comm_weight";
  for (const double weight : weights) std::cout << std::right << std::setw(14) << std::defaultfloat << weight;
  std::cout << "\n";
  for (const std::string& name : kPaperGraphs) {
    const TaskGraph graph = read_paper_graph(kPaperDir + name + ".txt");
    sim::Simulator simulator(graph, abstract_machine(4), sim::CostModelKind::paper);
    std::cout << std::left << std::setw(34) << name;
    for (const double weight : weights) {
      const Plan plan = place("eindecomp", {.simulator = simulator, .seed = 1, .comm_weight = weight});
      std::cout << std::right << std::setw(14) << std::scientific << std::setprecision(5)
                << simulator.run(plan).makespan;
    }
    std::cout << "\n";
  }
}

}  // namespace
}  // namespace doppler::policies
