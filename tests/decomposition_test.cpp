// Decomposition methods (EinDecomp optimizer, data/model-parallel, no split): the cost function on
// hand-computed cases, EinDecomp's optimality on tree-shaped graphs against brute force, its
// reported cost against an independent re-pricing, the baselines' split choices, and for every
// built-in workload and method: the lowered task graph's outputs equal the whole graph's.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "doppler/einsum/decomposition.hpp"
#include "doppler/einsum/einsum_builder.hpp"
#include "doppler/einsum/lowering.hpp"
#include "doppler/einsum/reference_executor.hpp"
#include "doppler/einsum/workloads.hpp"
#include "error_of.hpp"

namespace doppler::einsum {
namespace {

using test_support::error_of;

const DecomposeMethod kMethods[] = {DecomposeMethod::kEinDecomp, DecomposeMethod::kDataParallel,
                                    DecomposeMethod::kModelParallel, DecomposeMethod::kNoSplit};

Decomposition run(const EinsumGraph& g, DecomposeMethod method, int devices, bool wide = false) {
  return decompose(g, {.devices = devices, .method = method, .wide_search = wide});
}

TEST(Decomposition, MethodNamesRoundTrip) {
  for (const DecomposeMethod m : kMethods) EXPECT_EQ(parse_decompose_method(decompose_method_name(m)), m);
  EXPECT_EQ(error_of([] { parse_decompose_method("megatron"); }),
            "unknown decomposition method 'megatron' (known: eindecomp, data, model, none)");
  EinsumGraph g;
  g.add_input("x", {4});
  EXPECT_NE(error_of([&] { decompose(g, {.devices = 0}); }).find("devices must be at least 1"),
            std::string::npos);
}

TEST(Decomposition, OpCostOfAMatmul) {
  EinsumGraph g;
  const TensorId a = g.add_input("a", {8, 6});
  const TensorId b = g.add_input("b", {6, 4});
  matmul(g, "c", a, b);
  // Rows split in 2: b is read by both kernels (24 extra elements); no partial outputs.
  DecompositionCost rows = op_cost(g, 0, make_partition("i", {2}));
  EXPECT_EQ(rows.replication, 24);
  EXPECT_EQ(rows.aggregation, 0);
  // Contraction split in 4: 4 partial outputs of 32 elements, 3 of them extra.
  DecompositionCost inner = op_cost(g, 0, make_partition("j", {2}));
  EXPECT_EQ(inner.replication, 0);
  EXPECT_EQ(inner.aggregation, 32);
  DecompositionCost both = op_cost(g, 0, make_partition("ik", {2, 2}));
  EXPECT_EQ(both.replication, 48 + 24);  // a read by 2 column kernels, b by 2 row kernels
  EXPECT_EQ(partition_label(g, 0, make_partition("ik", {2, 2})), "i2k2");
  EXPECT_EQ(partition_label(g, 0, Partition{}), "-");
}

TEST(Decomposition, RepartitionCostsTheTensor) {
  EinsumGraph g;
  const TensorId x = g.add_input("x", {8, 8});
  const TensorId y = relu(g, "y", x);
  relu(g, "z", y);
  const std::vector<Partition> same{make_partition("ij", {2, 1}), make_partition("ij", {2, 1})};
  const std::vector<Partition> differ{make_partition("ij", {2, 1}), make_partition("ij", {1, 2})};
  EXPECT_EQ(decomposition_cost(g, same).total(), 0);
  EXPECT_EQ(decomposition_cost(g, differ).repartition, 64);
}

// All power-of-two partitions of every op whose block product is exactly `n` (or the most it allows).
std::vector<std::vector<Partition>> exact_candidates(const EinsumGraph& g, int n) {
  std::vector<std::vector<Partition>> all(g.num_ops());
  for (EinsumOpId o = 0; o < g.num_ops(); ++o) {
    const std::string letters = splittable_indices(g, o);
    std::vector<std::pair<Partition, int>> found;
    std::function<void(std::size_t, Partition, int)> walk = [&](std::size_t i, Partition p, int product) {
      if (i == letters.size()) {
        found.emplace_back(p, product);
        return;
      }
      for (int k = 1; k * product <= n && k <= index_size(g.op(o).sizes, letters[i]); k *= 2) {
        if (block_range(index_size(g.op(o).sizes, letters[i]), k, k - 1).size() <= 0) continue;
        Partition q = p;
        if (k > 1) q.set(letters[i], k);
        walk(i + 1, q, product * k);
      }
    };
    walk(0, Partition{}, 1);
    int most = 1;
    for (const auto& [p, product] : found) most = std::max(most, product);
    for (const auto& [p, product] : found) {
      if (product == most) all[o].push_back(p);
    }
  }
  return all;
}

double brute_force_cost(const EinsumGraph& g, int n) {
  const auto candidates = exact_candidates(g, n);
  std::vector<Partition> chosen(g.num_ops());
  double best = std::numeric_limits<double>::infinity();
  std::function<void(std::size_t)> walk = [&](std::size_t o) {
    if (o == g.num_ops()) {
      best = std::min(best, decomposition_cost(g, chosen).total());
      return;
    }
    for (const Partition& p : candidates[o]) {
      chosen[o] = p;
      walk(o + 1);
    }
  };
  walk(0);
  return best;
}

TEST(Decomposition, EinDecompIsOptimalOnTrees) {
  // Trees: every intermediate has one use. Sizes make different ops prefer different splits.
  std::vector<EinsumGraph> trees;
  {
    EinsumGraph g;  // tall-skinny times wide, then a matmul whose weight is large
    const TensorId x = g.add_input("x", {64, 8});
    const TensorId w = g.add_parameter("w", {8, 32});
    const TensorId h = relu(g, "h", matmul(g, "z", x, w));
    const TensorId v = g.add_parameter("v", {32, 128});
    g.mark_output(matmul(g, "y", h, v));
    trees.push_back(std::move(g));
  }
  trees.push_back(chain_mm({.n = 16, .length = 4, .dtype = DType::kF32}));
  trees.push_back(ffnn({.batch = 16, .in = 32, .hidden = 8, .out = 4, .layers = 2}));
  for (const int n : {2, 4}) {
    for (const EinsumGraph& g : trees) {
      const Decomposition d = run(g, DecomposeMethod::kEinDecomp, n);
      EXPECT_DOUBLE_EQ(d.cost.total(), brute_force_cost(g, n)) << g.num_ops() << " ops, " << n << " devices";
    }
  }
}

std::vector<std::pair<std::string, EinsumGraph>> small_workloads() {
  const FfnnOptions ffnn_options{
      .batch = 8, .in = 6, .hidden = 8, .out = 4, .layers = 3, .dtype = DType::kF32};
  const LlamaOptions llama{.batch = 4, .seq = 4, .hidden = 8, .heads = 2, .ffn = 8, .dtype = DType::kF32};
  std::vector<std::pair<std::string, EinsumGraph>> all;
  all.emplace_back("chain_mm", chain_mm({.n = 8, .length = 5, .dtype = DType::kF32}));
  all.emplace_back("ffnn", ffnn(ffnn_options));
  all.emplace_back("llama_block", llama_block(llama));
  all.emplace_back("llama_layer", llama_layer(llama));
  all.emplace_back("mlp_sgd", mlp_training_step(ffnn_options));
  all.emplace_back("llama_sgd", llama_layer_training_step(llama));
  return all;
}

// Max |got - want| of tensor t over the largest magnitude among t and its producer's operands: a
// tensor that cancels to about 0 (the softmax max's gradient) is judged at its operands' scale.
double error_at_operand_scale(const EinsumGraph& g, TensorId t, const std::vector<std::vector<double>>& got,
                              const std::vector<std::vector<double>>& want) {
  std::vector<double> scale_of = want[t];
  if (g.tensor(t).producer != kNoProducer) {
    for (const TensorId in : g.op(g.tensor(t).producer).inputs) {
      for (const double v : want[in]) scale_of.push_back(std::abs(v));
    }
  }
  double scale = 1e-300, diff = 0;
  for (const double v : scale_of) scale = std::max(scale, std::abs(v));
  for (std::size_t e = 0; e < want[t].size(); ++e) diff = std::max(diff, std::abs(got[t][e] - want[t][e]));
  return diff / scale;
}

TEST(Decomposition, EveryMethodLowersToTheSameValuesAsTheWholeGraph) {
  for (const auto& [name, g] : small_workloads()) {
    const auto want = run_reference<double>(g);
    for (const DecomposeMethod m : kMethods) {
      for (const int n : {2, 4}) {
        const Decomposition d = run(g, m, n);
        ASSERT_EQ(d.partitions.size(), g.num_ops());
        EXPECT_DOUBLE_EQ(d.cost.total(), decomposition_cost(g, d.partitions).total());
        const LoweredGraph lowered = lower(g, d.partitions);
        const auto got = run_lowered<double>(g, lowered);
        for (TensorId t = 0; t < g.num_tensors(); ++t) {
          ASSERT_EQ(got[t].size(), want[t].size());
          ASSERT_LT(error_at_operand_scale(g, t, got, want), 1e-10)
              << name << " " << decompose_method_name(m) << " n=" << n << " " << g.tensor(t).name;
        }
      }
    }
  }
}

int kernels_of(const EinsumGraph& g, EinsumOpId o, const Partition& p) {
  int kernels = 1;
  for (const char c : g.op(o).spec.all_indices()) kernels *= p.of(c);
  return kernels;
}

TEST(Decomposition, EinDecompRunsEveryLargeOpAsNKernels) {
  const EinsumGraph g = llama_layer({.batch = 4, .seq = 64, .hidden = 64, .heads = 4, .ffn = 128});
  for (const int n : {4, 8}) {
    const Decomposition d = run(g, DecomposeMethod::kEinDecomp, n);
    for (EinsumOpId o = 0; o < g.num_ops(); ++o)
      EXPECT_EQ(kernels_of(g, o, d.partitions[o]), n) << g.op(o).name;
    const Decomposition wide = run(g, DecomposeMethod::kEinDecomp, n, true);
    EXPECT_LE(wide.cost.total(), d.cost.total());
    for (EinsumOpId o = 0; o < g.num_ops(); ++o) {
      EXPECT_GE(kernels_of(g, o, wide.partitions[o]), n / 2);
      EXPECT_LE(kernels_of(g, o, wide.partitions[o]), 4 * n);
    }
  }
}

TEST(Decomposition, BranchingBoundKeepsValidPartitions) {
  const EinsumGraph g = llama_layer({.batch = 4, .seq = 64, .hidden = 64, .heads = 4, .ffn = 128});
  const Decomposition full = run(g, DecomposeMethod::kEinDecomp, 4);
  for (const int bound : {1, 2, 8}) {
    const Decomposition bounded =
        decompose(g, {.devices = 4, .method = DecomposeMethod::kEinDecomp, .max_candidates = bound});
    EXPECT_GE(bounded.cost.total(), full.cost.total()) << bound;
    EXPECT_NO_THROW(lower(g, bounded.partitions)) << bound;
  }
  EXPECT_NE(error_of([&] { decompose(g, {.max_candidates = 0}); }).find("max_candidates"), std::string::npos);
}

TEST(Decomposition, DataParallelSplitsTheBatchEverywhere) {
  const EinsumGraph g = mlp_training_step({.batch = 16, .in = 8, .hidden = 8, .out = 4, .layers = 2});
  const Decomposition d = run(g, DecomposeMethod::kDataParallel, 4);
  // Forward matmul: rows (batch) split. Weight gradient: the batch is aggregated, so its partials
  // are summed (the all-reduce). The SGD update has no batch: unsplit.
  const EinsumOpId z0 = g.tensor(g.find_tensor("z0")).producer;
  EXPECT_EQ(partition_label(g, z0, d.partitions[z0]), "i4");
  const EinsumOpId grad_w0 = g.tensor(g.find_tensor("grad.w0")).producer;
  EXPECT_EQ(d.partitions[grad_w0].of(g.op(grad_w0).spec.aggregated_indices().at(0)), 4);
  const EinsumOpId update = g.tensor(g.find_tensor("new.w0")).producer;
  EXPECT_EQ(partition_label(g, update, d.partitions[update]), "-");
  EXPECT_GT(d.cost.aggregation, 0);
}

TEST(Decomposition, ModelParallelIsMegatronOnAnMlp) {
  const EinsumGraph g = ffnn({.batch = 16, .in = 8, .hidden = 32, .out = 8, .layers = 2});
  const Decomposition d = run(g, DecomposeMethod::kModelParallel, 4);
  const auto label = [&](const char* tensor) {
    const EinsumOpId o = g.tensor(g.find_tensor(tensor)).producer;
    return partition_label(g, o, d.partitions[o]);
  };
  EXPECT_EQ(label("z0"), "k4");  // column-parallel: hidden columns split
  EXPECT_EQ(label("h0"), "j4");  // relu follows the split hidden dim
  EXPECT_EQ(label("z1"), "j4");  // row-parallel: the contraction over hidden, partials summed
  EXPECT_EQ(label("y"), "-");    // after the reduction: unsplit
}

TEST(Decomposition, ModelParallelSplitsAttentionHeads) {
  const EinsumGraph g = llama_block({.batch = 2, .seq = 8, .hidden = 16, .heads = 4});
  const Decomposition d = run(g, DecomposeMethod::kModelParallel, 4);
  // The head dim: dim 2 of q, k, v, context [b, s, n, d]; dim 1 of probs [b, n, s, t].
  for (const auto& [tensor, head_dim] :
       {std::pair{"q", 2}, {"k", 2}, {"v", 2}, {"probs", 1}, {"context", 2}}) {
    const EinsumOpId o = g.tensor(g.find_tensor(tensor)).producer;
    const std::vector<int> grid = grid_of(d.partitions[o], g.op(o).spec.output);
    EXPECT_EQ(grid[static_cast<std::size_t>(head_dim)], 4)
        << tensor << " " << partition_label(g, o, d.partitions[o]);
  }
}

TEST(Decomposition, PaperScaleCostsAndTimes) {
  const LlamaOptions llama{.batch = 8, .seq = 2048, .hidden = 4096, .heads = 32};
  std::vector<std::pair<std::string, EinsumGraph>> paper;
  paper.emplace_back("ffnn", ffnn({.batch = 1024, .in = 4096, .hidden = 8192, .out = 4096, .layers = 4}));
  paper.emplace_back("llama_layer", llama_layer(llama));
  paper.emplace_back("llama_sgd", llama_layer_training_step(llama));
  for (const auto& [name, g] : paper) {
    const Decomposition best = run(g, DecomposeMethod::kEinDecomp, 8);
    for (const DecomposeMethod m : kMethods) {
      const Decomposition d = run(g, m, 8);
      std::printf("%-12s %-9s cost %.4g elements, %zu tasks, %.3f s\n", name.c_str(),
                  std::string(decompose_method_name(m)).c_str(), d.cost.total(),
                  lower(g, d.partitions).graph.num_ops(), d.seconds);
    }
    EXPECT_LE(best.cost.total(), run(g, DecomposeMethod::kDataParallel, 8).cost.total()) << name;
    EXPECT_LE(best.cost.total(), run(g, DecomposeMethod::kModelParallel, 8).cost.total()) << name;
  }
}

}  // namespace
}  // namespace doppler::einsum
