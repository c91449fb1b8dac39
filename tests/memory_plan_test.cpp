// The memory-plan compiler: a hand-worked golden case, the infeasible-budget error, and invariants
// on random graphs, plans and budgets (tests/memory_graph_invariants.hpp).
#include <gtest/gtest.h>

#include <array>
#include <random>

#include "doppler/error.hpp"
#include "doppler/memory/memory_plan.hpp"
#include "doppler/random_dag.hpp"
#include "memory_graph_invariants.hpp"

namespace doppler::memory {
namespace {

Op sized(const std::string& name, double bytes) {
  Op op;
  op.name = name;
  op.kind = "k";
  op.flops = 1;
  op.output_bytes = bytes;
  return op;
}

// x, y: host inputs; a = f(x); b = g(y) (an output); d = k(a) (an output); run in order a, b, d.
struct Golden {
  TaskGraph graph;
  Plan plan;
  Golden() {
    for (const char* name : {"x", "y", "a", "b", "d"}) graph.add_op(sized(name, 100));
    graph.add_edge(0, 2);
    graph.add_edge(1, 3);
    graph.add_edge(2, 4);
    plan.device.assign(5, 0);
    plan.priority = {0, 0, 0, 1, 2};
  }
  MemoryPlanOptions options(std::uint64_t budget) const {
    MemoryPlanOptions o;
    o.budget = budget;
    o.alignment = 1;
    o.host_input = {true, true, false, false, false};
    return o;
  }
};

TEST(MemoryPlan, HandWorkedGoldenCaseEvictsFurthestUseFirst) {
  const Golden g;
  const MemoryGraph mg = compile_memory_graph(g.graph, g.plan, g.options(200));
  struct Expected {
    MemNodeKind kind;
    OpId tensor;
    std::uint64_t offset;
    std::vector<MemNodeId> deps;
  };
  using K = MemNodeKind;
  // Every op's inputs are placed before its output, so that loads take the memory released
  // longest ago and start first.
  const std::vector<Expected> expected = {
      {K::kAlloc, 0, 0, {}},      {K::kLoad, 0, 0, {0}},      {K::kAlloc, 2, 100, {}},
      {K::kOp, 2, 100, {1, 2}},   {K::kFree, 0, 0, {1, 3}},   {K::kAlloc, 1, 0, {4}},
      {K::kLoad, 1, 0, {5}},      {K::kEvict, 2, 100, {3}},   {K::kAlloc, 3, 100, {7}},
      {K::kOp, 3, 100, {6, 8}},   {K::kFree, 1, 0, {6, 9}},   {K::kAlloc, 2, 0, {10}},
      {K::kLoad, 2, 0, {7, 11}},  {K::kEvict, 3, 100, {9}},   {K::kAlloc, 4, 100, {13}},
      {K::kOp, 4, 100, {12, 14}}, {K::kFree, 2, 0, {12, 15}}, {K::kFree, 2, 200, {7, 12}},
  };
  ASSERT_EQ(mg.nodes.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE("node " + std::to_string(i));
    EXPECT_EQ(mg.nodes[i].kind, expected[i].kind);
    EXPECT_EQ(mg.nodes[i].tensor, expected[i].tensor);
    EXPECT_EQ(mg.nodes[i].region.offset, expected[i].offset);
    EXPECT_EQ(mg.nodes[i].deps, expected[i].deps);
  }
  EXPECT_EQ(mg.nodes[17].region.device, kHostDevice) << "a's host copy is freed after its last use";
  EXPECT_EQ(mg.nodes[7].source.offset, 200u) << "a is evicted after the host inputs x, y";
  EXPECT_EQ(mg.bytes_of(K::kEvict), 200);
  EXPECT_EQ(mg.bytes_of(K::kLoad), 300);
  ASSERT_EQ(mg.outputs.size(), 2u);
  EXPECT_EQ(mg.outputs[0].region.device, kHostDevice);  // b was evicted to make room for d
  EXPECT_EQ(mg.outputs[1].region.device, 0u);
  EXPECT_EQ(test_support::memory_graph_violation(mg, g.graph, g.plan), "");
  EXPECT_EQ(working_set_bytes(g.graph, g.plan, g.options(0)), 300u);
}

TEST(MemoryPlan, UnlimitedBudgetNeverEvicts) {
  const Golden g;
  const MemoryGraph mg = compile_memory_graph(g.graph, g.plan, g.options(0));
  EXPECT_EQ(mg.count(MemNodeKind::kEvict), 0u);
  EXPECT_EQ(mg.bytes_of(MemNodeKind::kLoad), 200);
}

TEST(MemoryPlan, BudgetBelowTheLargestOpIsAnErrorNamingItAndTheBytes) {
  const Golden g;
  try {
    compile_memory_graph(g.graph, g.plan, g.options(199));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(
        std::string(e.what()),
        "memory budget of 199 bytes per device is below what op 'a' needs: 200 bytes (its inputs and output, "
        "aligned to 1)");
  }
}

// x on device 0 feeds y and z on device 1: device 1 gets one copy of x (its own memory), shared by
// both consumers, copied from device 0; nothing goes through the host.
TEST(MemoryPlan, ConsumersOnAnotherDeviceShareOneCopyThere) {
  TaskGraph graph;
  for (const char* name : {"x", "y", "z"}) graph.add_op(sized(name, 100));
  graph.add_edge(0, 1);
  graph.add_edge(0, 2);
  Plan plan;
  plan.device = {0, 1, 1};
  MemoryPlanOptions options;
  options.alignment = 1;
  const MemoryGraph mg = compile_memory_graph(graph, plan, options);
  ASSERT_EQ(mg.count(MemNodeKind::kCopy), 1u);
  EXPECT_EQ(mg.count(MemNodeKind::kLoad), 0u);
  for (const MemNode& node : mg.nodes) {
    if (node.kind != MemNodeKind::kCopy) continue;
    EXPECT_EQ(node.tensor, 0u);
    EXPECT_EQ(node.source.device, 0u);
    EXPECT_EQ(node.region.device, 1u);
    EXPECT_EQ(node.bytes, 100);
  }
  EXPECT_EQ(mg.planned_peak, (std::vector<std::uint64_t>{100, 300}));
  EXPECT_EQ(test_support::memory_graph_violation(mg, graph, plan), "");
}

TEST(MemoryPlan, AFullHostArenaIsAnErrorNamingTheTensor) {
  const Golden g;
  MemoryPlanOptions options = g.options(200);
  options.host_capacity = 250;  // x and y fit, a's eviction does not
  try {
    compile_memory_graph(g.graph, g.plan, options);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "memory plan: the host arena of 250 bytes has no room for tensor 'a' (100 bytes)");
  }
}

TEST(MemoryPlan, FixedOrderChainsEveryResource) {
  const Golden g;
  const MemoryGraph fixed = with_fixed_order(compile_memory_graph(g.graph, g.plan, g.options(200)));
  EXPECT_TRUE(fixed.fixed_order);
  EXPECT_EQ(fixed.nodes[6].deps, (std::vector<MemNodeId>{1, 5})) << "second load waits for the first";
  EXPECT_EQ(fixed.nodes[9].deps, (std::vector<MemNodeId>{3, 6, 8}));
  EXPECT_EQ(test_support::memory_graph_violation(fixed, g.graph, g.plan), "");
}

TEST(MemoryPlan, CompileOrdersAreTopologicalAndNamed) {
  EXPECT_EQ(parse_compile_order("min_growth"), CompileOrder::kMinGrowth);
  EXPECT_EQ(parse_compile_order("lookahead"), CompileOrder::kLookahead);
  EXPECT_STREQ(compile_order_name(CompileOrder::kLookahead), "lookahead");
  EXPECT_THROW(parse_compile_order("lifo"), Error);
  const TaskGraph graph = random_dag({.num_ops = 80, .seed = 3});
  Plan plan;
  plan.device.assign(graph.num_ops(), 0);
  for (const CompileOrder order : {CompileOrder::kPlan, CompileOrder::kMinGrowth, CompileOrder::kLookahead}) {
    const std::vector<OpId> walk = compile_order(graph, plan, {}, order);
    ASSERT_EQ(walk.size(), graph.num_ops());
    std::vector<int> at(graph.num_ops());
    for (std::size_t i = 0; i < walk.size(); ++i) at[walk[i]] = static_cast<int>(i);
    for (OpId v = 0; v < graph.num_ops(); ++v)
      for (const OpId s : graph.successors(v)) EXPECT_LT(at[v], at[s]);
  }
}

// Two SwiGLU blocks over one input x (host inputs: x and the weights): d_k = down(s_k) with
// s_k = swiglu(g_k, u_k), g_k = gate(x, wg_k), u_k = up(x, wu_k); out = d0 + d1. min_growth sees
// gates and ups grow memory alike and runs both gates first; lookahead sees that u0 makes s0
// ready, which frees g0 and u0, and runs the blocks one after the other, needing less memory.
TEST(MemoryPlan, LookaheadRunsTheOpThatReadiesAFreeingOneFirst) {
  TaskGraph graph;
  const std::vector<std::pair<const char*, double>> ops = {
      {"x", 50},  {"wg0", 10}, {"wg1", 10}, {"wu0", 10}, {"wu1", 10}, {"g0", 50}, {"g1", 50},
      {"u0", 50}, {"u1", 50},  {"s0", 50},  {"s1", 50},  {"d0", 10},  {"d1", 10}, {"out", 10}};
  for (const auto& [name, bytes] : ops) graph.add_op(sized(name, bytes));
  for (const auto& [from, to] : std::vector<std::pair<OpId, OpId>>{{0, 5},
                                                                   {1, 5},
                                                                   {0, 6},
                                                                   {2, 6},
                                                                   {0, 7},
                                                                   {3, 7},
                                                                   {0, 8},
                                                                   {4, 8},
                                                                   {5, 9},
                                                                   {7, 9},
                                                                   {6, 10},
                                                                   {8, 10},
                                                                   {9, 11},
                                                                   {10, 12},
                                                                   {11, 13},
                                                                   {12, 13}})
    graph.add_edge(from, to);
  Plan plan;
  plan.device.assign(graph.num_ops(), 0);
  MemoryPlanOptions options;
  options.alignment = 1;
  options.host_input.assign(graph.num_ops(), false);
  for (OpId v = 0; v < 5; ++v) options.host_input[v] = true;
  EXPECT_EQ(compile_order(graph, plan, options.host_input, CompileOrder::kMinGrowth),
            (std::vector<OpId>{5, 6, 7, 9, 11, 8, 10, 12, 13}));
  EXPECT_EQ(compile_order(graph, plan, options.host_input, CompileOrder::kLookahead),
            (std::vector<OpId>{5, 7, 9, 11, 6, 8, 10, 12, 13}));
  options.order = CompileOrder::kMinGrowth;
  const std::uint64_t min_growth = working_set_bytes(graph, plan, options);
  options.order = CompileOrder::kLookahead;
  EXPECT_LT(working_set_bytes(graph, plan, options), min_growth);
}

// w (a host input) is read by a and later by c; b needs room in between. w is used furthest in the
// future, so it goes, and since the host holds it, it is dropped (a free), not written back, and
// loaded again for c.
TEST(MemoryPlan, ACopyTheHostHoldsIsDroppedNotWrittenBack) {
  TaskGraph graph;
  for (const auto& [name, bytes] :
       std::vector<std::pair<const char*, double>>{{"w", 100}, {"a", 100}, {"b", 200}, {"e", 1}, {"c", 1}})
    graph.add_op(sized(name, bytes));
  graph.add_edge(0, 1);  // a = f(w)
  graph.add_edge(1, 3);  // e = g(a)
  graph.add_edge(0, 4);  // c = h(w)
  Plan plan;
  plan.device.assign(graph.num_ops(), 0);
  plan.priority = {0, 0, 1, 2, 3};
  MemoryPlanOptions options;
  options.budget = 200;
  options.alignment = 1;
  options.host_input = {true, false, false, false, false};
  const MemoryGraph mg = compile_memory_graph(graph, plan, options);
  std::size_t loads = 0, drops_before_b = 0;
  bool b_ran = false;
  for (const MemNode& node : mg.nodes) {
    EXPECT_FALSE(node.tensor == 0 && node.kind == MemNodeKind::kEvict) << "w is never copied to the host";
    loads += node.tensor == 0 && node.kind == MemNodeKind::kLoad;
    drops_before_b +=
        !b_ran && node.tensor == 0 && node.kind == MemNodeKind::kFree && node.region.device == 0;
    b_ran = b_ran || (node.kind == MemNodeKind::kOp && node.tensor == 2);
  }
  EXPECT_EQ(drops_before_b, 1u);
  EXPECT_EQ(loads, 2u);
  EXPECT_EQ(test_support::memory_graph_violation(mg, graph, plan), "");
}

// a [0, 100) is used last, b [100, 200) sooner, [200, 299) is free once t is consumed, p holds
// [299, 300). `big` needs 199 contiguous bytes: evicting a (used furthest in the future) would
// leave two 100-byte holes and b would have to go as well; the window b + free block is enough,
// so only b is evicted and a stays.
TEST(MemoryPlan, EvictionClearsTheContiguousWindowNeededAgainLatest) {
  TaskGraph graph;
  for (const auto& [name, bytes] : std::vector<std::pair<const char*, double>>{
           {"a", 100}, {"b", 100}, {"t", 99}, {"p", 1}, {"big", 199}, {"y", 1}, {"x", 1}})
    graph.add_op(sized(name, bytes));
  graph.add_edge(2, 3);  // p = q(t)
  graph.add_edge(1, 5);  // y = s(b)
  graph.add_edge(0, 6);  // x = s(a)
  Plan plan;
  plan.device.assign(graph.num_ops(), 0);
  plan.priority = {0, 1, 2, 3, 4, 5, 6};
  MemoryPlanOptions options;
  options.budget = 300;
  options.alignment = 1;
  const MemoryGraph mg = compile_memory_graph(graph, plan, options);
  std::vector<OpId> evicted_before_big;
  for (const MemNode& node : mg.nodes) {
    if (node.kind == MemNodeKind::kOp && node.tensor == 4) break;
    if (node.kind == MemNodeKind::kEvict) evicted_before_big.push_back(node.tensor);
  }
  EXPECT_EQ(evicted_before_big, (std::vector<OpId>{1}));
  for (const MemNode& node : mg.nodes) EXPECT_FALSE(node.tensor == 0 && node.kind == MemNodeKind::kEvict);
  EXPECT_EQ(test_support::memory_graph_violation(mg, graph, plan), "");
}

// Random graphs, plans (1-3 devices, random priorities), host inputs and budgets between the
// largest op's need and the working set.
TEST(MemoryPlan, RandomGraphsAndBudgetsKeepEveryInvariant) {
  std::mt19937_64 rng(11);
  int evicting = 0;
  for (int trial = 0; trial < 60; ++trial) {
    const TaskGraph graph = random_dag({.num_ops = 40 + rng() % 80,
                                        .mean_fan_in = 1.0 + (rng() % 20) / 10.0,
                                        .window = 12,
                                        .max_compute = 20,
                                        .max_comm = 500,
                                        .seed = rng()});
    Plan plan;
    const std::size_t devices = 1 + rng() % 3;
    for (OpId v = 0; v < graph.num_ops(); ++v) {
      plan.device.push_back(static_cast<DeviceId>(rng() % devices));
      plan.priority.push_back(static_cast<double>(rng() % 50));
    }
    MemoryPlanOptions options;
    options.alignment = 1u << (rng() % 5);
    options.order =
        std::array{CompileOrder::kPlan, CompileOrder::kMinGrowth, CompileOrder::kLookahead}[trial % 3];
    if (trial % 3 != 0) {
      options.host_input.assign(graph.num_ops(), false);
      for (OpId v = 0; v < graph.num_ops(); ++v) options.host_input[v] = graph.predecessors(v).empty();
    }
    const std::uint64_t need = largest_op_need(graph, options).bytes;
    const std::uint64_t full = working_set_bytes(graph, plan, options);
    options.budget = need + rng() % (std::max(full, need) - need + 1);
    SCOPED_TRACE("trial " + std::to_string(trial) + ", budget " + std::to_string(options.budget));
    const MemoryGraph mg = compile_memory_graph(graph, plan, options);
    EXPECT_EQ(test_support::memory_graph_violation(mg, graph, plan), "");
    EXPECT_EQ(test_support::memory_graph_violation(with_fixed_order(mg), graph, plan), "");
    for (const std::uint64_t peak : mg.planned_peak) EXPECT_LE(peak, options.budget);
    evicting += mg.count(MemNodeKind::kEvict) > 0;
  }
  EXPECT_GT(evicting, 10) << "the budgets must force evictions in many trials";
}

}  // namespace
}  // namespace doppler::memory
