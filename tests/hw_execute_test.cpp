// Whole built-in workloads, decomposed for N devices and lowered, run by the CUDA executor on 1 and
// 2 GPUs under several plans (all on device 0, round-robin, random with priorities, 2 compute
// streams, resident inputs' copies in stream order or at the start) equal the CPU reference; timings are
// consistent; bad plans and CUDA failures give one-line errors. GPU tests skip with the reason when too few
// GPUs are visible.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "doppler/einsum/decomposition.hpp"
#include "doppler/einsum/einsum_builder.hpp"
#include "doppler/einsum/fusion.hpp"
#include "doppler/einsum/lowering.hpp"
#include "doppler/einsum/reference_executor.hpp"
#include "doppler/einsum/workloads.hpp"
#include "doppler/hw/executor.hpp"
#include "error_of.hpp"
#include "max_relative_error.hpp"

namespace doppler::hw {
namespace {

using namespace doppler::einsum;

struct Workload {
  std::string name;
  EinsumGraph graph;
  double tolerance;
};

std::vector<Workload> workloads() {
  std::vector<Workload> all;
  all.push_back({"chain_mm", chain_mm({.n = 48, .length = 5, .dtype = DType::kF32}), 1e-4});
  all.push_back({"ffnn",
                 ffnn({.batch = 16, .in = 24, .hidden = 40, .out = 8, .layers = 3, .dtype = DType::kF32}),
                 1e-4});
  all.push_back({"ffnn bf16",
                 ffnn({.batch = 16, .in = 24, .hidden = 40, .out = 8, .layers = 2, .dtype = DType::kBF16}),
                 5e-2});
  const LlamaOptions llama{.batch = 2, .seq = 8, .hidden = 32, .heads = 4, .ffn = 64, .dtype = DType::kF32};
  all.push_back({"llama_block", llama_block(llama), 1e-3});
  all.push_back({"llama_layer", llama_layer(llama), 1e-3});
  all.push_back({"llama_layer fused", fuse_elementwise(llama_layer(llama)), 1e-3});
  all.push_back({"llama_layer fused bf16",
                 fuse_elementwise(llama_layer({.batch = 2, .seq = 8, .hidden = 32, .heads = 4, .ffn = 64})),
                 5e-2});
  // Row ops (softmax, rms_norm, rotary kernels); head dim 16 takes rotary's vectorised path.
  all.push_back({"llama_layer row ops", fuse_elementwise(fuse_row_ops(llama_layer(llama))), 1e-3});
  all.push_back({"llama_layer row ops bf16",
                 fuse_elementwise(
                     fuse_row_ops(llama_layer({.batch = 2, .seq = 16, .hidden = 64, .heads = 4, .ffn = 64}))),
                 5e-2});
  all.push_back(
      {"mlp_training_step",
       mlp_training_step({.batch = 8, .in = 16, .hidden = 24, .out = 8, .layers = 2, .dtype = DType::kF32}),
       1e-3});
  return all;
}

std::vector<Plan> plans(std::size_t tasks, int devices) {
  std::vector<Plan> all(3);
  std::mt19937_64 rng(11);
  for (std::size_t u = 0; u < tasks; ++u) {
    all[0].device.push_back(0);
    all[1].device.push_back(static_cast<DeviceId>(u % static_cast<std::size_t>(devices)));
    all[2].device.push_back(static_cast<DeviceId>(rng() % static_cast<std::uint64_t>(devices)));
    all[2].priority.push_back(static_cast<double>(rng() % 100));
  }
  all[0].method = "all-on-0";
  all[1].method = "round-robin";
  all[2].method = "random+priorities";
  return all;
}

void expect_equal_outputs(const EinsumGraph& g, const ExecuteResult& got, double tolerance,
                          const std::string& what) {
  const auto want = run_reference<double>(g);
  int outputs = 0;
  for (TensorId t = 0; t < g.num_tensors(); ++t) {
    if (g.tensor(t).kind != TensorKind::kOutput) continue;
    ++outputs;
    ASSERT_EQ(got.values[t].size(), want[t].size()) << what;
    const std::vector<double> values(got.values[t].begin(), got.values[t].end());
    EXPECT_LT(test_support::max_relative_error(values, want[t]), tolerance)
        << what << " tensor " << g.tensor(t).name;
  }
  EXPECT_GT(outputs, 0) << what;
}

void run_workloads(int devices) {
  if (const std::string missing = missing_gpus(devices); !missing.empty()) GTEST_SKIP() << missing;
  for (const Workload& w : workloads()) {
    for (const DecomposeMethod method : {DecomposeMethod::kEinDecomp, DecomposeMethod::kDataParallel}) {
      const Decomposition d = decompose(w.graph, {.devices = std::max(devices, 2), .method = method});
      const LoweredGraph lowered = lower(w.graph, d.partitions);
      for (const int depth : {1, 8}) {
        ExecuteOptions options;
        options.num_devices = devices;
        options.queue_depth = depth;
        Executor executor(w.graph, lowered, options);  // one executor serves every plan
        for (const Plan& plan : plans(lowered.graph.num_ops(), devices)) {
          const std::string what = w.name + " / " + std::string(decompose_method_name(method)) + " / " +
                                   plan.method + " on " + std::to_string(devices) + " GPU(s), queue depth " +
                                   std::to_string(depth);
          const ExecuteResult got = executor.run(plan);
          expect_equal_outputs(w.graph, got, w.tolerance, what);
          ASSERT_EQ(got.tasks.size(), lowered.graph.num_ops());
          for (OpId u = 0; u < got.tasks.size(); ++u) {
            EXPECT_EQ(got.tasks[u].device, plan.device[u]);
            EXPECT_LE(got.tasks[u].start_ms, got.tasks[u].end_ms) << what;
          }
          for (const TransferTiming& t : got.transfers) EXPECT_LE(t.start_ms, t.end_ms) << what;
          EXPECT_EQ(got.gpu.names.size(), static_cast<std::size_t>(devices));
          std::printf("%s: %zu tasks, %zu transfers, %d GEMM joins, makespan %.3f ms, host %.3f ms\n",
                      what.c_str(), got.tasks.size(), got.transfers.size(), got.gemm_joins, got.makespan_ms,
                      got.host_ms);
          if (devices == 2 && plan.method == "round-robin") {
            EXPECT_GT(got.transfers.size(), 0u) << what;
          }
        }
      }
    }
  }
}

TEST(HwExecute, WorkloadsOnOneGpu) {
  run_workloads(1);
}

TEST(HwExecute, WorkloadsOnTwoGpus) {
  run_workloads(2);
}

// Partial sums added two at a time (lower's aggregate fan-in): a tree of aggregate tasks on the GPU
// gives the reference's outputs.
TEST(HwExecute, AggregateTreeOnOneGpu) {
  if (const std::string missing = missing_gpus(1); !missing.empty()) GTEST_SKIP() << missing;
  const EinsumGraph g =
      llama_layer({.batch = 2, .seq = 8, .hidden = 32, .heads = 4, .ffn = 64, .dtype = DType::kF32});
  const LoweredGraph lowered = lower(g, decompose(g, {.devices = 16}).partitions, 2);
  std::size_t inner = 0;
  for (OpId t = 0; t < lowered.graph.num_ops(); ++t)
    inner += lowered.graph.op(t).name.find(".agg1_") != std::string::npos ? 1 : 0;
  ASSERT_GT(inner, 0u) << "the decomposition splits no contraction four ways or more";
  ExecuteOptions options;
  options.num_devices = 1;
  Executor executor(g, lowered, options);
  for (const Plan& plan : plans(lowered.graph.num_ops(), 1))
    expect_equal_outputs(g, executor.run(plan), 1e-4, "aggregate tree / " + plan.method);
}

TEST(HwExecute, TwoStreamsAndRunTimeLoads) {
  if (const std::string missing = missing_gpus(1); !missing.empty()) GTEST_SKIP() << missing;
  const EinsumGraph g =
      llama_layer({.batch = 2, .seq = 8, .hidden = 32, .heads = 4, .ffn = 64, .dtype = DType::kF32});
  const LoweredGraph lowered = lower(g, decompose(g, {.devices = 4}).partitions);
  Plan plan;
  plan.device.assign(lowered.graph.num_ops(), 0);
  ExecuteOptions options;
  options.streams = 2;
  options.preload_inputs = false;
  options.assemble_intermediates = true;
  const ExecuteResult got = execute(g, lowered, plan, options);
  expect_equal_outputs(g, got, 1e-3, "llama_layer, 2 streams");
  const auto want = run_reference<double>(g);
  for (TensorId t = 0; t < g.num_tensors(); ++t) {
    if (g.tensor(t).kind != TensorKind::kIntermediate) continue;
    const std::vector<double> values(got.values[t].begin(), got.values[t].end());
    EXPECT_LT(test_support::max_relative_error(values, want[t]), 1e-3) << g.tensor(t).name;
  }
  bool second_stream = false, copy_stream = false;
  for (const TaskTiming& t : got.tasks) {
    second_stream = second_stream || t.stream == 1;
    copy_stream = copy_stream || t.stream == -1;
  }
  EXPECT_TRUE(second_stream);
  EXPECT_TRUE(copy_stream);
}

// Resident inputs' copies: sent when the load's stream reaches it (default), or all at the start.
// Both give the reference's outputs; in stream order a load reads t..t and its copies start after t.
TEST(HwExecute, LoadCopiesInStreamOrderOrAtTheStart) {
  if (const std::string missing = missing_gpus(2); !missing.empty()) GTEST_SKIP() << missing;
  const EinsumGraph g =
      llama_layer({.batch = 2, .seq = 8, .hidden = 32, .heads = 4, .ffn = 64, .dtype = DType::kF32});
  const LoweredGraph lowered = lower(g, decompose(g, {.devices = 2}).partitions);
  const Plan plan = plans(lowered.graph.num_ops(), 2)[1];
  for (const bool in_order : {true, false}) {
    ExecuteOptions options;
    options.loads_in_stream_order = in_order;
    const ExecuteResult got = execute(g, lowered, plan, options);
    const std::string what = in_order ? "loads in stream order" : "load copies at the start";
    expect_equal_outputs(g, got, 1e-3, what);
    int loads_sent = 0;
    for (const TransferTiming& t : got.transfers) {
      if (lowered.tasks[t.producer].role != TaskRole::kLoad) continue;
      const TaskTiming& load = got.tasks[t.producer];
      EXPECT_EQ(load.start_ms, load.end_ms) << what;
      if (in_order) {
        EXPECT_GE(t.start_ms, load.end_ms) << what << ": " << lowered.graph.op(t.producer).name;
      } else {
        EXPECT_EQ(load.end_ms, 0.0) << what;
      }
      ++loads_sent;
    }
    EXPECT_GT(loads_sent, 0) << what;
  }
}

// A gated start (the default: the GPUs held until each device thread's first launches are in):
// the reference's outputs, run after run, with 1 and 2 streams; every task starts after the
// clock's start and the first launches came before it (negative launch times); a rejected plan
// leaves the executor usable. Without the gate no launch comes before the clock.
TEST(HwExecute, GatedStartEqualsTheReference) {
  if (const std::string missing = missing_gpus(2); !missing.empty()) GTEST_SKIP() << missing;
  const EinsumGraph g =
      llama_layer({.batch = 2, .seq = 8, .hidden = 32, .heads = 4, .ffn = 64, .dtype = DType::kF32});
  const LoweredGraph lowered = lower(g, decompose(g, {.devices = 2}).partitions);
  const std::vector<Plan> all = plans(lowered.graph.num_ops(), 2);
  for (const int streams : {1, 2}) {
    ExecuteOptions options;
    options.num_devices = 2;
    options.streams = streams;
    options.gated_start = true;
    Executor executor(g, lowered, options);
    for (const std::size_t k : {1, 1, 0}) {
      const ExecuteResult got = executor.run(all[k]);
      const std::string what = all[k].method + ", " + std::to_string(streams) + " stream(s), gated";
      expect_equal_outputs(g, got, 1e-3, what);
      bool launched_before_the_clock = false;
      int submitted = 0;
      for (const TaskTiming& t : got.tasks) {
        EXPECT_GE(t.start_ms, 0.0) << what;
        launched_before_the_clock = launched_before_the_clock || t.launched_ms < 0;  // NaN: not launched
        if (std::isnan(t.submitted_ms)) continue;
        EXPECT_GE(t.submitted_ms, t.launched_ms) << what;
        ++submitted;
      }
      EXPECT_TRUE(launched_before_the_clock) << what;
      EXPECT_GT(submitted, 0) << what;
      for (const TransferTiming& t : got.transfers) {
        if (!std::isnan(t.launched_ms)) {
          EXPECT_GE(t.submitted_ms, t.launched_ms) << what;
        }
      }
    }
    Plan bad = all[1];
    bad.device[0] = 7;
    EXPECT_THROW(executor.run(bad), Error);
    expect_equal_outputs(g, executor.run(all[1]), 1e-3, "after a failed run, gated");
  }
  ExecuteOptions ungated;
  ungated.num_devices = 2;
  ungated.gated_start = false;
  const ExecuteResult got = execute(g, lowered, all[1], ungated);
  expect_equal_outputs(g, got, 1e-3, "not gated");
  for (const TaskTiming& t : got.tasks) {
    if (!std::isnan(t.launched_ms)) {
      EXPECT_GE(t.launched_ms, 0.0) << "not gated: launched before the clock";
    }
  }
}

// Repeated runs of a plan find their inputs where the previous run left them (no copy); a plan
// with other places copies them again. Outputs equal the reference throughout.
TEST(HwExecute, RepeatedAndAlternatingPlansKeepTheirInputs) {
  if (const std::string missing = missing_gpus(2); !missing.empty()) GTEST_SKIP() << missing;
  const EinsumGraph g =
      ffnn({.batch = 16, .in = 24, .hidden = 40, .out = 8, .layers = 3, .dtype = DType::kF32});
  const LoweredGraph lowered = lower(g, decompose(g, {.devices = 2}).partitions);
  const std::vector<Plan> all = plans(lowered.graph.num_ops(), 2);
  ExecuteOptions options;
  options.num_devices = 2;
  Executor executor(g, lowered, options);
  for (const std::size_t k : {1, 1, 2, 0, 1, 1}) {
    const ExecuteResult got = executor.run(all[k]);
    expect_equal_outputs(g, got, 1e-4, all[k].method);
  }
}

TEST(HwExecute, BadPlansGiveOneLineErrors) {
  const EinsumGraph g = chain_mm({.n = 8, .length = 2, .dtype = DType::kF32});
  const LoweredGraph lowered = lower(g, std::vector<Partition>(g.num_ops()));
  Plan plan;
  plan.device.assign(lowered.graph.num_ops(), 1);
  ExecuteOptions one;
  one.num_devices = 1;
  const std::string out_of_range = test_support::error_of([&] { execute(g, lowered, plan, one); });
  EXPECT_NE(out_of_range.find("device 1"), std::string::npos) << out_of_range;
  EXPECT_EQ(out_of_range.find('\n'), std::string::npos);
  ExecuteOptions far;
  far.cuda_devices = {0, 64};
  const std::string missing = test_support::error_of([&] { execute(g, lowered, plan, far); });
  EXPECT_EQ(missing.rfind("hw: plan '<plan>' needs CUDA device ", 0), 0u) << missing;
  plan.device.pop_back();
  EXPECT_NE(test_support::error_of([&] { execute(g, lowered, plan); }), "<no error>");
}

TEST(HwExecute, ACudaFailureNamesTheDeviceAndTheCall) {
  if (const std::string missing = missing_gpus(1); !missing.empty()) GTEST_SKIP() << missing;
  EinsumGraph g;
  const TensorId x = g.add_input("x", {std::int64_t{1} << 20, std::int64_t{1} << 20}, DType::kF32);
  g.mark_output(reshape(g, "y", x, {std::int64_t{1} << 40}));
  const LoweredGraph lowered = lower(g, std::vector<Partition>(g.num_ops()));
  Plan plan;
  plan.device.assign(lowered.graph.num_ops(), 0);
  const std::string message = test_support::error_of([&] { execute(g, lowered, plan); });
  EXPECT_EQ(message.rfind("hw: set-up on device 0: cudaMalloc (", 0), 0u) << message;
  EXPECT_NE(message.find("out of memory"), std::string::npos) << message;
}

}  // namespace
}  // namespace doppler::hw
