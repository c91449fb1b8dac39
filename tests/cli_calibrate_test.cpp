// `doppler calibrate` and `doppler validate` on traced runs that the simulator records on a known
// "true" machine (per-kind rooflines and asymmetric links): the calibrated machine replays every
// run, held-out placements included, with ~0 error and the same ranking; bad traced runs end in
// one error line naming the file, and nothing is written.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "calibration_truth.hpp"
#include "cli_fixture.hpp"
#include "doppler/einsum/decomposition.hpp"
#include "doppler/einsum/lowering.hpp"
#include "doppler/einsum/workloads.hpp"
#include "doppler/number_format.hpp"
#include "doppler/policies/placement.hpp"
#include "doppler/sim/simulator.hpp"

namespace {

using doppler::test_support::Cli;
using doppler::test_support::Result;
using nlohmann::json;
namespace fs = std::filesystem;

using doppler::test_support::kTrueMachine;

struct WorkloadCase {
  std::string name;
  std::string einsum;  // the config's einsum line
  doppler::einsum::EinsumGraph graph;
};

std::vector<WorkloadCase> workloads() {
  using doppler::einsum::DType;
  return {{"ffnn", "{workload: ffnn, batch: 512, in: 1024, hidden: 2048, out: 512, layers: 2, dtype: f32}",
           doppler::einsum::ffnn({512, 1024, 2048, 512, 2, DType::kF32})},
          {"chain", "{workload: chain_mm, n: 1024, length: 4, dtype: f32}",
           doppler::einsum::chain_mm({1024, 4, DType::kF32})}};
}

class CalibrateCli : public Cli {
 protected:
  // traces/truth.yaml, traces/WORKLOAD.yaml (configs) and one run directory per placement.
  void SetUp() override {
    Cli::SetUp();
    fs::create_directories(dir_ / "traces");
    write("traces/truth.yaml", kTrueMachine);
    const doppler::Machine truth = doppler::parse_machine_yaml(kTrueMachine, "truth.yaml");
    for (const WorkloadCase& w : workloads()) {
      write("traces/" + w.name + ".yaml", "einsum: " + w.einsum + "\nmachine: truth.yaml\n");
      doppler::einsum::DecomposeOptions options;
      options.devices = 2;
      const doppler::TaskGraph graph =
          doppler::einsum::lower(w.graph, doppler::einsum::decompose(w.graph, options).partitions).graph;
      doppler::sim::Simulator simulator(graph, truth, doppler::sim::CostModelKind::roofline);
      for (const std::string method :
           {"random", "round_robin", "critical_path", "heft", "etf", "eindecomp"}) {
        for (std::uint64_t seed : {1, 2, 3}) {
          if (seed > 1 && method != "random") continue;
          doppler::Plan plan = doppler::policies::place(method, {simulator, seed});
          plan.graph_fingerprint = graph.fingerprint();
          const doppler::sim::SimResult result = simulator.run(plan, true);
          const std::string label = method + (method == "random" ? std::to_string(seed) : "");
          const std::string run = "traces/" + w.name + "/" + label;
          fs::create_directories(dir_ / run);
          write(run + "/plan.yaml", doppler::plan_to_yaml(plan));
          write(run + "/trace.csv", doppler::trace_to_csv(result.trace, graph));
          write(run + "/run.yaml", "workload: " + w.name + "\nplacement: " + label + "\nconfig: ../../" +
                                       w.name +
                                       ".yaml\nmakespan: " + doppler::format_number(result.makespan) +
                                       "\ndevices: 2\ngpu: {name: simulated truth}\n");
        }
      }
    }
  }
  std::string traces() const { return path("traces"); }
};

TEST_F(CalibrateCli, CalibrateThenValidateHeldOutPlacements) {
  const std::string out = path("fitted.yaml");
  const json fit = run_json("calibrate --traces " + traces() + " --out " + out + " --holdout 3 --json");
  EXPECT_EQ(fit["runs"], 16);
  EXPECT_EQ(fit["held_out"].size(), 4u);  // 8 placements per workload: the 3rd and 6th of each
  EXPECT_EQ(fit["fitted_runs"], 12);
  EXPECT_NEAR(fit["kinds"]["join"]["flop_rate"].get<double>(), 100e12, 1e6);
  EXPECT_NEAR(fit["kinds"]["join"]["bandwidth"].get<double>(), 2e12, 1e3);
  EXPECT_NEAR(fit["concurrency_slowdown"].get<double>(), 1, 1e-9);
  ASSERT_TRUE(fs::exists(out));
  EXPECT_NE(doppler::test_support::slurp(out).find("held_out:"), std::string::npos);

  const json v = run_json("validate --traces " + traces() + " --machine " + out + " --json");
  EXPECT_LT(v["mape"].get<double>(), 1e-6);
  EXPECT_DOUBLE_EQ(v["kendall_tau"].get<double>(), 1.0);
  ASSERT_EQ(v["workloads"].size(), 2u);
  for (const json& w : v["workloads"]) {
    EXPECT_EQ(w["runs"], 8) << w;
    EXPECT_LT(w["mape"].get<double>(), 1e-6) << w;
    EXPECT_DOUBLE_EQ(w["kendall_tau"].get<double>(), 1.0) << w;
  }
  EXPECT_EQ(v["held_out"]["runs"], 4);
  EXPECT_LT(v["held_out"]["mape"].get<double>(), 1e-6);
  EXPECT_DOUBLE_EQ(v["held_out"]["kendall_tau"].get<double>(), 1.0);
  ASSERT_EQ(v["runs"].size(), 16u);
  int held = 0;
  for (const json& r : v["runs"]) {
    held += r["held_out"].get<bool>();
    EXPECT_LT(std::abs(r["error"].get<double>()), 1e-6) << r;
  }
  EXPECT_EQ(held, 4);
}

// Traces recorded with the executor's queue depth make the fitted machine replay launch-ahead
// (calibration.issue_depth); runs of different depths are refused.
TEST_F(CalibrateCli, QueueDepthOfTheTracesBecomesTheIssueDepth) {
  std::vector<fs::path> runs;
  for (const auto& entry : fs::recursive_directory_iterator(dir_ / "traces"))
    if (entry.path().filename() == "run.yaml") runs.push_back(entry.path());
  ASSERT_EQ(runs.size(), 16u);
  const auto set_depth = [](const fs::path& run, int depth) {
    std::string text = doppler::test_support::slurp(run.string());
    text.replace(text.find("devices: 2\n"), 11, "devices: 2\nqueue_depth: " + std::to_string(depth) + "\n");
    std::ofstream(run) << text;
  };
  const std::string out = path("fitted.yaml");
  set_depth(runs[0], 4);
  const Result mixed = run("calibrate --traces " + traces() + " --out " + out);
  EXPECT_NE(mixed.code, 0);
  EXPECT_NE(mixed.err.find("calibrate runs of one queue depth together"), std::string::npos) << mixed.err;
  EXPECT_FALSE(fs::exists(out));
  for (std::size_t i = 1; i < runs.size(); ++i) set_depth(runs[i], 4);
  const json fit = run_json("calibrate --traces " + traces() + " --out " + out + " --json");
  EXPECT_EQ(fit["issue_depth"], 4);
  EXPECT_EQ(doppler::load_machine(out).calibration->issue_depth, 4);
}

TEST_F(CalibrateCli, TablesForPeople) {
  const std::string out = path("fitted.yaml");
  const Result fit = run("calibrate --traces " + traces() + " --out " + out);
  EXPECT_EQ(fit.code, 0) << fit.err;
  EXPECT_NE(fit.out.find("calibrated " + out + " from 16 runs"), std::string::npos) << fit.out;
  EXPECT_NE(fit.out.find("concurrency slowdown"), std::string::npos);
  const Result v = run("validate --traces " + traces() + " --machine " + out);
  EXPECT_EQ(v.code, 0) << v.err;
  EXPECT_NE(v.out.find("overall"), std::string::npos) << v.out;
  EXPECT_NE(v.out.find("Kendall tau"), std::string::npos);
}

TEST_F(CalibrateCli, BaseMachineKeepsItsDevicesAndGetsTheFit) {
  const std::string out = path("fitted.yaml");
  run_json("calibrate --traces " + traces() + " --out " + out +
           " --base configs/machines/h100-4.yaml --json");
  const doppler::Machine m = doppler::load_machine(out);
  EXPECT_EQ(m.num_devices(), 4u);
  EXPECT_EQ(m.devices[0].kind, "H100-SXM5-80GB");
  EXPECT_NEAR(m.link(1, 0).bandwidth, 120e9, 1e-3);
  EXPECT_GT(m.link(2, 3).bandwidth, 120e9);  // never measured: the fit of every copy between devices
  EXPECT_LT(m.link(2, 3).bandwidth, 200e9);
  ASSERT_TRUE(m.calibration);
  EXPECT_EQ(m.calibration->kinds.size(), 4u);
  // A 2-GPU run replays on the first two devices of the 4-device machine.
  EXPECT_LT(run_json("validate --traces " + traces() + " --machine " + out + " --json")["mape"].get<double>(),
            1e-6);
}

TEST_F(CalibrateCli, BadInputIsOneLineAndWritesNothing) {
  const std::string out = path("fitted.yaml");
  expect_error("calibrate --traces " + traces() + " --out " + path("fitted.txt"),
               {"--out", "fitted.txt", ".yaml"});
  expect_error("calibrate --traces " + path("nowhere") + " --out " + out, {"nowhere", "not a directory"});
  fs::create_directories(dir_ / "empty");
  expect_error("validate --traces " + path("empty") + " --machine configs/machines/h100-2.yaml",
               {"empty", "no traced runs"});
  expect_error("calibrate --traces " + traces() + " --out " + out + " --holdout 1", {"--holdout"});

  const std::string good_trace = doppler::test_support::slurp(path("traces/ffnn/heft/trace.csv"));
  write("traces/ffnn/heft/trace.csv",
        "kind,op,name,device,src,stream,start,end,bytes\ncompute,0,x,0,,0,0,-,0\n");
  expect_error("calibrate --traces " + traces() + " --out " + out,
               {"traces/ffnn/heft/trace.csv:2:", "'end'"});
  write("traces/ffnn/heft/trace.csv", good_trace);
  fs::copy_file(dir_ / "traces/chain/heft/plan.yaml", dir_ / "traces/ffnn/heft/plan.yaml",
                fs::copy_options::overwrite_existing);
  expect_error("validate --traces " + traces() + " --machine " + path("traces/truth.yaml"),
               {"traces/ffnn/heft/plan.yaml"});
  write("traces/ffnn/heft/run.yaml", "workload: ffnn\nconfig: ../../ffnn.yaml\nmakespan: 1\ndevices: 4\n");
  expect_error("calibrate --traces " + traces() + " --out " + out,
               {"traces/ffnn/heft/run.yaml", "'devices' is 4"});
  write("traces/ffnn/heft/run.yaml", "workload: ffnn\nconfig: ../../ffnn.yaml\ndevices: 2\n");
  expect_error("calibrate --traces " + traces() + " --out " + out,
               {"traces/ffnn/heft/run.yaml", "missing 'makespan'"});
  fs::remove(dir_ / "traces/ffnn/heft/run.yaml");
  expect_error("validate --traces " + traces() + " --machine configs/machines/h100-1.yaml",
               {"used 2 devices", "has 1"});
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(path("fitted.txt")));
}

}  // namespace
