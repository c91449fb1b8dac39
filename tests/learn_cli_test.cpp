// doppler train / place / evaluate end to end: a tiny training run (on one graph or several) writes its
// checkpoint, policy file, episode log, plans and learning curve; --resume continues it; place applies the
// checkpoint (greedy and best-of-K) and saves a valid plan; the policy file places exactly like the
// checkpoint and is much smaller; a checkpoint or policy file for another device count, a missing one and bad
// train sections are one-line errors that write nothing.
#include <cstdlib>
#include <filesystem>
#include <map>

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
            "episode,stage,makespan,running,best,loss,lr,epsilon,graph");
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

// The committed paper-graph policies (configs/policies/paper-4dev) load through --runs, and place as
// docs/PERFORMANCE.md reports: best of 64 below every heuristic on ChainMM, Llama-block and Llama-layer,
// greedy too on ChainMM and Llama-block; on FFNN below every heuristic but METIS, whose plan reaches the
// lower bound (total work / 4 devices), which no placement can beat.
TEST_F(LearnCli, CommittedPaperPolicies) {
  const nlohmann::json runs =
      run_json("evaluate configs/train/chainmm.yaml --runs configs/policies/paper-4dev --samples 2 --json");
  EXPECT_EQ(runs["results"].size(), 9u);
  std::map<std::string, std::map<std::string, double>> makespan;
  const nlohmann::json paper = run_json("evaluate configs/evaluate-paper.yaml --json");
  for (const auto& r : paper["results"])
    makespan[r["graph"].get<std::string>()][r["method"].get<std::string>()] = r["makespan"].get<double>();
  const auto best_heuristic = [&](const std::string& graph, const std::string& except) {
    double best = 0;
    for (const auto& [method, value] : makespan[graph]) {
      if (method.rfind("doppler", 0) != 0 && method != except && (best == 0 || value < best)) best = value;
    }
    return best;
  };
  for (const char* graph : {"chainmm", "llama_block", "llama_layer"})
    EXPECT_LT(makespan[graph]["doppler_best_of_64"], best_heuristic(graph, "")) << graph;
  for (const char* graph : {"chainmm", "llama_block"})
    EXPECT_LT(makespan[graph]["doppler"], best_heuristic(graph, "")) << graph;
  EXPECT_LT(makespan["ffnn"]["doppler_best_of_64"], best_heuristic("ffnn", "metis"));
  const nlohmann::json ffnn = run_json("graph configs/workloads/doppler-paper/ffnn_192nodes.txt --json");
  EXPECT_EQ(makespan["ffnn"]["metis"], ffnn["lower_bound"].get<double>());

  // Generalisation: the Llama-block policy places Llama-layer, which it never saw, below critical path.
  const nlohmann::json unseen = run_json(
      "evaluate configs/paper/llama_layer.yaml --policy configs/policies/paper-4dev/llama_block/policy.pt "
      "--samples 64 --json");
  std::map<std::string, double> layer;
  for (const auto& r : unseen["results"]) layer[r["method"].get<std::string>()] = r["makespan"].get<double>();
  EXPECT_LT(layer["doppler"], layer["critical_path"]);
  EXPECT_LT(layer["doppler_best_of_64"], best_heuristic("llama_layer", ""));
}

// The committed einsum-workload policies (configs/policies/einsum-h100) on the calibrated H100 machines
// they were trained on (issue_depth 4: the simulator replays the executor's launch-ahead), as
// docs/PERFORMANCE.md reports: best of 1024 below every heuristic's makespan on ChainMM (2 and 4
// GPUs), Llama-block, Llama-layer and FFNN (4 GPUs), by the documented ratios (at least 10% on the two
// Llama cases and FFNN, 9.1% and 6.6% on ChainMM);
// greedy below it on the two Llama cases (by 10% on Llama-block). The ratios are checked on the
// committed plan files (configs/einsum/gpu/plans), replayed through the GPU configs that `doppler
// execute` runs. Live, the best of 1024 reproduces its plan exactly, and so does the greedy policy
// except on two cases whose committed greedy plans came from float32 inference (docs/TRAINING.md).
TEST_F(LearnCli, CommittedEinsumPolicies) {
  const nlohmann::json j = run_json("evaluate configs/evaluate-einsum-h100.yaml --json");
  std::map<std::string, std::map<std::string, double>> makespan;
  for (const auto& r : j["results"])
    makespan[r["graph"].get<std::string>()][r["method"].get<std::string>()] = r["makespan"].get<double>();
  ASSERT_EQ(makespan.size(), 7u);
  const auto best_heuristic = [&](const std::string& graph) {
    double best = 0;
    for (const auto& [method, value] : makespan[graph]) {
      if (method.rfind("doppler", 0) != 0 && (best == 0 || value < best)) best = value;
    }
    return best;
  };
  struct Case {
    const char* name;     // the case: plan files configs/einsum/gpu/plans/NAME.policy{,-best1024}.yaml
    const char* config;   // the GPU config the plans run under (`doppler execute`)
    const char* machine;  // the machine it was trained on (configs/machines/NAME.yaml)
    double best_of_1024;  // at most this ratio to the best heuristic (docs/PERFORMANCE.md, rounded up)
    double greedy;        // the same for the greedy plan; 0: greedy is not below the best heuristic
    bool greedy_reproduced = true;  // false: float32 inference's near-ties made the committed greedy plan
  };
  for (const Case& c :
       {Case{"chain_mm_2gpu", "chain_mm", "h100-2-calibrated-eager", 0.893, 0.974},
        Case{"chain_mm_4gpu", "chain_mm_4gpu", "h100-4-calibrated-eager", 0.935, 0},
        Case{"llama_block_4gpu", "llama_block_4gpu", "h100-4-calibrated-eager", 0.8, 0.885},
        Case{"llama_layer_4gpu", "llama_layer_4gpu", "h100-4-calibrated-eager", 0.865, 0.945},
        Case{"ffnn_4gpu", "ffnn_4gpu", "h100-4-calibrated-format2", 0.825, 0},
        Case{"llama_block_2gpu", "llama_block", "h100-2-calibrated-eager", 0.935, 0.98, false},
        Case{"ffnn_2gpu", "ffnn", "h100-2-calibrated-eager", 0.985, 0}}) {
    const std::string graph = std::string("einsum_") + c.name;
    const double best = best_heuristic(graph);
    const std::string simulate = std::string("simulate configs/einsum/gpu/") + c.config +
                                 ".yaml --machine configs/machines/" + c.machine +
                                 ".yaml --json --placement configs/einsum/gpu/plans/" + c.name;
    const double best_of_1024 = run_json(simulate + ".policy-best1024.yaml")["makespan"].get<double>();
    EXPECT_LE(best_of_1024, c.best_of_1024 * best) << graph;
    EXPECT_DOUBLE_EQ(best_of_1024, makespan[graph]["doppler_best_of_1024"]) << graph;
    const double greedy = run_json(simulate + ".policy.yaml")["makespan"].get<double>();
    if (c.greedy > 0) {
      EXPECT_LE(greedy, c.greedy * best) << graph;
    }
    if (c.greedy_reproduced) {
      EXPECT_DOUBLE_EQ(greedy, makespan[graph]["doppler"]) << graph;
    } else {
      EXPECT_LE(makespan[graph]["doppler"], greedy) << graph;
    }
  }
}

// Placement runs the encoders in float64, so LibTorch's vector kernels and the BLAS's (chosen by the
// CPU at run time) do not change a plan: the same evaluation with the scalar kernels places alike
// (in float32 7 of its 63 makespans differed).
TEST_F(LearnCli, PlansDoNotDependOnTheCpusVectorKernels) {
  const nlohmann::json usual = run_json("evaluate configs/evaluate-einsum-h100.yaml --json");
  ::setenv("ATEN_CPU_CAPABILITY", "default", 1);
  ::setenv("OPENBLAS_CORETYPE", "Sandybridge", 1);
  const nlohmann::json scalar = run_json("evaluate configs/evaluate-einsum-h100.yaml --json");
  ::unsetenv("ATEN_CPU_CAPABILITY");
  ::unsetenv("OPENBLAS_CORETYPE");
  EXPECT_EQ(usual["results"], scalar["results"]);
}

// configs/evaluate-einsum-h100-gpu.yaml: the stage-III policies (written by LibTorch 2.11 on the GPU
// machine) load here and place every graph of their evaluation file.
TEST_F(LearnCli, CommittedStageThreePolicies) {
  const nlohmann::json j = run_json("evaluate configs/evaluate-einsum-h100-gpu.yaml --samples 4 --json");
  std::map<std::string, int> learned_rows;
  for (const auto& r : j["results"]) {
    EXPECT_GT(r["makespan"].get<double>(), 0) << r;
    if (r["method"].get<std::string>().rfind("doppler", 0) == 0)
      ++learned_rows[r["graph"].get<std::string>()];
  }
  EXPECT_EQ(learned_rows, (std::map<std::string, int>{{"einsum_chain_mm_4gpu", 2},
                                                      {"einsum_llama_block_4gpu", 2},
                                                      {"einsum_llama_layer_4gpu", 2}}));
}

// configs/evaluate-paper.yaml: the committed policies on the four paper graphs against every heuristic,
// the same rows as evaluating each config with its policy file; misuse is a one-line error.
// bench place times greedy placements and says on how many threads the encoders ran.
TEST_F(LearnCli, BenchPlace) {
  const nlohmann::json j = run_json(
      "bench place configs/paper/llama_layer.yaml --policy configs/policies/paper-4dev/llama_layer/policy.pt "
      "--repetitions 2 --json");
  EXPECT_EQ(j["ops"], 229);
  EXPECT_GT(j["place_ms_median"].get<double>(), 0);
  EXPECT_LE(j["place_ms_min"].get<double>(), j["place_ms_median"].get<double>());
  EXPECT_GE(j["threads"].get<int>(), 1);
  expect_error(
      "bench place configs/paper/llama_layer.yaml --devices 2 --policy "
      "configs/policies/paper-4dev/llama_layer/policy.pt",
      {"configs/policies/paper-4dev/llama_layer/policy.pt", "4"});
}

TEST_F(LearnCli, EvaluatePaperConfig) {
  const nlohmann::json j = run_json("evaluate configs/evaluate-paper.yaml --json");
  std::map<std::string, std::vector<std::string>> methods;
  for (const auto& r : j["results"]) {
    EXPECT_GT(r["makespan"].get<double>(), 0) << r;
    methods[r["graph"].get<std::string>()].push_back(r["method"].get<std::string>());
  }
  ASSERT_EQ(methods.size(), 4u);
  for (const char* graph : {"chainmm", "ffnn", "llama_block", "llama_layer"}) {
    const std::vector<std::string>& m = methods[graph];
    for (const char* method : {"random", "round_robin", "critical_path", "heft", "etf", "eindecomp",
                               "doppler", "doppler_best_of_64"}) {
      EXPECT_NE(std::find(m.begin(), m.end(), method), m.end()) << graph << " " << method;
    }
  }
  const nlohmann::json ffnn = run_json(
      "evaluate configs/paper/ffnn.yaml --policy configs/policies/paper-4dev/ffnn/policy.pt --samples 64 "
      "--json");
  nlohmann::json ffnn_rows = nlohmann::json::array();
  for (const auto& r : j["results"]) {
    if (r["graph"] == "ffnn") ffnn_rows.push_back(r);
  }
  EXPECT_EQ(ffnn_rows, ffnn["results"]);
  EXPECT_EQ(ffnn["backend"], "sim");
  double best_heuristic = 0;
  for (const auto& r : ffnn["results"]) {
    const double value = r["makespan"].get<double>();
    EXPECT_EQ(r["simulated"].get<double>(), value);
    if (r["method"].get<std::string>().rfind("doppler", 0) != 0 &&
        (best_heuristic == 0 || value < best_heuristic))
      best_heuristic = value;
  }
  for (const auto& r : ffnn["results"])
    EXPECT_DOUBLE_EQ(r["ratio_to_best_heuristic"].get<double>(),
                     r["makespan"].get<double>() / best_heuristic);
  const std::string csv = path("ffnn.csv"), svg = path("ffnn.svg");
  run("evaluate configs/paper/ffnn.yaml --policy configs/policies/paper-4dev/ffnn/policy.pt --samples 4 "
      "--csv " +
      csv + " --plot " + svg);
  EXPECT_EQ(lines_of(slurp(csv)).front(),
            "graph,method,makespan,ratio_to_critical_path,ratio_to_best_heuristic,simulated");
  EXPECT_EQ(lines_of(slurp(csv)).size(), ffnn["results"].size() + 1);
  EXPECT_NE(slurp(svg).find("best heuristic"), std::string::npos);
  const nlohmann::json fewer = run_json("evaluate configs/evaluate-paper.yaml --samples 2 --json");
  EXPECT_EQ(fewer["results"].size(), j["results"].size());
  EXPECT_EQ(fewer["results"].back()["method"], "doppler_best_of_2");

  expect_error("evaluate configs/evaluate-paper.yaml --runs configs/policies/paper-4dev",
               {"configs/evaluate-paper.yaml", "names its policies"});
  expect_error("evaluate configs/evaluate-paper.yaml configs/paper/ffnn.yaml",
               {"configs/evaluate-paper.yaml", "evaluated alone"});
  const std::string bad =
      write("bad_eval.yaml", "evaluate:\n  samples: 4\n  runs:\n    - {config: x.yaml}\n");
  expect_error("evaluate " + bad, {"bad_eval.yaml:4:", "'evaluate.runs[0].config'", "does not exist"});
  const std::string typo = write("typo_eval.yaml", "evaluate: {sample: 4, runs: []}\n");
  expect_error("evaluate " + typo, {"typo_eval.yaml:1:", "'evaluate.sample'", "unknown key"});
}

// train.graphs: a tiny run on ChainMM and FFNN; the policy places Llama-block, which it never saw.
TEST_F(LearnCli, TrainsOnSeveralGraphs) {
  const std::string cfg =
      config("two.yaml", 4,
             "imitation_episodes: 8, rl_episodes: 8, batch: 4, advantage: normalized, graphs: [" + kRoot +
                 "/configs/workloads/doppler-paper/ffnn_192nodes.txt]");
  const std::string out = path("two");
  const nlohmann::json trained = run_json("train " + cfg + " --out " + out + " --json");
  EXPECT_EQ(trained["training_graphs"], 2);
  EXPECT_EQ(trained["episodes"], 16);
  const std::vector<std::string> rows = lines_of(slurp(fs::path(out) / "episodes.csv"));
  ASSERT_EQ(rows.size(), 17u);
  EXPECT_EQ(rows.front(), "episode,stage,makespan,running,best,loss,lr,epsilon,graph");
  EXPECT_EQ(rows[1].substr(rows[1].rfind(',')), ",0");
  EXPECT_EQ(rows[5].substr(rows[5].rfind(',')), ",1");
  const std::string plan = path("block.yaml");
  const nlohmann::json placed = run_json(
      "place --policy " + out + "/policy.pt configs/paper/llama_block.yaml --out " + plan + " --json");
  EXPECT_GT(placed["makespan"].get<double>(), 0);
  EXPECT_EQ(load_plan(plan).device.size(), 182u);  // transformer_block_215nodes.txt holds 182 ops
  const nlohmann::json replay =
      run_json("simulate configs/paper/llama_block.yaml --placement " + plan + " --json");
  EXPECT_EQ(replay["makespan"], placed["makespan"]);

  // Fine-tuning: a fresh run on Llama-block starting from the two-graph policy's weights.
  const std::string block =
      write("block.yaml", "graph: " + kRoot +
                              "/configs/workloads/doppler-paper/transformer_block_215nodes.txt\n"
                              "devices: 4\nmodel: paper\nseed: 2\n"
                              "policy: {hidden: 16, steps: 2, edge_basis: 2, head_hidden: 16}\n"
                              "train: {imitation_episodes: 0, rl_episodes: 4, batch: 4}\n");
  const nlohmann::json tuned =
      run_json("train " + block + " --init " + out + "/policy.pt --out " + path("tuned") + " --json");
  EXPECT_EQ(tuned["episodes"], 4);
  run_json("train " + block + " --out " + path("untuned") + " --json");  // from the seeded weights
  EXPECT_NE(slurp(fs::path(path("untuned")) / "episodes.csv"),
            slurp(fs::path(path("tuned")) / "episodes.csv"));
  expect_error("train " + block + " --init " + out + "/policy.pt --resume --out " + path("tuned"),
               {"--resume or --init, not both"});
  expect_error("train " + cfg + " --init " + path("none.pt") + " --out " + path("x"), {"none.pt"});
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
  // Stage III needs data to run (an einsum workload) and as many GPUs as devices (here 16: more than
  // any machine this runs on has; or no hw backend at all). Nothing is written either way.
  const std::string graph_gpu =
      config("graph_gpu.yaml", 4, "imitation_episodes: 0, rl_episodes: 0, gpu_episodes: 4");
  expect_error("train " + graph_gpu + " --out " + path("graph_gpu"),
               {"graph_gpu.yaml: train.gpu_episodes (stage III) needs an einsum workload"});
  const std::string einsum_gpu =
      write("einsum_gpu.yaml",
            "einsum: {workload: chain_mm, n: 64, length: 2, dtype: f32}\n"
            "decompose: {method: eindecomp, devices: 16}\ndevices: 16\nseed: 2\n"
            "policy: {hidden: 16, steps: 2, edge_basis: 2, head_hidden: 16}\n"
            "train: {imitation_episodes: 0, rl_episodes: 0, gpu_episodes: 4, batch: 4}\n");
  expect_error("train " + einsum_gpu + " --out " + path("einsum_gpu"),
               {"train: stage III (train.gpu_episodes): "});
  EXPECT_FALSE(fs::exists(path("einsum_gpu")));
  // evaluate --backend cuda: the same two conditions; nothing written.
  expect_error(
      "evaluate " + graph_gpu + " --policy " + out + "/policy.pt --backend cuda --csv " + path("e.csv"),
      {"graph_gpu.yaml: --backend cuda needs an einsum workload"});
  expect_error(
      "evaluate " + einsum_gpu + " --policy " + out + "/policy.pt --backend cuda --csv " + path("e.csv"),
      {"evaluate --backend cuda: "});
  expect_error("evaluate " + einsum_gpu + " --policy " + out + "/policy.pt --measured-samples 4",
               {"evaluate --measured-samples: needs --backend cuda"});
  EXPECT_FALSE(fs::exists(path("e.csv")));
}

}  // namespace
}  // namespace doppler::test_support
