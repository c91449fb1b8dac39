// The placement MDP: hand-worked op and device features, legal-set semantics and bad steps, the
// critical-path teacher reproducing the critical_path heuristic exactly (paper graphs, random DAGs,
// a lowered einsum graph under the roofline model), and random episodes always ending in valid
// plans whose simulated makespan is at least the lower bound.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "diamond_graph.hpp"
#include "doppler/einsum/decomposition.hpp"
#include "doppler/einsum/lowering.hpp"
#include "doppler/einsum/workloads.hpp"
#include "doppler/paper_graph_format.hpp"
#include "doppler/policies/placement.hpp"
#include "doppler/policies/placement_env.hpp"
#include "doppler/random_dag.hpp"
#include "error_of.hpp"

namespace doppler::policies {
namespace {

using test_support::error_of;

using test_support::diamond;

TEST(PlacementEnv, OpFeaturesByHand) {
  const TaskGraph graph = diamond();
  const sim::Simulator simulator(graph, abstract_machine(2), sim::CostModelKind::paper);
  const OpFeatures f = op_features(simulator);
  // b-level(d) = 1; b(c) = 5 + 1 + 1 = 7; b(b) = 3 + 1 + 1 = 5; b(a) = 2 + 10 + 7 = 19.
  // t-level(a) = 0; t(b) = t(c) = 2 + 10 = 12; t(d) = max(12 + 3 + 1, 12 + 5 + 1) = 18.
  using Row = std::array<double, OpFeatures::kCount>;
  EXPECT_EQ(f.rows[0], (Row{2, 19, 0, 0, 20}));
  EXPECT_EQ(f.rows[1], (Row{3, 5, 12, 10, 1}));
  EXPECT_EQ(f.rows[2], (Row{5, 7, 12, 10, 1}));
  EXPECT_EQ(f.rows[3], (Row{1, 1, 18, 2, 0}));
  // Longest paths: a -> c -> d (c has the larger b-level and reaches d later).
  EXPECT_EQ(f.next_on_exit_path, (std::vector<OpId>{2, 3, 3, kNoOp}));
  EXPECT_EQ(f.previous_on_entry_path, (std::vector<OpId>{kNoOp, 0, 0, 2}));
}

TEST(PlacementEnv, LegalSetDeviceFeaturesAndTeacher) {
  const TaskGraph graph = diamond();
  const sim::Simulator simulator(graph, abstract_machine(2), sim::CostModelKind::paper);
  PlacementEnv env(simulator);
  EXPECT_EQ(std::vector<OpId>(env.legal().begin(), env.legal().end()), (std::vector<OpId>{0}));
  EXPECT_EQ(env.teacher_devices(0), (std::vector<DeviceId>{0, 1}));  // a tie: both start at 0
  env.step(0, 0);
  EXPECT_EQ(std::vector<OpId>(env.legal().begin(), env.legal().end()), (std::vector<OpId>{1, 2}));
  EXPECT_EQ(env.teacher_ops(), (std::vector<OpId>{2}));  // larger b-level
  std::vector<DeviceFeatureRow> rows(2);
  env.device_features(2, rows);
  EXPECT_EQ(rows[0], (DeviceFeatureRow{2, 2, 2, 2, 2}));   // a is there, ends at 2
  EXPECT_EQ(rows[1], (DeviceFeatureRow{0, 0, 0, 0, 12}));  // a's output arrives at 2 + 10
  EXPECT_EQ(env.teacher_devices(2), (std::vector<DeviceId>{0}));
  env.step(2, 0);  // c on dev0: 2..7
  EXPECT_EQ(env.earliest_start(1, 0), 7);
  EXPECT_EQ(env.earliest_start(1, 1), 12);
  env.step(1, 1);  // b on dev1: 12..15
  env.device_features(3, rows);
  EXPECT_EQ(rows[0], (DeviceFeatureRow{7, 5, 7, 7, 16}));    // b's output arrives at 15 + 1
  EXPECT_EQ(rows[1], (DeviceFeatureRow{3, 3, 15, 15, 15}));  // c's arrives at 7 + 1 = 8
  env.step(3, 1);
  EXPECT_TRUE(env.done());
  EXPECT_EQ(env.estimated_makespan(), 16);
  const Plan plan = env.plan();
  EXPECT_EQ(plan.device, (std::vector<DeviceId>{0, 1, 0, 1}));
  EXPECT_EQ(plan.priority, (std::vector<double>{0, 2, 1, 3}));
}

TEST(PlacementEnv, BadStepsAreErrors) {
  const TaskGraph graph = diamond();
  const sim::Simulator simulator(graph, abstract_machine(2), sim::CostModelKind::paper);
  PlacementEnv env(simulator);
  EXPECT_EQ(error_of([&] { env.step(3, 0); }),
            "placement step: op 'd' is not legal (an input is unplaced or no such op)");
  EXPECT_EQ(error_of([&] { env.step(0, 2); }), "placement step: device 2 is out of range (2 devices)");
  EXPECT_NE(error_of([&] { env.plan(); }).find("before every op is placed (0 of 4)"), std::string::npos);
  env.step(0, 1);
  EXPECT_EQ(error_of([&] { env.step(0, 1); }), "placement step: op 'a' is not legal (already placed)");
  env.reset();
  EXPECT_FALSE(env.is_placed(0));
  EXPECT_EQ(env.legal().size(), 1u);
}

// Follows the teacher's first choices; must equal place("critical_path").
Plan teacher_plan(const sim::Simulator& simulator) {
  PlacementEnv env(simulator);
  while (!env.done()) {
    const OpId op = env.teacher_ops().front();
    env.step(op, env.teacher_devices(op).front());
  }
  return env.plan();
}

void expect_teacher_is_critical_path(const sim::Simulator& simulator, const std::string& what) {
  const Plan want = place("critical_path", {simulator, 1});
  const Plan got = teacher_plan(simulator);
  EXPECT_EQ(got.device, want.device) << what;
  EXPECT_EQ(got.priority, want.priority) << what;
}

TEST(PlacementEnv, TeacherIsTheCriticalPathHeuristic) {
  const std::string dir = std::string(DOPPLER_SOURCE_DIR) + "/configs/workloads/doppler-paper/";
  for (const char* name : {"chain_mm_112nodes", "ffnn_192nodes", "transformer_block_215nodes",
                           "full_transformer_layer_261nodes"}) {
    const TaskGraph graph = read_paper_graph(dir + name + ".txt");
    const sim::Simulator simulator(graph, abstract_machine(4), sim::CostModelKind::paper);
    expect_teacher_is_critical_path(simulator, name);
  }
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    const TaskGraph graph = random_dag({.num_ops = 300, .seed = seed});
    const sim::Simulator simulator(graph, abstract_machine(3), sim::CostModelKind::roofline);
    expect_teacher_is_critical_path(simulator, "random seed " + std::to_string(seed));
  }
  const einsum::EinsumGraph layer = einsum::llama_layer({.batch = 4, .seq = 256, .hidden = 512, .heads = 8});
  const einsum::LoweredGraph lowered =
      einsum::lower(layer, einsum::decompose(layer, {.devices = 4}).partitions);
  const Machine h100 = load_machine(std::string(DOPPLER_SOURCE_DIR) + "/configs/machines/h100-4.yaml");
  const sim::Simulator simulator(lowered.graph, h100, sim::CostModelKind::roofline);
  expect_teacher_is_critical_path(simulator, "lowered llama layer");
}

TEST(PlacementEnv, RandomEpisodesGiveValidPlans) {
  const TaskGraph graph = random_dag({.num_ops = 200, .seed = 3});
  sim::Simulator simulator(graph, abstract_machine(4), sim::CostModelKind::paper);
  PlacementEnv env(simulator);
  std::mt19937_64 rng(7);
  for (int episode = 0; episode < 20; ++episode) {
    env.reset();
    while (!env.done()) {
      const auto legal = env.legal();
      const OpId op = legal[std::uniform_int_distribution<std::size_t>(0, legal.size() - 1)(rng)];
      env.step(op, std::uniform_int_distribution<DeviceId>(0, 3)(rng));
    }
    const Plan plan = env.plan();
    EXPECT_NO_THROW(validate_plan(plan, graph, 4));
    EXPECT_GE(simulator.makespan(plan.device), simulator.lower_bound());
  }
}

}  // namespace
}  // namespace doppler::policies
