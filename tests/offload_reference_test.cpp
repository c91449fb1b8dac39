// Outputs of an offloaded run equal the reference: memory graphs compiled from lowered einsum
// workloads under tight budgets, executed on the CPU with real device and host arenas
// (memory_graph_executor.hpp), in index order and in random orders their edges allow.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "doppler/einsum/decomposition.hpp"
#include "doppler/einsum/memory_graph_executor.hpp"
#include "doppler/einsum/workloads.hpp"
#include "doppler/memory/memory_plan.hpp"
#include "max_relative_error.hpp"
#include "memory_graph_invariants.hpp"
#include "offload_fixture.hpp"

namespace doppler::einsum {
namespace {

using test_support::Offload;

Offload prepare(EinsumGraph graph, int devices, std::uint64_t seed, int aggregate_fan_in = 0) {
  Offload o = test_support::prepare_offload(std::move(graph), devices, seed, aggregate_fan_in);
  o.options.alignment = 64;
  return o;
}

// Compiles with a budget of `fraction` of the working set (at least the largest op's need; above 1:
// unlimited), checks the invariants and the outputs; returns the number of evictions.
std::size_t expect_reference_outputs(const Offload& o, double fraction, memory::CompileOrder order) {
  std::uint64_t full = 0;
  const memory::MemoryPlanOptions options = test_support::budgeted_options(o, fraction, order, full);
  SCOPED_TRACE("budget " + std::to_string(options.budget) + " of working set " + std::to_string(full));
  const memory::MemoryGraph mg = memory::compile_memory_graph(o.lowered.graph, o.plan, options);
  EXPECT_EQ(test_support::memory_graph_violation(mg, o.lowered.graph, o.plan), "");
  const auto want = run_reference<double>(o.graph);
  const auto exact = run_lowered<double>(o.graph, o.lowered);
  for (const std::uint64_t order_seed : {0, 1, 2, 3}) {
    const auto got = run_memory_graph_on_cpu<double>(o.graph, o.lowered, mg, {}, order_seed);
    for (TensorId t = 0; t < o.graph.num_tensors(); ++t) {
      if (o.graph.tensor(t).kind != TensorKind::kOutput) continue;
      SCOPED_TRACE("output " + o.graph.tensor(t).name + ", order seed " + std::to_string(order_seed));
      EXPECT_EQ(got[t].size(), want[t].size());
      EXPECT_EQ(got[t], exact[t]) << "the same kernels on the same blocks give the same bits";
      if (got[t].size() == want[t].size()) {
        EXPECT_LT(test_support::max_relative_error(got[t], want[t]), 1e-12);
      }
    }
  }
  return mg.count(memory::MemNodeKind::kEvict);
}

TEST(OffloadReference, LlamaLayerOnOneDeviceUnderTightBudgets) {
  const Offload o = prepare(llama_layer({.batch = 1, .seq = 8, .hidden = 16, .heads = 2, .layers = 2}), 2, 1);
  Offload one = o;
  one.plan.device.assign(one.plan.device.size(), 0);
  EXPECT_EQ(expect_reference_outputs(one, 2.0, memory::CompileOrder::kPlan), 0u);
  expect_reference_outputs(one, 1.0, memory::CompileOrder::kPlan);
  for (const double fraction : {0.5, 0.25, 0.0}) {
    EXPECT_GT(expect_reference_outputs(one, fraction, memory::CompileOrder::kPlan), 0u);
    EXPECT_GT(expect_reference_outputs(one, fraction, memory::CompileOrder::kMinGrowth), 0u);
    EXPECT_GT(expect_reference_outputs(one, fraction, memory::CompileOrder::kLookahead), 0u);
  }
}

TEST(OffloadReference, FfnnAndChainOnTwoDevicesUnderTightBudgets) {
  std::size_t evictions = 0;
  for (const double fraction : {0.6, 0.3, 0.0}) {
    evictions += expect_reference_outputs(
        prepare(ffnn({.batch = 8, .in = 16, .hidden = 64, .out = 8, .layers = 6}), 2, 3), fraction,
        memory::CompileOrder::kPlan);
    evictions += expect_reference_outputs(prepare(chain_mm({.n = 16, .length = 12}), 2, 4), fraction,
                                          memory::CompileOrder::kMinGrowth);
  }
  EXPECT_GT(evictions, 0u);
}

// Partial sums added two at a time (a tree of aggregates): the largest op needs less memory, and
// the outputs under budgets down to that need still equal the reference.
TEST(OffloadReference, AggregateTreeNeedsLessAndMatches) {
  const auto one_device = [](Offload o) {
    o.plan.device.assign(o.plan.device.size(), 0);
    return o;
  };
  const EinsumGraph layer = llama_layer({.batch = 1, .seq = 8, .hidden = 16, .heads = 2, .layers = 2});
  const Offload all = one_device(prepare(layer, 8, 1));
  const Offload tree = one_device(prepare(layer, 8, 1, 2));
  EXPECT_LT(memory::largest_op_need(tree.lowered.graph, tree.options).bytes,
            memory::largest_op_need(all.lowered.graph, all.options).bytes);
  for (const double fraction : {1.0, 0.5, 0.0}) {
    expect_reference_outputs(tree, fraction, memory::CompileOrder::kLookahead);
    expect_reference_outputs(tree, fraction, memory::CompileOrder::kPlan);
  }
}

TEST(OffloadReference, MinGrowthOrderNeedsLessMemoryThanThePlanOrder) {
  Offload o = prepare(llama_layer({.batch = 2, .seq = 32, .hidden = 32, .heads = 2, .layers = 2}), 4, 1);
  o.plan.device.assign(o.plan.device.size(), 0);
  memory::MemoryPlanOptions options = o.options;
  const std::uint64_t plan_order = memory::working_set_bytes(o.lowered.graph, o.plan, options);
  options.order = memory::CompileOrder::kMinGrowth;
  const std::uint64_t min_growth = memory::working_set_bytes(o.lowered.graph, o.plan, options);
  EXPECT_LT(min_growth, plan_order);
}

TEST(OffloadReference, TrainingStepOnTwoDevices) {
  const Offload o =
      prepare(mlp_training_step({.batch = 4, .in = 8, .hidden = 16, .out = 4, .layers = 2}), 2, 5);
  expect_reference_outputs(o, 0.3, memory::CompileOrder::kPlan);
  expect_reference_outputs(o, 0.0, memory::CompileOrder::kMinGrowth);
}

}  // namespace
}  // namespace doppler::einsum
