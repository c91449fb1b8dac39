// Stage I's teachers: following a plan teacher's first choices reproduces the plan up to a renaming of
// devices (and its makespan on a symmetric machine when its priority is a list-scheduling order); the
// device matching after a learner's own choices; a plan without priority selects like the
// critical-path teacher; best_heuristic picks the plan no placement method beats; unknown names are
// errors; stage I's mixture follows the teacher exactly at its start.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "diamond_graph.hpp"
#include "doppler/error.hpp"
#include "doppler/learn/teacher.hpp"
#include "doppler/learn/trainer.hpp"
#include "doppler/paper_graph_format.hpp"
#include "doppler/policies/placement.hpp"
#include "error_of.hpp"

namespace doppler::learn {
namespace {

using test_support::error_of;

TaskGraph paper_graph(const std::string& file) {
  return read_paper_graph(std::string(DOPPLER_SOURCE_DIR) + "/configs/workloads/doppler-paper/" + file);
}

// Whether `a` is `b` with its devices renamed (a bijection).
bool same_up_to_renaming(const std::vector<DeviceId>& a, const std::vector<DeviceId>& b,
                         std::size_t devices) {
  std::vector<int> forward(devices, -1), backward(devices, -1);
  for (std::size_t op = 0; op < a.size(); ++op) {
    if (forward[b[op]] == -1 && backward[a[op]] == -1) {
      forward[b[op]] = static_cast<int>(a[op]);
      backward[a[op]] = static_cast<int>(b[op]);
    }
    if (forward[b[op]] != static_cast<int>(a[op])) return false;
  }
  return true;
}

// The plan made by always taking the teacher's first op and first device.
Plan follow(const Teacher& teacher, policies::PlacementEnv& env) {
  env.reset();
  while (!env.done()) {
    const std::vector<OpId> ops = teacher.ops(env);
    EXPECT_FALSE(ops.empty());
    const OpId op = ops.front();
    env.step(op, teacher.devices(env, op).front());
  }
  return env.plan();
}

TEST(LearnTeacher, PlanTeacherReproducesThePlan) {
  for (const std::string file : {"chain_mm_112nodes.txt", "transformer_block_215nodes.txt"}) {
    const TaskGraph graph = paper_graph(file);
    sim::Simulator simulator(graph, abstract_machine(4), sim::CostModelKind::paper);
    policies::PlacementEnv env(simulator);
    for (const std::string method : {"heft", "etf", "critical_path", "eindecomp"}) {
      const Plan plan = policies::place(method, {simulator, 1});
      ASSERT_TRUE(plan.has_priority()) << method;
      const Plan followed = follow(Teacher(plan), env);
      EXPECT_TRUE(same_up_to_renaming(followed.device, plan.device, 4)) << file << " " << method;
      EXPECT_EQ(simulator.makespan(followed.device, followed.priority),
                simulator.makespan(plan.device, plan.priority))
          << file << " " << method;
    }
  }
}

TEST(LearnTeacher, PlanWithoutPrioritySelectsLikeCriticalPath) {
  const TaskGraph graph = paper_graph("chain_mm_112nodes.txt");
  sim::Simulator simulator(graph, abstract_machine(4), sim::CostModelKind::paper);
  policies::PlacementEnv env(simulator);
  const Plan plan = policies::place("round_robin", {simulator, 1});
  ASSERT_FALSE(plan.has_priority());
  const Teacher teacher(plan);
  while (!env.done()) {
    EXPECT_EQ(teacher.ops(env), env.teacher_ops());
    const OpId op = teacher.ops(env).front();
    env.step(op, teacher.devices(env, op).front());
  }
  EXPECT_TRUE(same_up_to_renaming(env.plan().device, plan.device, 4));
}

// After the learner's own choices, the teacher's device is the one matched to the plan's device by
// shared ops; a plan device not yet matched corresponds to every unmatched device.
TEST(LearnTeacher, DeviceMatchingFollowsTheLearnersChoices) {
  const TaskGraph graph = test_support::diamond();  // a -> {b, c} -> d
  sim::Simulator simulator(graph, abstract_machine(3), sim::CostModelKind::paper);
  policies::PlacementEnv env(simulator);
  Plan plan;
  plan.device = {2, 2, 0, 2};  // a, b, d on plan device 2; c on plan device 0
  plan.priority = {0, 1, 2, 3};
  const Teacher teacher(plan);
  EXPECT_EQ(teacher.devices(env, 0), (std::vector<DeviceId>{0, 1, 2}));  // nothing placed: any device
  env.step(0, 1);                                                        // a on device 1: plan 2 -> 1
  EXPECT_EQ(teacher.ops(env), (std::vector<OpId>{1}));                   // b before c in the plan
  EXPECT_EQ(teacher.devices(env, 1), (std::vector<DeviceId>{1}));
  EXPECT_EQ(teacher.devices(env, 2), (std::vector<DeviceId>{0, 2}));  // plan device 0 is unmatched
  env.step(2, 2);                                                     // the learner deviates: c first
  EXPECT_EQ(teacher.devices(env, 1), (std::vector<DeviceId>{1}));
  env.step(1, 0);  // b away from a: devices 0 and 1 now share one plan-2 op each
  EXPECT_EQ(teacher.devices(env, 3), (std::vector<DeviceId>{0}));  // ties: the smaller device
}

TEST(LearnTeacher, CriticalPathIsTheEnvironmentsWithItsTies) {
  const TaskGraph graph = paper_graph("ffnn_192nodes.txt");
  sim::Simulator simulator(graph, abstract_machine(4), sim::CostModelKind::paper);
  policies::PlacementEnv env(simulator);
  const TeacherChoice choice = make_teacher("critical_path", simulator, 1);
  EXPECT_EQ(choice.method, "critical_path");
  const Plan reference = policies::place("critical_path", {simulator, 1});
  EXPECT_EQ(choice.makespan, simulator.makespan(reference.device, reference.priority));
  env.reset();
  while (!env.done()) {
    const OpId op = choice.teacher.ops(env).front();
    EXPECT_EQ(choice.teacher.ops(env), env.teacher_ops());
    EXPECT_EQ(choice.teacher.devices(env, op), env.teacher_devices(op));
    env.step(op, env.teacher_devices(op).front());
  }
  EXPECT_EQ(env.plan().device, reference.device);
}

TEST(LearnTeacher, BestHeuristicIsTheFastestPlan) {
  for (const std::string file :
       {"chain_mm_112nodes.txt", "ffnn_192nodes.txt", "full_transformer_layer_261nodes.txt"}) {
    const TaskGraph graph = paper_graph(file);
    sim::Simulator simulator(graph, abstract_machine(4), sim::CostModelKind::paper);
    const TeacherChoice best = make_teacher("best_heuristic", simulator, 1);
    EXPECT_NE(best.method, "best_heuristic");
    for (const std::string& method : policies::all_heuristic_names()) {
      if (method == "metis" && !policies::metis_available()) continue;
      const TeacherChoice one = make_teacher(method, simulator, 1);
      EXPECT_LE(best.makespan, one.makespan) << file << " " << method;
      if (method == best.method) {
        EXPECT_EQ(best.makespan, one.makespan) << file;
      }
    }
    policies::PlacementEnv env(simulator);
    const Plan followed = follow(best.teacher, env);
    if (best.method != "random" && best.method != "round_robin" && best.method != "metis") {
      EXPECT_EQ(simulator.makespan(followed.device, followed.priority), best.makespan) << file;
    }
  }
}

TEST(LearnTeacher, UnknownTeacherIsAnError) {
  const TaskGraph graph = paper_graph("chain_mm_112nodes.txt");
  sim::Simulator simulator(graph, abstract_machine(4), sim::CostModelKind::paper);
  EXPECT_EQ(
      error_of([&] { make_teacher("best", simulator, 1); }),
      "train.teacher: unknown teacher 'best' (known: random, round_robin, critical_path, heft, etf, metis, "
      "eindecomp, local_search, local_search_devices, best_heuristic)");
  EXPECT_TRUE(known_teacher("best_heuristic"));
  EXPECT_TRUE(known_teacher("heft"));
  EXPECT_FALSE(known_teacher("HEFT"));
}

// With follow_teacher 1, stage I's first batch takes the teacher's choices at every step, so its
// episodes are the teacher's plan (its makespan, on this symmetric machine); the mixture then falls
// linearly, and later batches are the learner's own.
TEST(LearnTeacher, FollowingTheTeacherReproducesItsPlan) {
  const TaskGraph graph = paper_graph("chain_mm_112nodes.txt");
  const Machine machine = abstract_machine(4);
  TrainRequest r;
  r.graph = &graph;
  r.machine = &machine;
  r.model = sim::CostModelKind::paper;
  r.sizes = PolicySizes{.hidden = 16, .steps = 2, .edge_basis = 2, .head_hidden = 16};
  r.settings.imitation_episodes = 64;
  r.settings.rl_episodes = 0;
  r.settings.batch = 16;
  r.settings.seed = 2;
  r.settings.teacher = "etf";
  r.settings.follow_teacher = 1;
  const TrainResult result = train(r);
  EXPECT_EQ(result.teacher, "etf");
  sim::Simulator simulator(graph, machine, sim::CostModelKind::paper);
  const Plan etf = policies::place("etf", {simulator, 2});
  EXPECT_EQ(result.teacher_makespan, simulator.makespan(etf.device, etf.priority));
  ASSERT_EQ(result.log.size(), 64u);
  for (std::size_t i = 0; i < 16; ++i) EXPECT_EQ(result.log[i].makespan, result.teacher_makespan) << i;
  std::size_t away = 0;
  for (std::size_t i = 48; i < 64; ++i) away += result.log[i].makespan != result.teacher_makespan ? 1 : 0;
  EXPECT_GT(away, 8u);  // at a quarter of the mixture most episodes leave the teacher's plan somewhere
}

}  // namespace
}  // namespace doppler::learn
