// Training the learned policies: a tiny fixed-seed run improves on its starting policy (with either
// advantage); results do not depend on the rollout thread count; a checkpoint resumed gives exactly
// the episodes of an uninterrupted run, on one graph or several; a policy trained on two graphs places
// a third; wrong checkpoints and bad train/policy sections are one-line errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <string>

#include "doppler/error.hpp"
#include "doppler/file_io.hpp"
#include "doppler/learn/learned_policy.hpp"
#include "doppler/learn/trainer.hpp"
#include "doppler/paper_graph_format.hpp"
#include "doppler/policies/placement.hpp"
#include "doppler/policies/placement_env.hpp"
#include "error_of.hpp"

namespace doppler::learn {
namespace {

namespace fs = std::filesystem;
using test_support::error_of;

const PolicySizes kSmall{.hidden = 16, .steps = 2, .edge_basis = 2, .head_hidden = 16};

struct TrainingSetup {
  TaskGraph graph = read_paper_graph(std::string(DOPPLER_SOURCE_DIR) +
                                     "/configs/workloads/doppler-paper/chain_mm_112nodes.txt");
  Machine machine = abstract_machine(4);

  TrainRequest request(TrainSettings settings, const std::string& out) const {
    TrainRequest r;
    r.graph = &graph;
    r.machine = &machine;
    r.model = sim::CostModelKind::paper;
    r.sizes = kSmall;
    r.settings = settings;
    r.out_dir = out;
    return r;
  }
};

std::string fresh_dir(const std::string& name) {
  const fs::path dir =
      fs::temp_directory_path() / ("doppler_learn_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  return dir.string();
}

bool same(const EpisodeRecord& a, const EpisodeRecord& b) {
  return a.episode == b.episode && a.graph == b.graph && a.stage == b.stage && a.makespan == b.makespan &&
         a.running == b.running && a.best == b.best && a.loss == b.loss && a.lr == b.lr &&
         a.epsilon == b.epsilon;
}

void expect_same_logs(const std::vector<EpisodeRecord>& a, const std::vector<EpisodeRecord>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(same(a[i], b[i])) << "episode " << i;
}

// `request` run into `dir` up to episode `stop` (a checkpoint), then resumed to its end: the
// resumed call's result.
TrainResult split_and_resume(TrainRequest request, const std::string& dir, std::size_t stop) {
  request.out_dir = dir;
  request.stop_after = stop;
  EXPECT_EQ(train(request).log.size(), stop);
  request.stop_after = 0;
  request.resume = true;
  return train(request);
}

TrainSettings small_settings() {
  TrainSettings s;
  s.imitation_episodes = 16;
  s.rl_episodes = 16;
  s.batch = 4;
  s.checkpoint_every = 8;
  s.lr = 3e-3;
  s.seed = 5;
  return s;
}

class TinyRun : public ::testing::TestWithParam<Advantage> {};

TEST_P(TinyRun, ImprovesOnItsStartingPolicy) {
  const TrainingSetup setup;
  TrainSettings s;
  s.imitation_episodes = 160;
  s.rl_episodes = 160;
  s.batch = 16;
  s.lr = 1e-2;
  s.threads = 2;
  s.seed = 3;
  s.advantage = GetParam();
  const TrainResult r = train(setup.request(s, ""));
  ASSERT_EQ(r.log.size(), 320u);
  const auto mean = [&](std::size_t from, std::size_t to) {
    double sum = 0;
    for (std::size_t i = from; i < to; ++i) sum += r.log[i].makespan;
    return sum / static_cast<double>(to - from);
  };
  const double start = mean(0, 16);  // the first batch is sampled from the initial policy
  EXPECT_LT(mean(304, 320), 0.9 * start) << "start " << start;
  EXPECT_LT(r.greedy_makespan, 0.9 * start) << "start " << start;
}

INSTANTIATE_TEST_SUITE_P(LearnTraining, TinyRun,
                         ::testing::Values(Advantage::relative, Advantage::normalized),
                         [](const ::testing::TestParamInfo<Advantage>& advantage) {
                           return advantage.param == Advantage::relative ? "relative" : "normalized";
                         });

// Two training graphs: batches alternate between them, each with its own running mean and best; a
// resumed run continues exactly; the policy places a graph it never saw.
TEST(LearnTraining, SeveralGraphs) {
  const TrainingSetup setup;
  const TaskGraph ffnn = read_paper_graph(std::string(DOPPLER_SOURCE_DIR) +
                                          "/configs/workloads/doppler-paper/ffnn_192nodes.txt");
  const std::string whole = fresh_dir("two_whole"), split = fresh_dir("two_split");
  TrainSettings s = small_settings();
  s.advantage = Advantage::normalized;
  TrainRequest request = setup.request(s, whole);
  request.more_graphs = {&ffnn};
  const TrainResult uninterrupted = train(request);
  ASSERT_EQ(uninterrupted.log.size(), 32u);
  double chainmm_best = 0;
  for (const EpisodeRecord& r : uninterrupted.log) {
    EXPECT_EQ(r.graph, r.episode / 4 % 2) << r.episode;
    if (r.graph == 0) chainmm_best = chainmm_best == 0 ? r.makespan : std::min(chainmm_best, r.makespan);
  }
  EXPECT_EQ(uninterrupted.log.back().graph, 1u);
  EXPECT_EQ(uninterrupted.best_makespan, std::min(chainmm_best, uninterrupted.greedy_makespan));
  // Makespans of the two graphs differ: each graph's running mean follows its own episodes only.
  EXPECT_NE(uninterrupted.log[3].running, uninterrupted.log[7].running);
  EXPECT_EQ(uninterrupted.log[0].running, uninterrupted.log[0].makespan);
  EXPECT_EQ(uninterrupted.log[4].running, uninterrupted.log[4].makespan);

  expect_same_logs(uninterrupted.log, split_and_resume(request, split, 20).log);
  EXPECT_EQ(read_text_file(whole + "/episodes.csv"), read_text_file(split + "/episodes.csv"));
  // The same checkpoint resumed with one graph fewer is refused.
  TrainRequest fewer = setup.request(s, split);
  fewer.resume = true;
  EXPECT_EQ(error_of([&] { train(fewer); }),
            split + "/policy.ckpt: its episode log trains on 2 graphs or more, the config on 1");

  const TaskGraph unseen = read_paper_graph(
      std::string(DOPPLER_SOURCE_DIR) + "/configs/workloads/doppler-paper/transformer_block_215nodes.txt");
  sim::Simulator simulator(unseen, setup.machine, sim::CostModelKind::paper);
  const LearnedPolicy policy = LearnedPolicy::load(whole + "/policy.pt", 4);
  EXPECT_NO_THROW(validate_plan(policy.place(simulator), unseen, 4));
  EXPECT_NO_THROW(validate_plan(policy.place(simulator, 3, 1), unseen, 4));
  fs::remove_all(whole);
  fs::remove_all(split);
}

// A plan teacher with the DAgger mixture and self-imitation of the best plan so far: a resumed run
// continues exactly on two graphs (each graph's best plan is kept and reloaded), and self-imitation
// changes stage II's objective, not stage I's.
TEST(LearnTraining, PlanTeacherAndSelfImitationResumeExactly) {
  const TrainingSetup setup;
  const TaskGraph ffnn = read_paper_graph(std::string(DOPPLER_SOURCE_DIR) +
                                          "/configs/workloads/doppler-paper/ffnn_192nodes.txt");
  const std::string whole = fresh_dir("self_whole"), split = fresh_dir("self_split");
  TrainSettings s = small_settings();
  s.teacher = "best_heuristic";
  s.follow_teacher = 1;
  s.self_imitation = 0.5;
  TrainRequest request = setup.request(s, whole);
  request.more_graphs = {&ffnn};
  const TrainResult uninterrupted = train(request);
  EXPECT_TRUE(fs::exists(whole + "/best_plan_1.yaml"));
  expect_same_logs(uninterrupted.log, split_and_resume(request, split, 20).log);
  EXPECT_EQ(read_text_file(whole + "/episodes.csv"), read_text_file(split + "/episodes.csv"));
  TrainSettings plain = s;
  plain.self_imitation = 0;
  TrainRequest without = setup.request(plain, "");
  without.more_graphs = {&ffnn};
  const TrainResult other = train(without);
  ASSERT_EQ(other.log.size(), uninterrupted.log.size());
  bool differs = false;
  for (std::size_t i = 0; i < 16; ++i) EXPECT_EQ(other.log[i].loss, uninterrupted.log[i].loss) << i;
  for (std::size_t i = 16; i < other.log.size(); ++i)
    differs |= other.log[i].loss != uninterrupted.log[i].loss;
  EXPECT_TRUE(differs);  // stage II's objective has the imitation term
  fs::remove_all(whole);
  fs::remove_all(split);
}

// Stage III learns from the makespans `measure` returns (on GPUs in `doppler train`; here a machine
// that runs every plan's simulated makespan 1.5x slower, plus 1 ms): its episodes record them, its
// running mean and best start afresh, it uses gpu_lr and no epsilon, the final greedy plan is measured,
// and it continues exactly after a resume.
TEST(LearnTraining, StageThreeLearnsFromMeasuredMakespans) {
  const TrainingSetup setup;
  sim::Simulator simulator(setup.graph, setup.machine, sim::CostModelKind::paper);
  std::size_t measured = 0;
  const auto slower = [&](std::size_t graph, const std::vector<Plan>& plans) {
    EXPECT_EQ(graph, 0u);
    std::vector<double> seconds;
    for (const Plan& plan : plans)
      seconds.push_back(1.5 * simulator.makespan(plan.device, plan.priority) + 1e-3);
    measured += plans.size();
    return seconds;
  };
  TrainSettings s = small_settings();
  s.gpu_episodes = 8;
  s.gpu_lr = 2e-3;
  s.epsilon = 0.2;
  const std::string whole = fresh_dir("stage3_whole"), split = fresh_dir("stage3_split");
  TrainRequest request = setup.request(s, whole);
  EXPECT_EQ(error_of([&] { train(request); }),
            "train: stage III (train.gpu_episodes) needs GPUs to measure plans on, and none were given");
  request.measure = slower;
  const TrainResult r = train(request);
  ASSERT_EQ(r.log.size(), 40u);
  EXPECT_EQ(measured, 8u + 1u);  // the stage III episodes and the final greedy plan
  double best = 0;
  for (std::size_t i = 32; i < 40; ++i) {
    const EpisodeRecord& e = r.log[i];
    EXPECT_EQ(e.stage, 3);
    EXPECT_EQ(e.epsilon, 0);
    EXPECT_DOUBLE_EQ(e.lr, 2e-3 * std::pow(s.lr_decay, i / 4 * 4 / 1000.0));
    best = best == 0 ? e.makespan : std::min(best, e.makespan);
    EXPECT_EQ(e.best, best);
  }
  EXPECT_EQ(r.log[31].stage, 2);
  EXPECT_EQ(r.log[32].running, r.log[32].makespan);  // the running mean restarts with stage III
  EXPECT_GT(r.log[32].makespan, r.log[31].best);     // measured, not simulated
  sim::Simulator check(setup.graph, setup.machine, sim::CostModelKind::paper);
  const Plan greedy = load_plan(whole + "/greedy_plan.yaml");
  EXPECT_DOUBLE_EQ(r.greedy_makespan, 1.5 * check.makespan(greedy.device, greedy.priority) + 1e-3);
  const Plan best_plan = load_plan(whole + "/best_plan.yaml");
  EXPECT_DOUBLE_EQ(r.log.back().best, 1.5 * check.makespan(best_plan.device, best_plan.priority) + 1e-3);

  expect_same_logs(r.log, split_and_resume(request, split, 36).log);
  fs::remove_all(whole);
  fs::remove_all(split);
}

TEST(LearnTraining, ThreadCountDoesNotChangeResults) {
  const TrainingSetup setup;
  TrainSettings one = small_settings();
  one.threads = 1;
  TrainSettings three = small_settings();
  three.threads = 3;
  const TrainResult a = train(setup.request(one, ""));
  const TrainResult b = train(setup.request(three, ""));
  expect_same_logs(a.log, b.log);
  EXPECT_EQ(a.greedy_makespan, b.greedy_makespan);
}

TEST(LearnTraining, ResumeContinuesExactly) {
  const TrainingSetup setup;
  const std::string whole = fresh_dir("whole"), split = fresh_dir("split");
  const TrainResult uninterrupted = train(setup.request(small_settings(), whole));
  // Stopped inside stage II, on a batch boundary.
  const TrainResult rest = split_and_resume(setup.request(small_settings(), split), split, 20);
  EXPECT_EQ(rest.episodes_run, 12u);
  expect_same_logs(uninterrupted.log, rest.log);
  EXPECT_EQ(uninterrupted.greedy_makespan, rest.greedy_makespan);
  EXPECT_EQ(read_text_file(whole + "/episodes.csv"), read_text_file(split + "/episodes.csv"));
  EXPECT_EQ(read_text_file(whole + "/greedy_plan.yaml"), read_text_file(split + "/greedy_plan.yaml"));
  // A second run into the same directory must be asked to resume.
  EXPECT_EQ(
      error_of([&] { train(setup.request(small_settings(), whole)); }),
      whole +
          "/policy.ckpt: a checkpoint is already there (pass --resume to continue it, or choose another "
          "--out)");
  fs::remove_all(whole);
  fs::remove_all(split);
}

TEST(LearnTraining, WrongCheckpointsAreOneLineErrors) {
  const TrainingSetup setup;
  const std::string dir = fresh_dir("wrong");
  TrainSettings s = small_settings();
  s.imitation_episodes = 4;
  s.rl_episodes = 0;
  train(setup.request(s, dir));
  const std::string ckpt = dir + "/policy.ckpt";
  EXPECT_EQ(
      error_of([&] { LearnedPolicy::load(ckpt, 2); }),
      ckpt + ": the policy was trained for 4 devices, the machine has 2 (train a policy for 2 devices)");
  const LearnedPolicy policy = LearnedPolicy::load(ckpt, 4);
  EXPECT_EQ(policy.sizes(), kSmall);
  sim::Simulator simulator(setup.graph, setup.machine, sim::CostModelKind::paper);
  EXPECT_NO_THROW(validate_plan(policy.place(simulator), setup.graph, 4));

  TrainRequest other = setup.request(s, dir);
  other.resume = true;
  other.sizes.hidden = 32;
  EXPECT_EQ(
      error_of([&] { train(other); }),
      ckpt +
          ": the policy's sizes (hidden 16, steps 2, edge_basis 2, head_hidden 16) differ from the config's");

  const std::string junk = dir + "/junk.ckpt";
  write_file_atomically(junk, "not a checkpoint\n");
  const std::string message = error_of([&] { LearnedPolicy::load(junk, 4); });
  EXPECT_EQ(message.rfind(junk + ": not a usable doppler policy checkpoint (", 0), 0u) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos);
  EXPECT_EQ(error_of([&] { LearnedPolicy::load(dir + "/none.ckpt", 4); }),
            dir + "/none.ckpt: no such checkpoint file");
  fs::remove_all(dir);
}

TEST(LearnTraining, Ablations) {
  const TrainingSetup setup;
  sim::Simulator simulator(setup.graph, setup.machine, sim::CostModelKind::paper);
  TrainSettings s = small_settings();
  // SEL-only learning is off: the selection order is the critical-path heuristic's.
  TrainRequest plc_only = setup.request(s, "");
  plc_only.mode.learned_sel = false;
  const Plan critical_path = policies::place("critical_path", {simulator, 1});
  EXPECT_EQ(train(plc_only).best_plan.priority, critical_path.priority);
  // PLC learning off: every op goes where the teacher puts it, in the learned order.
  const std::string dir = fresh_dir("sel_only");
  TrainRequest sel_only = setup.request(s, dir);
  sel_only.mode.learned_plc = false;
  const Plan plan = train(sel_only).best_plan;
  std::vector<OpId> order(plan.device.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](OpId a, OpId b) { return plan.priority[a] < plan.priority[b]; });
  policies::PlacementEnv env(simulator);
  for (const OpId op : order) {
    EXPECT_EQ(plan.device[op], env.teacher_devices(op).front()) << op;
    env.step(op, plan.device[op]);
  }
  EXPECT_EQ(LearnedPolicy::load(dir + "/policy.ckpt", 4).mode(), sel_only.mode);
  TrainRequest resumed = setup.request(s, dir);
  resumed.resume = true;
  EXPECT_EQ(error_of([&] { train(resumed); }),
            dir + "/policy.ckpt: the policy's sel/plc/priority/device_sum differ from the config's");
  fs::remove_all(dir);
  // device_sum: mean is kept in the checkpoint; the loaded policy places as training's greedy run did.
  const std::string mean_dir = fresh_dir("mean_sum");
  TrainRequest mean = setup.request(s, mean_dir);
  mean.mode.mean_device_sum = true;
  const TrainResult trained = train(mean);
  const LearnedPolicy loaded = LearnedPolicy::load(mean_dir + "/policy.ckpt", 4);
  EXPECT_EQ(loaded.mode(), mean.mode);
  EXPECT_EQ(simulator.makespan(loaded.place(simulator).device, loaded.place(simulator).priority),
            trained.greedy_makespan);
  fs::remove_all(mean_dir);
  // Without priority the plans carry none.
  TrainRequest no_priority = setup.request(s, "");
  no_priority.mode.priority = false;
  EXPECT_FALSE(train(no_priority).best_plan.has_priority());
}

TEST(LearnTraining, ConfigSections) {
  const ExperimentNames names{{"paper"}, {"critical_path"}, {"policy", "train"}};
  const std::string graph =
      std::string(DOPPLER_SOURCE_DIR) + "/configs/workloads/doppler-paper/chain_mm_112nodes.txt";
  const std::string head = "graph: " + graph + "\ndevices: 4\nseed: 9\n";
  const Experiment e = parse_experiment(
      head + "policy: {hidden: 64, steps: 3}\ntrain: {rl_episodes: 10, batch: 8, lr: 0.01}\n", "t.yaml",
      names);
  EXPECT_EQ(read_policy_sizes(e),
            (PolicySizes{.hidden = 64, .steps = 3, .edge_basis = 4, .head_hidden = 128}));
  const TrainSettings s = read_train_settings(e);
  EXPECT_EQ(s.rl_episodes, 10u);
  EXPECT_EQ(s.imitation_episodes, 1000u);
  EXPECT_EQ(s.batch, 8u);
  EXPECT_EQ(s.lr, 0.01);
  EXPECT_EQ(s.seed, 9u);
  EXPECT_EQ(s.advantage, Advantage::relative);
  EXPECT_TRUE(s.graphs.empty());
  const TrainSettings more = read_train_settings(parse_experiment(
      head + "train: {advantage: normalized, graphs: [" + graph + ", random:30]}\n", "dir/t.yaml", names));
  EXPECT_EQ(more.advantage, Advantage::normalized);
  EXPECT_EQ(more.graphs, (std::vector<std::string>{graph, "random:30"}));
  EXPECT_EQ(error_of([&] {
              read_train_settings(parse_experiment(head + "train: {advantage: mean}\n", "t.yaml", names));
            }),
            "t.yaml:4: 'train.advantage': expected relative or normalized");
  EXPECT_EQ(
      error_of([&] {
        read_train_settings(parse_experiment(head + "train: {graphs: [nowhere.txt]}\n", "t.yaml", names));
      }),
      "t.yaml:4: 'train.graphs[0]': file 'nowhere.txt' does not exist");
  EXPECT_EQ(
      error_of([&] { read_train_settings(parse_experiment(head + "train:\n  bach: 3\n", "t.yaml", names)); }),
      "t.yaml:5: 'train.bach': unknown key (known: imitation_episodes, rl_episodes, gpu_episodes, "
      "gpu_repetitions, gpu_lr, batch, threads, lr, rl_lr, lr_decay, entropy, epsilon, baseline_decay, "
      "advantage, graphs, teacher, follow_teacher, self_imitation, checkpoint_every)");
  EXPECT_EQ(s.teacher, "critical_path");
  EXPECT_EQ(
      read_train_settings(parse_experiment(head + "train: {teacher: best_heuristic}\n", "t.yaml", names))
          .teacher,
      "best_heuristic");
  EXPECT_EQ(read_train_settings(parse_experiment(head + "train: {teacher: heft}\n", "t.yaml", names)).teacher,
            "heft");
  EXPECT_EQ(error_of([&] {
              read_train_settings(parse_experiment(head + "train: {teacher: hfet}\n", "t.yaml", names));
            }),
            "t.yaml:4: 'train.teacher': unknown teacher 'hfet' (known: random, round_robin, critical_path, "
            "heft, etf, "
            "metis, eindecomp, local_search, local_search_devices, best_heuristic)");
  EXPECT_EQ(
      error_of([&] { read_policy_sizes(parse_experiment(head + "policy: {hidden: 0}\n", "t.yaml", names)); }),
      "t.yaml:4: 'policy.hidden': must be at least 1");
  const PolicyConfig ablation = read_policy(
      parse_experiment(head + "policy: {sel: critical_path, priority: false}\n", "t.yaml", names));
  EXPECT_EQ(ablation.mode, (PolicyMode{.learned_sel = false, .learned_plc = true, .priority = false}));
  EXPECT_TRUE(read_policy(parse_experiment(head + "policy: {device_sum: mean}\n", "t.yaml", names))
                  .mode.mean_device_sum);
  EXPECT_FALSE(read_policy(parse_experiment(head + "policy: {device_sum: sum}\n", "t.yaml", names))
                   .mode.mean_device_sum);
  EXPECT_EQ(
      error_of([&] { read_policy(parse_experiment(head + "policy: {device_sum: max}\n", "t.yaml", names)); }),
      "t.yaml:4: 'policy.device_sum': expected sum or mean");
  EXPECT_EQ(error_of([&] {
              read_policy(parse_experiment(head + "policy: {sel: critical_path, plc: critical_path}\n",
                                           "t.yaml", names));
            }),
            "t.yaml:4: 'policy': sel and plc are both critical_path: nothing would be learned");
  EXPECT_EQ(
      error_of([&] { read_policy(parse_experiment(head + "policy: {sel: greedy}\n", "t.yaml", names)); }),
      "t.yaml:4: 'policy.sel': expected learned or critical_path");
  EXPECT_EQ(error_of([&] { parse_experiment(head + "train: 3\n", "t.yaml", names); }),
            "t.yaml:4: 'train': expected a mapping");
}

}  // namespace
}  // namespace doppler::learn
