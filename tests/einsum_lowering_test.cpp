// Lowering partitioned einsum graphs to task graphs: the lowered CPU run equals the whole-graph
// reference for random partitions of several models (float64; float32 too); task counts and roles
// for known cases; partition errors; simulation of the task graph; the speed of a 100,000-task
// lowering.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <random>

#include "doppler/einsum/einsum_builder.hpp"
#include "doppler/einsum/lowering.hpp"
#include "doppler/einsum/reference_executor.hpp"
#include "doppler/machine.hpp"
#include "doppler/plan.hpp"
#include "doppler/sim/simulator.hpp"
#include "error_of.hpp"
#include "max_relative_error.hpp"

namespace doppler::einsum {
namespace {

using test_support::error_of;

// Every op gets, per index letter, a random count among 1, 2, 4 that its size can take.
std::vector<Partition> random_partitions(const EinsumGraph& g, std::mt19937_64& rng) {
  std::vector<Partition> parts(g.num_ops());
  for (EinsumOpId o = 0; o < g.num_ops(); ++o) {
    const EinsumOp& op = g.op(o);
    for (const char c : op.spec.all_indices()) {
      std::vector<int> options;
      for (const int k : {1, 2, 4}) {
        const std::int64_t n = index_size(op.sizes, c);
        if (k <= n && block_range(n, k, k - 1).size() > 0) options.push_back(k);
      }
      parts[o].set(c, options[rng() % options.size()]);
    }
  }
  return parts;
}

std::vector<Partition> uniform_partitions(const EinsumGraph& g, int k) {
  std::vector<Partition> parts(g.num_ops());
  for (EinsumOpId o = 0; o < g.num_ops(); ++o) {
    for (const char c : g.op(o).spec.all_indices()) parts[o].set(c, k);
  }
  return parts;
}

using doppler::test_support::max_relative_error;

// Returns the number of repartition tasks of the lowered graph.
std::size_t expect_matches_reference(const EinsumGraph& g, const std::vector<Partition>& parts,
                                     int aggregate_fan_in = 0) {
  const LoweredGraph lowered = lower(g, parts, aggregate_fan_in);
  EXPECT_NO_THROW(lowered.graph.validate());
  const auto want = run_reference<double>(g);
  const auto got = run_lowered<double>(g, lowered);
  for (TensorId t = 0; t < g.num_tensors(); ++t) {
    EXPECT_EQ(got[t].size(), want[t].size()) << g.tensor(t).name;
    if (got[t].size() == want[t].size()) {
      EXPECT_LT(max_relative_error(got[t], want[t]), 1e-10) << g.tensor(t).name;
    }
  }
  std::size_t repartitions = 0;
  for (const TaskInfo& t : lowered.tasks) repartitions += t.role == TaskRole::kRepartition ? 1 : 0;
  return repartitions;
}

std::size_t count_role(const LoweredGraph& lowered, TaskRole role) {
  std::size_t n = 0;
  for (const TaskInfo& t : lowered.tasks) n += t.role == role ? 1 : 0;
  return n;
}

EinsumGraph matmul_chain() {
  EinsumGraph g;
  const TensorId x = g.add_input("x", {5, 7});
  const TensorId w1 = g.add_parameter("w1", {7, 6});
  const TensorId w2 = g.add_parameter("w2", {6, 9});
  g.mark_output(matmul(g, "y", matmul(g, "h", x, w1), w2));
  return g;
}

EinsumGraph batched_matmul() {
  EinsumGraph g;
  const TensorId a = g.add_input("a", {3, 5, 6});
  const TensorId b = g.add_input("b", {3, 6, 7});
  g.mark_output(matmul(g, "c", a, b));
  return g;
}

EinsumGraph softmax_graph() {
  EinsumGraph g;
  g.mark_output(softmax(g, "y", g.add_input("x", {6, 9}), 1));
  return g;
}

EinsumGraph rms_norm_graph() {
  EinsumGraph g;
  const TensorId x = g.add_input("x", {5, 10});
  g.mark_output(rms_norm(g, "y", x, g.add_parameter("w", {10}), 1));
  return g;
}

EinsumGraph mlp() {
  EinsumGraph g;
  const TensorId x = g.add_input("x", {6, 7});
  const TensorId h = relu(g, "h", matmul(g, "h0", x, g.add_parameter("w1", {7, 11})));
  g.mark_output(matmul(g, "y", h, g.add_parameter("w2", {11, 5})));
  return g;
}

EinsumGraph max_and_prod() {
  EinsumGraph g;
  const TensorId x = g.add_input("x", {7, 6});
  const TensorId m = g.add_einsum("m", "ij->i | agg=max", {x});
  const TensorId n = g.add_einsum("n", "ij->j | agg=min", {x});
  const TensorId p = g.add_einsum("p", "i,j->ij | join=a-b", {m, n});
  g.mark_output(g.add_einsum("q", "ij->j | agg=prod", {p}));
  return g;
}

// A fill, a transpose and a reduction to a scalar.
EinsumGraph fill_transpose_total() {
  EinsumGraph g;
  const TensorId x = g.add_input("x", {5, 6});
  const TensorId c = fill(g, "c", {5, 6}, 0.5);
  const TensorId t = transpose(g, "t", add(g, "s", x, c), {1, 0});
  g.mark_output(g.add_einsum("total", "ij->", {t}));
  return g;
}

TEST(Lowering, RandomPartitionsMatchReference) {
  const std::vector<std::pair<const char*, std::function<EinsumGraph()>>> graphs{
      {"matmul_chain", matmul_chain},
      {"batched_matmul", batched_matmul},
      {"softmax", softmax_graph},
      {"rms_norm", rms_norm_graph},
      {"mlp", mlp},
      {"max_and_prod", max_and_prod},
      {"fill_transpose_total", fill_transpose_total}};
  std::mt19937_64 rng(7);
  std::size_t repartitions = 0;
  for (const auto& [name, build] : graphs) {
    SCOPED_TRACE(name);
    const EinsumGraph g = build();
    EXPECT_EQ(expect_matches_reference(g, uniform_partitions(g, 1)), 0u);
    for (int trial = 0; trial < 8; ++trial)
      repartitions +=
          expect_matches_reference(g, random_partitions(g, rng), trial % 3 == 0 ? 0 : 1 + trial % 3);
  }
  EXPECT_GT(repartitions, 0u);  // the random partitions do disagree somewhere
}

// Eight partials of one output block: fan-in 2 gives a tree of 4 + 2 + 1 aggregates, fan-in 3 one
// of 3 + 1; every aggregate combines at most the fan-in, the root keeps the usual name, and the
// sum, max, min and prod aggregations (eight partials each) stay exact.
TEST(Lowering, AggregateFanInBuildsATree) {
  EinsumGraph g;
  const TensorId a = g.add_input("a", {4, 16});
  const TensorId b = g.add_input("b", {16, 6});
  g.mark_output(g.add_einsum("mm", "ij,jk->ik", {a, b}));
  const std::vector<Partition> split{make_partition("j", {8})};
  const std::vector<std::pair<int, std::size_t>> cases{{0, 1}, {2, 7}, {3, 4}, {8, 1}, {16, 1}};
  for (const auto& [fan_in, aggregates] : cases) {
    SCOPED_TRACE(fan_in);
    const LoweredGraph lowered = lower(g, split, fan_in);
    EXPECT_EQ(count_role(lowered, TaskRole::kAggregate), aggregates);
    for (OpId t = 0; t < lowered.graph.num_ops(); ++t) {
      if (lowered.tasks[t].role != TaskRole::kAggregate) continue;
      EXPECT_LE(lowered.graph.predecessors(t).size(), fan_in == 0 ? 8u : static_cast<std::size_t>(fan_in));
    }
    const OpId root = lowered.tensors[g.find_tensor("mm")].tasks.front();
    EXPECT_EQ(lowered.graph.op(root).name, "mm.agg[i0,k0]");
    EXPECT_EQ(lowered.graph.successors(root).size(), 0u);
    expect_matches_reference(g, split, fan_in);
  }
  const LoweredGraph tree = lower(g, split, 2);
  EXPECT_EQ(tree.graph.op(tree.graph.predecessors(tree.tensors[g.find_tensor("mm")].tasks.front())[0]).name,
            "mm.agg2_0[i0,k0]");
  EinsumGraph extremes;
  const TensorId x = extremes.add_input("x", {8, 8});
  extremes.mark_output(extremes.add_einsum("m", "ij->i | agg=max", {x}));
  extremes.mark_output(extremes.add_einsum("n", "ij->j | agg=min", {x}));
  extremes.mark_output(extremes.add_einsum("p", "ij->j | agg=prod", {x}));
  for (const int fan_in : {2, 3}) {
    const std::vector<Partition> eight{make_partition("j", {8}), make_partition("i", {8}),
                                       make_partition("i", {8})};
    EXPECT_EQ(count_role(lower(extremes, eight, fan_in), TaskRole::kAggregate), fan_in == 2 ? 21u : 12u);
    expect_matches_reference(extremes, eight, fan_in);
  }
  EXPECT_EQ(error_of([&] { lower(g, split, 1); }), "lower: aggregate fan-in 1 (0 = unlimited, else >= 2)");
}

TEST(Lowering, Float32MatchesReference) {
  const EinsumGraph g = mlp();
  const LoweredGraph lowered = lower(g, uniform_partitions(g, 2));
  const auto want = run_reference<float>(g);
  const auto got = run_lowered<float>(g, lowered);
  const TensorId y = g.find_tensor("y");
  ASSERT_EQ(got[y].size(), want[y].size());
  for (std::size_t e = 0; e < want[y].size(); ++e) EXPECT_NEAR(got[y][e], want[y][e], 1e-4);
}

TEST(Lowering, MatmulTwoByTwoByTwo) {
  EinsumGraph g;
  const TensorId a = g.add_input("a", {4, 6});
  const TensorId b = g.add_input("b", {6, 8});
  g.mark_output(g.add_einsum("mm", "ij,jk->ik", {a, b}));
  const LoweredGraph lowered = lower(g, {make_partition("ijk", {2, 2, 2})});
  EXPECT_EQ(count_role(lowered, TaskRole::kJoin), 8u);
  EXPECT_EQ(count_role(lowered, TaskRole::kAggregate), 4u);
  EXPECT_EQ(count_role(lowered, TaskRole::kLoad), 8u);
  EXPECT_EQ(count_role(lowered, TaskRole::kRepartition), 0u);
  EXPECT_EQ(lowered.graph.num_ops(), 20u);
  const Op& join = lowered.graph.op(lowered.tasks.size() - 1 - 1 - 1);  // mm[i1,k1,j0]
  EXPECT_EQ(join.name, "mm[i1,k1,j0]");
  EXPECT_EQ(join.flops, 2.0 * 4 * 3);  // 2x4x3 block, join a*b costs 1
  EXPECT_EQ(join.output_bytes, 2.0 * 4 * 4);
  EXPECT_EQ(join.bytes_read, (2.0 * 3 + 3.0 * 4) * 4);
  const Op& agg = lowered.graph.op(lowered.tasks.size() - 1);
  EXPECT_EQ(agg.name, "mm.agg[i1,k1]");
  EXPECT_EQ(agg.flops, 8.0);
  EXPECT_EQ(lowered.graph.predecessors(static_cast<OpId>(lowered.tasks.size() - 1)).size(), 2u);
  EXPECT_EQ(lowered.graph.op(0).name, "a.load.2x2[i0,j0]");
  expect_matches_reference(g, {make_partition("ijk", {2, 2, 2})});
}

TEST(Lowering, RepartitionOnlyWhenPartitionsDiffer) {
  const EinsumGraph g = matmul_chain();  // h: ij,jk->ik then y: ij,jk->ik over h
  const LoweredGraph same = lower(g, {make_partition("ikj", {2, 2, 1}), make_partition("ikj", {2, 1, 2})});
  EXPECT_EQ(count_role(same, TaskRole::kRepartition), 0u);
  const LoweredGraph differ = lower(g, {make_partition("ikj", {2, 2, 1}), make_partition("ikj", {1, 1, 2})});
  EXPECT_EQ(count_role(differ, TaskRole::kRepartition), 2u);  // h as 1x2 from 2x2
  for (const TaskInfo& t : differ.tasks) {
    if (t.role == TaskRole::kRepartition) {
      EXPECT_EQ(t.inputs.size(), 2u);
    }
  }
  EXPECT_EQ(differ.graph.op(differ.tasks.size() - 1).name, "y.agg[i0,k0]");
  expect_matches_reference(g, {make_partition("ikj", {2, 2, 1}), make_partition("ikj", {1, 1, 2})});
}

TEST(Lowering, BadPartitionsNameTheOp) {
  const EinsumGraph g = matmul_chain();  // h is 5x7 @ 7x6
  const auto lower_h = [&](Partition p) { return error_of([&] { lower(g, {p, Partition{}}); }); };
  EXPECT_EQ(lower_h(make_partition("i", {3})),
            "op 'h': 3 blocks for index i of size 5 is not a power of two");
  EXPECT_EQ(lower_h(make_partition("i", {8})),
            "op 'h': 8 blocks for index i of size 5 are more than its size");
  EXPECT_EQ(lower_h(make_partition("k", {4})),
            "op 'h': 4 blocks for index k of size 6 leave the last block empty");
  EXPECT_EQ(lower_h(make_partition("z", {2})), "op 'h': partition splits index z, which the op lacks");
  EXPECT_EQ(error_of([&] { lower(g, {Partition{}}); }), "lower: 1 partitions for 2 einsum ops");
}

TEST(Lowering, SimulatesOnFourH100s) {
  const EinsumGraph g = mlp();
  const LoweredGraph lowered = lower(g, uniform_partitions(g, 2));
  const Machine machine = load_machine(DOPPLER_SOURCE_DIR "/configs/machines/h100-4.yaml");
  Plan plan;
  for (OpId id = 0; id < lowered.graph.num_ops(); ++id) plan.device.push_back(id % machine.devices.size());
  sim::Simulator simulator(lowered.graph, machine, sim::CostModelKind::roofline);
  EXPECT_GT(simulator.run(plan).makespan, 0);
}

TEST(Lowering, HundredThousandTasksQuickly) {
  EinsumGraph g;
  TensorId x = g.add_input("x", {256, 256});
  for (int l = 0; l < 24; ++l)
    x = matmul(g, "mm" + std::to_string(l), x, g.add_parameter("w" + std::to_string(l), {256, 256}));
  g.mark_output(x);
  const auto start = std::chrono::steady_clock::now();
  const LoweredGraph lowered = lower(g, uniform_partitions(g, 16));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("lowered %zu einsum ops to %zu tasks, %zu edges in %.3f s\n", g.num_ops(),
              lowered.graph.num_ops(), lowered.graph.num_edges(), seconds);
  EXPECT_GT(lowered.graph.num_ops(), 100000u);
  EXPECT_LT(seconds, 5.0);  // about 0.3 s in Release; the bound leaves room for sanitizer builds
}

}  // namespace
}  // namespace doppler::einsum
