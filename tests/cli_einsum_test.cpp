// The CLI on einsum workloads: `doppler decompose` (every method, JSON keys, flags over the config),
// `doppler graph CONFIG.yaml`, and simulate/compare on a config whose graph is an einsum workload
// decomposed and lowered on the fly; bad input ends in one error line.
#include <gtest/gtest.h>

#include <string>

#include "cli_fixture.hpp"

namespace {

using doppler::test_support::Cli;
using doppler::test_support::Result;
using nlohmann::json;

const std::string kLlama = "configs/einsum/llama_layer.yaml";

// A small Llama layer on a 2-GPU machine file, so runs are quick.
std::string small_config(const std::string& extra = "") {
  return "einsum: {workload: llama_layer, batch: 2, seq: 64, hidden: 128, heads: 4, dtype: bf16}\n"
         "machine: " +
         doppler::test_support::kRoot + "/configs/machines/h100-2.yaml\n" + extra;
}

TEST_F(Cli, DecomposeJsonForEveryMethod) {
  const std::string config = write("small.yaml", small_config());
  for (const std::string method : {"eindecomp", "data", "model", "none"}) {
    const json j = run_json("decompose " + config + " --method " + method + " --json");
    EXPECT_EQ(j["method"], method);
    EXPECT_EQ(j["devices"], 2);  // the machine's
    EXPECT_GE(j["cost"].get<double>(), 0);
    EXPECT_GE(j["seconds"].get<double>(), 0);
    EXPECT_EQ(j["partitions"].size(), j["einsum_ops"].get<std::size_t>());
    EXPECT_EQ(j["ops"].size(), j["einsum_ops"].get<std::size_t>());
    const json& terms = j["cost_terms"];
    EXPECT_DOUBLE_EQ(j["cost"].get<double>(), terms["replication"].get<double>() +
                                                  terms["aggregation"].get<double>() +
                                                  terms["repartition"].get<double>());
    if (method == "none") {
      EXPECT_EQ(j["cost"], 0);
      for (const auto& [op, blocks] : j["partitions"].items()) EXPECT_TRUE(blocks.empty()) << op;
    }
    if (method == "eindecomp") {
      for (const json& op : j["ops"]) EXPECT_EQ(op["kernels"], 2) << op["op"];
    }
  }
}

TEST_F(Cli, DecomposeFlagsOverrideTheConfig) {
  const std::string config = write("small.yaml", small_config("decompose: {method: data, devices: 2}\n"));
  EXPECT_EQ(run_json("decompose " + config + " --json")["method"], "data");
  const json j = run_json("decompose " + config + " --method eindecomp --devices 8 --json");
  EXPECT_EQ(j["method"], "eindecomp");
  EXPECT_EQ(j["devices"], 8);
  int kernels = 1;
  for (const auto& [index, blocks] : j["partitions"]["q"].items()) kernels *= blocks.get<int>();
  EXPECT_EQ(kernels, 8);
  const Result table = run("decompose " + config);
  EXPECT_EQ(table.code, 0) << table.err;
  EXPECT_NE(table.out.find("elements moved or replicated"), std::string::npos);
  EXPECT_NE(table.out.find("bsh,hnd->bsnd"), std::string::npos);
}

TEST_F(Cli, DecomposeTheShippedLlamaLayer) {
  const json j = run_json("decompose " + kLlama + " --json");
  EXPECT_EQ(j["workload"], "llama_layer");
  EXPECT_EQ(j["devices"], 4);
  EXPECT_GE(j["tasks"].get<int>(), 80);
  EXPECT_LE(j["tasks"].get<int>(), 300);
  EXPECT_LT(j["seconds"].get<double>(), 1.0);
}

TEST_F(Cli, GraphDescribesAnEinsumConfig) {
  const std::string config = write("small.yaml", small_config());
  const json j = run_json("graph " + config + " --json");
  ASSERT_TRUE(j.contains("einsum"));
  EXPECT_EQ(j["einsum"]["method"], "eindecomp");
  EXPECT_EQ(j["einsum"]["devices"], 2);
  EXPECT_GT(j["einsum"]["flops"].get<double>(), 0);
  EXPECT_EQ(j["num_devices"], 2);
  EXPECT_EQ(j["model"], "roofline");
  std::size_t tasks = 0;
  for (const auto& [role, count] : j["einsum"]["task_roles"].items()) tasks += count.get<std::size_t>();
  EXPECT_EQ(tasks, j["ops"].get<std::size_t>());
  const Result dot = run("graph " + config + " --dot -");
  EXPECT_EQ(dot.code, 0);
  EXPECT_EQ(dot.out.rfind("digraph", 0), 0u);
  EXPECT_NE(dot.out.find("q[b0,s0,n"), std::string::npos);
  // A config of a task graph still describes that graph.
  EXPECT_EQ(run_json("graph configs/quickstart.yaml --json")["ops"], 229);
}

TEST_F(Cli, FusedEinsumWorkload) {
  // The shipped fused Llama layer: 43 tasks as built (31 einsum ops and 12 loads), 29 fused (one
  // softmax, two RMSNorm and two rotary row ops; the residual adds inlined), one task each.
  EXPECT_EQ(run_json("graph configs/einsum/gpu/llama_layer_1gpu.yaml --json")["ops"], 43);
  EXPECT_EQ(run_json("graph configs/einsum/gpu/llama_layer_1gpu_fused.yaml --json")["ops"], 29);
  const std::string file = write("graph.yaml", "einsum: {file: " + doppler::test_support::kRoot +
                                                   "/configs/einsum/mlp.yaml, fuse: true}\ndevices: 2\n");
  EXPECT_GT(run_json("simulate " + file + " --placement heft --json")["makespan"].get<double>(), 0);
  const std::string bad = write("bad.yaml", "einsum: {workload: ffnn, fuse: maybe}\ndevices: 2\n");
  expect_error("simulate " + bad, {"bad.yaml:1", "'einsum.fuse'"});
}

TEST_F(Cli, CompareAndSimulateAnEinsumWorkload) {
  const std::string config = write("small.yaml", small_config("placements: [critical_path, heft]\n"));
  const json compare = run_json("compare " + config + " --json");
  ASSERT_EQ(compare["results"].size(), 2u);
  for (const json& r : compare["results"]) {
    EXPECT_GE(r["makespan"].get<double>(), compare["lower_bound"].get<double>()) << r["method"];
  }
  const json simulate = run_json("simulate " + config + " --placement heft --json");
  EXPECT_EQ(simulate["method"], "heft");
  EXPECT_GT(simulate["makespan"].get<double>(), 0);
  EXPECT_EQ(simulate["devices"].size(), 2u);
}

TEST_F(Cli, ExecuteSaysWhyItCannotRun) {
  // Five GPUs of an 8-GPU machine: without the hw backend, without GPUs or with fewer, one line why.
  const std::string config = write("eight.yaml",
                                   "einsum: {workload: ffnn, batch: 8, in: 8, hidden: 8, out: 8}\n"
                                   "machine: " +
                                       doppler::test_support::kRoot + "/configs/machines/h100-8.yaml\n");
  expect_error("execute " + config + " --devices 5", {"execute:"});
  expect_error("execute configs/quickstart.yaml", {"execute"});
  expect_error("execute " + config + " --multi-process", {"execute"});  // no launcher (or no hw backend)
  expect_error("execute " + config + " --devices 5 --no-gated-start", {"execute:"});  // a known flag
}

TEST_F(Cli, EinsumBadInput) {
  expect_error("decompose configs/quickstart.yaml", {"configs/quickstart.yaml", "no 'einsum' workload"});
  const std::string config = write("small.yaml", small_config());
  expect_error("decompose " + config + " --method megatron", {"--method", "unknown decomposition method"});
  expect_error("decompose " + config + " --devices 0", {"--devices", "positive integer"});
  const std::string typo = write("typo.yaml", "einsum: {workload: llama_layer, hiden: 64}\ndevices: 2\n");
  expect_error("compare " + typo, {"typo.yaml:1", "'einsum.hiden'", "unknown key for llama_layer"});
  const std::string both = write("both.yaml", "graph: random:10\neinsum: {workload: ffnn}\ndevices: 2\n");
  expect_error("simulate " + both + " --placement heft", {"both.yaml:2", "either 'graph' or 'einsum'"});
  EXPECT_EQ(files(), (std::vector<std::string>{"both.yaml", "small.yaml", "typo.yaml"}));
}

}  // namespace
