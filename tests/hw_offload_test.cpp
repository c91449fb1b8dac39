// Offload on the GPU (hw/memory_graph_run.hpp): memory graphs compiled from lowered einsum
// workloads under budgets from unlimited down to the largest op's need, in both compile orders,
// event-driven and fixed-order, run on real GPUs: outputs equal the CPU reference, tight budgets
// really evict and load, and every node's times are ordered. Skips with the reason without a GPU
// (the 2-GPU case without a second one).
#include <gtest/gtest.h>

#include <random>

#include "doppler/einsum/decomposition.hpp"
#include "doppler/einsum/fusion.hpp"
#include "doppler/einsum/memory_graph_executor.hpp"
#include "doppler/einsum/workloads.hpp"
#include "doppler/error.hpp"
#include "doppler/hw/executor.hpp"
#include "doppler/hw/host_link_probe.hpp"
#include "doppler/hw/memory_graph_run.hpp"
#include "doppler/memory/memory_plan.hpp"
#include "max_relative_error.hpp"
#include "offload_fixture.hpp"

namespace doppler::hw {
namespace {

using namespace doppler::einsum;

using test_support::Offload;

Offload prepare(EinsumGraph graph, int devices, std::uint64_t seed) {
  return test_support::prepare_offload(std::move(graph), devices, seed);
}

// Runs `o` under `fraction` of its working set (above 1: unlimited, budget 0; 0: the largest op's need) on
// the GPU; expects the reference's outputs; returns the bytes evicted.
double expect_reference_on_gpu(const Offload& o, double fraction, memory::CompileOrder order, bool fixed,
                               double tolerance, bool issue_ahead = true, bool host_copies_ahead = false) {
  std::uint64_t full = 0;
  const memory::MemoryPlanOptions options = test_support::budgeted_options(o, fraction, order, full);
  SCOPED_TRACE("budget " + std::to_string(options.budget) + " of working set " + std::to_string(full) +
               (fixed ? ", fixed order" : ", event-driven") + (issue_ahead ? "" : ", waiting on the host") +
               (host_copies_ahead ? ", host copies ahead" : ""));
  memory::MemoryGraph mg = memory::compile_memory_graph(o.lowered.graph, o.plan, options);
  if (fixed) mg = memory::with_fixed_order(std::move(mg));
  MemoryRunOptions run_options;
  run_options.queue_depth = 2;
  run_options.issue_ahead = issue_ahead;
  run_options.host_copies_ahead = host_copies_ahead;
  run_options.repetitions = fixed ? 2 : 1;  // repeated runs reuse the set-up: same outputs
  const MemoryRunResult got = run_memory_graph(o.graph, o.lowered, mg, run_options);
  const auto want = run_reference<double>(o.graph);
  for (TensorId t = 0; t < o.graph.num_tensors(); ++t) {
    if (o.graph.tensor(t).kind != TensorKind::kOutput) continue;
    EXPECT_EQ(got.values[t].size(), want[t].size());
    const std::vector<double> values(got.values[t].begin(), got.values[t].end());
    EXPECT_LT(test_support::max_relative_error(values, want[t]), tolerance) << o.graph.tensor(t).name;
  }
  EXPECT_GT(got.makespan_ms, 0);
  EXPECT_GT(got.bytes_loaded, 0);  // the inputs start in host memory
  for (const MemoryNodeTiming& n : got.nodes) EXPECT_LE(n.start_ms, n.end_ms);
  EXPECT_DOUBLE_EQ(got.bytes_evicted, mg.bytes_of(memory::MemNodeKind::kEvict));
  return got.bytes_evicted;
}

class HwOffload : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const std::string missing = missing_gpus(1); !missing.empty()) GTEST_SKIP() << missing;
  }
};

TEST_F(HwOffload, LlamaOnOneGpuEqualsTheReferenceUnderEveryBudget) {
  for (const DType dt : {DType::kF32, DType::kBF16}) {
    Offload o = prepare(
        llama_layer({.batch = 1, .seq = 16, .hidden = 32, .heads = 2, .layers = 2, .dtype = dt}), 2, 1);
    o.plan.device.assign(o.plan.device.size(), 0);
    const double tolerance = dt == DType::kF32 ? 1e-4 : 5e-2;
    EXPECT_EQ(expect_reference_on_gpu(o, 2.0, memory::CompileOrder::kPlan, false, tolerance), 0.0);
    expect_reference_on_gpu(o, 0.5, memory::CompileOrder::kPlan, false, tolerance, false);
    expect_reference_on_gpu(o, 0.0, memory::CompileOrder::kLookahead, false, tolerance, true, true);
    for (const double fraction : {0.5, 0.0}) {
      for (const auto order : {memory::CompileOrder::kPlan, memory::CompileOrder::kMinGrowth,
                               memory::CompileOrder::kLookahead}) {
        for (const bool fixed : {false, true}) {
          const double evicted = expect_reference_on_gpu(o, fraction, order, fixed, tolerance);
          if (fraction == 0.0) {
            EXPECT_GT(evicted, 0.0);
          }
        }
      }
    }
  }
}

TEST_F(HwOffload, RowFusedLlamaEqualsTheReferenceUnderTightBudgets) {
  for (const DType dt : {DType::kF32, DType::kBF16}) {
    Offload o = prepare(fuse_elementwise(fuse_row_ops(llama_layer(
                            {.batch = 1, .seq = 16, .hidden = 32, .heads = 2, .layers = 2, .dtype = dt}))),
                        2, 5);
    o.plan.device.assign(o.plan.device.size(), 0);
    const double tolerance = dt == DType::kF32 ? 1e-4 : 5e-2;
    for (const double fraction : {0.5, 0.0})
      for (const bool fixed : {false, true})
        expect_reference_on_gpu(o, fraction, memory::CompileOrder::kLookahead, fixed, tolerance);
  }
}

TEST_F(HwOffload, FfnnOnTwoGpusEqualsTheReference) {
  if (const std::string missing = missing_gpus(2); !missing.empty()) GTEST_SKIP() << missing;
  const Offload o = prepare(ffnn({16, 64, 128, 32, 2, DType::kF32}), 2, 3);
  for (const double fraction : {2.0, 0.5, 0.0})
    expect_reference_on_gpu(o, fraction, memory::CompileOrder::kPlan, false, 1e-4);
}

TEST(HwHostLinkProbe, MeasuresBothDirections) {
  if (const std::string missing = missing_gpus(1); !missing.empty()) GTEST_SKIP() << missing;
  const std::vector<std::size_t> sizes = {1u << 20, 8u << 20};
  const HostLinkSamples s = probe_host_links(0, sizes, 3);
  for (const auto* samples : {&s.to_device, &s.from_device, &s.to_device_duplex, &s.from_device_duplex}) {
    ASSERT_EQ(samples->size(), 6u);
    for (const auto& [bytes, seconds] : *samples) {
      EXPECT_TRUE(bytes == (1u << 20) || bytes == (8u << 20));
      // Any PCIe or NVLink-C2C host link: between 1 GB/s and 1 TB/s.
      EXPECT_GT(seconds, bytes / 1e12);
      EXPECT_LT(seconds, bytes / 1e9);
    }
  }
  EXPECT_THROW(probe_host_links(1 << 20, sizes), doppler::Error);
}

}  // namespace
}  // namespace doppler::hw
