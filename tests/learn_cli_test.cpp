// doppler train / place end to end: a tiny training run writes its checkpoint, policy file, episode
// log, plans and learning curve; --resume continues it; place applies the checkpoint (greedy and
// best-of-K) and saves a valid plan; the policy file places exactly like the checkpoint and is much
// smaller; a checkpoint or policy file for another device count, a missing one and bad train
// sections are one-line errors that write nothing.
#include <filesystem>

#include "cli_fixture.hpp"
#include "doppler/plan.hpp"

namespace doppler::test_support {
namespace {

namespace fs = std::filesystem;

class LearnCli : public Cli {
 protected:
  std::string config(const std::string& name, std::size_t devices, const std::string& train) const {
    return write(
        name,
        "graph: " + kRoot +
            "/configs/workloads/doppler-paper/chain_mm_112nodes.txt\ndevices: " + std::to_string(devices) +
            "\nmodel: paper\nseed: 2\npolicy: {hidden: 16, steps: 2, edge_basis: 2, head_hidden: 16}\n" +
            "train: {" + train + "}\n");
  }
};

TEST_F(LearnCli, TrainResumePlace) {
  const std::string cfg =
      config("tiny.yaml", 4, "imitation_episodes: 8, rl_episodes: 8, batch: 4, checkpoint_every: 8");
  const std::string out = path("run");
  const nlohmann::json trained = run_json("train " + cfg + " --out " + out + " --json");
  EXPECT_EQ(trained["episodes"], 16);
  EXPECT_GT(trained["greedy_makespan"].get<double>(), 0);
  for (const char* file : {"policy.ckpt", "policy.pt", "episodes.csv", "best_plan.yaml", "greedy_plan.yaml",
                           "learning_curve.svg"}) {
    EXPECT_TRUE(fs::is_regular_file(fs::path(out) / file)) << file;
  }
  EXPECT_EQ(lines_of(slurp(fs::path(out) / "episodes.csv")).size(), 17u);
  EXPECT_EQ(lines_of(slurp(fs::path(out) / "episodes.csv")).front(),
            "episode,stage,makespan,running,best,loss,lr,epsilon");
  EXPECT_NE(slurp(fs::path(out) / "learning_curve.svg").find("<polyline"), std::string::npos);

  // Resuming a finished run adds no episodes; the same --out without --resume is refused.
  const std::string more = config("more.yaml", 4, "imitation_episodes: 8, rl_episodes: 16, batch: 4");
  const nlohmann::json resumed = run_json("train " + more + " --out " + out + " --resume --json");
  EXPECT_EQ(resumed["episodes"], 24);
  EXPECT_EQ(resumed["episodes_run"], 8);
  expect_error("train " + cfg + " --out " + out, {out + "/policy.ckpt", "--resume"});

  const std::string ckpt = out + "/policy.ckpt";
  const std::string plan = path("plan.yaml");
  const nlohmann::json placed = run_json("place --policy " + ckpt + " " + cfg + " --out " + plan + " --json");
  EXPECT_EQ(placed["method"], "doppler-policy");
  const Plan saved = load_plan(plan);
  EXPECT_EQ(saved.device.size(), 76u);  // chain_mm_112nodes.txt holds 76 ops
  const nlohmann::json replay = run_json("simulate " + cfg + " --placement " + plan + " --json");
  EXPECT_EQ(replay["makespan"], placed["makespan"]);
  const nlohmann::json best = run_json("place --policy " + ckpt + " " + cfg + " --samples 4 --json");
  EXPECT_EQ(best["method"], "doppler-policy-best-of-4");
  const Result table = run("place --policy " + ckpt + " " + cfg);
  EXPECT_EQ(table.code, 0) << table.err;
  EXPECT_NE(table.out.find("placing took"), std::string::npos);

  // evaluate: every heuristic, the greedy policy and best-of-K, as JSON and CSV.
  const std::string csv = path("eval.csv");
  const nlohmann::json evaluated =
      run_json("evaluate " + cfg + " --policy " + ckpt + " --samples 3 --csv " + csv + " --json");
  std::vector<std::string> methods;
  for (const auto& r : evaluated["results"]) {
    EXPECT_EQ(r["graph"], "tiny");
    EXPECT_GT(r["makespan"].get<double>(), 0);
    methods.push_back(r["method"]);
  }
  for (const char* m : {"random", "round_robin", "critical_path", "heft", "etf", "eindecomp", "doppler",
                        "doppler_best_of_3"}) {
    EXPECT_NE(std::find(methods.begin(), methods.end(), m), methods.end()) << m;
  }
  EXPECT_EQ(evaluated["results"][methods.size() - 2]["makespan"], placed["makespan"]);
  EXPECT_EQ(lines_of(slurp(csv)).size(), methods.size() + 1);

  // The policy file (no optimizer state) places and evaluates exactly like its checkpoint.
  const std::string small = out + "/policy.pt";
  EXPECT_LT(fs::file_size(small) * 2, fs::file_size(ckpt));
  const std::string small_plan = path("small_plan.yaml");
  const nlohmann::json from_small =
      run_json("place --policy " + small + " " + cfg + " --out " + small_plan + " --json");
  EXPECT_EQ(from_small["makespan"], placed["makespan"]);
  EXPECT_EQ(slurp(small_plan), slurp(plan));
  const nlohmann::json small_best = run_json("place --policy " + small + " " + cfg + " --samples 4 --json");
  EXPECT_EQ(small_best["makespan"], best["makespan"]);
  const nlohmann::json small_evaluated =
      run_json("evaluate " + cfg + " --policy " + small + " --samples 3 --json");
  EXPECT_EQ(small_evaluated["results"], evaluated["results"]);
  // --resume needs the optimizer state: a policy file alone is not a checkpoint to resume.
  const std::string only_policy = path("only_policy");
  fs::create_directories(only_policy);
  fs::copy_file(small, fs::path(only_policy) / "policy.ckpt");
  expect_error("train " + cfg + " --out " + only_policy + " --resume",
               {only_policy + "/policy.ckpt", "without the optimizer's state"});

  expect_error("evaluate " + cfg, {"exactly one of --policy CKPT and --runs DIR"});
  expect_error("evaluate " + cfg + " --runs " + path("nowhere"), {path("nowhere") + "/tiny/policy.ckpt"});
}

// The committed paper-graph policies (configs/policies/paper-4dev) load through --runs and place
// ChainMM below critical path, as docs/PERFORMANCE.md reports.
TEST_F(LearnCli, CommittedPaperPolicies) {
  const nlohmann::json j =
      run_json("evaluate configs/train/chainmm.yaml --runs configs/policies/paper-4dev --samples 2 --json");
  double critical_path = 0, greedy = 0;
  for (const auto& r : j["results"]) {
    if (r["method"] == "critical_path") critical_path = r["makespan"].get<double>();
    if (r["method"] == "doppler") greedy = r["makespan"].get<double>();
  }
  ASSERT_GT(critical_path, 0);
  EXPECT_GT(greedy, 0);
  EXPECT_LT(greedy, critical_path);
}

TEST_F(LearnCli, Errors) {
  const std::string cfg = config("tiny.yaml", 4, "imitation_episodes: 4, rl_episodes: 0, batch: 4");
  const std::string out = path("run");
  run_json("train " + cfg + " --out " + out + " --json");
  const std::string two = config("two.yaml", 2, "imitation_episodes: 4");
  const std::string plan = path("plan.yaml");
  expect_error("place --policy " + out + "/policy.ckpt " + two + " --out " + plan,
               {out + "/policy.ckpt", "trained for 4 devices, the machine has 2"});
  EXPECT_FALSE(fs::exists(plan));
  expect_error("place --policy " + out + "/policy.pt " + two + " --out " + plan,
               {out + "/policy.pt", "trained for 4 devices, the machine has 2"});
  EXPECT_FALSE(fs::exists(plan));
  expect_error("place --policy " + path("none.ckpt") + " " + cfg, {"none.ckpt: no such checkpoint file"});
  const std::string bad = config("bad.yaml", 4, "batch: 0");
  expect_error("train " + bad + " --out " + path("bad"), {"bad.yaml:6:", "'train.batch'", "at least 1"});
  EXPECT_FALSE(fs::exists(path("bad")));
}

}  // namespace
}  // namespace doppler::test_support
