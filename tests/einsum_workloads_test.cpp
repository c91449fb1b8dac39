// Built-in workload generators: every graph validates, output shapes follow the sizes, the float64
// reference gives finite values, attention softmax rows sum to 1, rotary with the real tables, lowering with
// batch-split partitions equals the reference, and task counts at paper-like and scaled-up sizes (printed).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "doppler/einsum/einsum_builder.hpp"
#include "doppler/einsum/lowering.hpp"
#include "doppler/einsum/reference_executor.hpp"
#include "doppler/einsum/workloads.hpp"
#include "error_of.hpp"
#include "max_relative_error.hpp"

namespace doppler::einsum {
namespace {

using test_support::error_of;

ChainMmOptions small_chain() {
  return {.n = 6, .length = 5, .dtype = DType::kF32};
}
FfnnOptions small_ffnn() {
  return {.batch = 4, .in = 5, .hidden = 7, .out = 3, .layers = 3};
}
LlamaOptions small_llama() {
  return {.batch = 2, .seq = 4, .hidden = 8, .heads = 2, .ffn = 8};
}

struct Named {
  std::string name;
  EinsumGraph graph;
};

std::vector<Named> small_workloads() {
  std::vector<Named> all;
  all.push_back({"chain_mm", chain_mm(small_chain())});
  all.push_back({"ffnn", ffnn(small_ffnn())});
  all.push_back({"llama_block", llama_block(small_llama())});
  all.push_back({"llama_layer", llama_layer(small_llama())});
  all.push_back({"mlp_sgd", mlp_training_step(small_ffnn())});
  all.push_back({"mlp_adam", mlp_training_step(small_ffnn(), Adam{})});
  all.push_back({"llama_sgd", llama_layer_training_step(small_llama())});
  all.push_back({"llama_adam", llama_layer_training_step(small_llama(), Adam{})});
  return all;
}

// `blocks` blocks on the letter `split` of every op that has it (when its size allows), 1 elsewhere.
std::vector<Partition> split_on(const EinsumGraph& g, char split, int blocks) {
  std::vector<Partition> parts(g.num_ops());
  for (EinsumOpId o = 0; o < g.num_ops(); ++o) {
    const EinsumOp& op = g.op(o);
    if (op.spec.all_indices().find(split) == std::string::npos) continue;
    if (index_size(op.sizes, split) >= blocks) parts[o].set(split, blocks);
  }
  return parts;
}

// The letter the generators use for the batch: `i` in matmul-builder graphs, `b` in llama graphs.
char batch_letter(const std::string& name) {
  return name.rfind("llama", 0) == 0 ? 'b' : 'i';
}

// Seeded values, with Adam's second-moment states `v.P` made non-negative (as they are in training).
ReferenceOptions reference_options(const EinsumGraph& g) {
  ReferenceOptions options;
  for (TensorId t = 0; t < g.num_tensors(); ++t) {
    const Tensor& tensor = g.tensor(t);
    if (tensor.kind != TensorKind::kParameter || tensor.name.rfind("v.", 0) != 0) continue;
    std::vector<double> values = random_tensor_values(options.seed, t, tensor.elements(), 0, 1);
    options.given.emplace(t, std::move(values));
  }
  return options;
}

using doppler::test_support::max_relative_error;

TEST(Workloads, GraphsValidate) {
  for (const Named& w : small_workloads()) {
    EXPECT_NO_THROW(w.graph.validate()) << w.name;
    EXPECT_GT(w.graph.num_ops(), 0u) << w.name;
  }
}

TEST(Workloads, OutputShapesFollowSizes) {
  using Dims = std::vector<std::int64_t>;
  const auto dims_of_y = [](const EinsumGraph& g) { return g.tensor(g.find_tensor("y")).dims; };
  EXPECT_EQ(dims_of_y(chain_mm(small_chain())), (Dims{6, 6}));
  EXPECT_EQ(dims_of_y(ffnn(small_ffnn())), (Dims{4, 3}));
  EXPECT_EQ(dims_of_y(llama_block(small_llama())), (Dims{2, 4, 8}));
  EXPECT_EQ(dims_of_y(llama_layer(small_llama())), (Dims{2, 4, 8}));
  const EinsumGraph block = llama_block(small_llama());
  EXPECT_EQ(block.tensor(block.find_tensor("probs")).dims, (Dims{2, 2, 4, 4}));
  EXPECT_EQ(block.tensor(block.find_tensor("q")).dims, (Dims{2, 4, 2, 4}));
  EXPECT_EQ(block.tensor(block.find_tensor("q.rope")).dims, (Dims{2, 4, 2, 4}));
  EXPECT_EQ(block.tensor(block.find_tensor("rope.cos")).dims, (Dims{4, 4}));
  EXPECT_EQ(block.tensor(block.find_tensor("rope.sin")).kind, TensorKind::kInput);
  EXPECT_EQ(block.tensor(block.find_tensor("x")).dtype, DType::kBF16);
  const EinsumGraph step = llama_layer_training_step(small_llama(), Adam{});
  EXPECT_TRUE(step.tensor(step.find_tensor("loss")).dims.empty());
  EXPECT_EQ(step.tensor(step.find_tensor("new.wq")).dims, (Dims{8, 2, 4}));
  EXPECT_EQ(step.tensor(step.find_tensor("new.m.wdown")).dims, (Dims{8, 8}));
  EXPECT_EQ(step.tensor(step.find_tensor("new.wo")).kind, TensorKind::kOutput);
  EXPECT_EQ(mlp_training_step(small_ffnn()).tensor(0).dtype, DType::kBF16);
}

TEST(Workloads, ChainMmIsABalancedTree) {
  const EinsumGraph g = chain_mm({.n = 4, .length = 8});
  EXPECT_EQ(g.num_ops(), 7u);
  for (const char* leaf : {"p0", "p1", "p2", "p3"}) {
    for (const TensorId in : g.op(g.tensor(g.find_tensor(leaf)).producer).inputs) {
      EXPECT_EQ(g.tensor(in).kind, TensorKind::kInput) << leaf;
    }
  }
}

TEST(Workloads, ChainMmOddLengthsAndDtype) {
  EXPECT_EQ(chain_mm({.n = 3, .length = 5}).num_ops(), 4u);
  const EinsumGraph one = chain_mm({.n = 3, .length = 1});
  EXPECT_EQ(one.num_ops(), 1u);
  const auto values = run_reference<double>(one);
  EXPECT_EQ(values[one.find_tensor("y")], values[one.find_tensor("m0")]);
  const EinsumGraph f32 = llama_layer({.batch = 1, .seq = 2, .hidden = 4, .heads = 2, .dtype = DType::kF32});
  EXPECT_EQ(f32.tensor(f32.find_tensor("wgate")).dims, (std::vector<std::int64_t>{4, 16}));
  EXPECT_EQ(f32.tensor(f32.find_tensor("y")).dtype, DType::kF32);
}

TEST(Workloads, ReferenceValuesAreFinite) {
  for (const Named& w : small_workloads()) {
    const auto values = run_reference<double>(w.graph, reference_options(w.graph));
    for (TensorId t = 0; t < w.graph.num_tensors(); ++t) {
      for (const double v : values[t])
        ASSERT_TRUE(std::isfinite(v)) << w.name << " " << w.graph.tensor(t).name;
    }
  }
}

TEST(Workloads, AttentionSoftmaxRowsSumToOne) {
  const EinsumGraph g = llama_block(small_llama());
  const auto values = run_reference<double>(g);
  const std::vector<double>& probs = values[g.find_tensor("probs")];
  const std::size_t t = 4;
  ASSERT_EQ(probs.size() % t, 0u);
  for (std::size_t row = 0; row < probs.size() / t; ++row) {
    double sum = 0;
    for (std::size_t j = 0; j < t; ++j) sum += probs[row * t + j];
    EXPECT_NEAR(sum, 1.0, 1e-12) << row;
  }
}

// Weights carry 1/sqrt(fan-in), so seeded reference values keep a wide layer well-conditioned:
// activations near unit size and attention spread over many keys, not one-hot (with unscaled
// weights a 1024-wide layer's attention picks single keys, and bf16 rounding flips which).
TEST(Workloads, WeightsScaledByFanInKeepAttentionSpread) {
  const EinsumGraph g = llama_layer({.batch = 1, .seq = 64, .hidden = 256, .heads = 2, .ffn = 512});
  EXPECT_DOUBLE_EQ(g.tensor(g.find_tensor("wq")).init_scale, 1.0 / 16);
  EXPECT_DOUBLE_EQ(g.tensor(g.find_tensor("wdown")).init_scale, 1.0 / std::sqrt(512.0));
  EXPECT_DOUBLE_EQ(g.tensor(g.find_tensor("x")).init_scale, 1.0);
  const auto values = run_reference<double>(g);
  const auto& probs = values[g.find_tensor("probs")];
  EXPECT_LT(*std::max_element(probs.begin(), probs.end()), 0.5);
  for (const double v : values[g.find_tensor("wq")]) EXPECT_LE(std::abs(v), 1.0 / 16);
}

// With the real rotary tables, q.rope equals q at position 0 (angle 0) and differs elsewhere.
TEST(Workloads, RotaryWithRealTablesRotatesQAndK) {
  const LlamaOptions o = small_llama();
  const EinsumGraph g = llama_block(o);
  const RotaryTables tables = rotary_tables(o.seq, o.hidden / o.heads);
  ReferenceOptions options;
  options.given[g.find_tensor("rope.cos")] = tables.cos;
  options.given[g.find_tensor("rope.sin")] = tables.sin;
  const auto values = run_reference<double>(g, options);
  for (const char* name : {"q", "k"}) {
    const std::vector<double>& raw = values[g.find_tensor(name)];
    const std::vector<double>& rotated = values[g.find_tensor(std::string(name) + ".rope")];
    const std::size_t per_position = static_cast<std::size_t>(o.hidden);  // heads x head dim
    for (std::size_t e = 0; e < raw.size(); ++e) {
      const std::size_t position = e / per_position % static_cast<std::size_t>(o.seq);
      if (position == 0) {
        EXPECT_NEAR(rotated[e], raw[e], 1e-15) << name << " " << e;
      }
    }
    EXPECT_GT(max_relative_error(rotated, raw), 1e-3) << name;
  }
}

TEST(Workloads, LoweredBatchSplitEqualsReference) {
  for (const Named& w : small_workloads()) {
    const LoweredGraph lowered = lower(w.graph, split_on(w.graph, batch_letter(w.name), 2));
    EXPECT_NO_THROW(lowered.graph.validate()) << w.name;
    const auto want = run_reference<double>(w.graph, reference_options(w.graph));
    const auto got = run_lowered<double>(w.graph, lowered, reference_options(w.graph));
    for (TensorId t = 0; t < w.graph.num_tensors(); ++t) {
      ASSERT_EQ(got[t].size(), want[t].size()) << w.name << " " << w.graph.tensor(t).name;
      EXPECT_LT(max_relative_error(got[t], want[t]), 1e-10) << w.name << " " << w.graph.tensor(t).name;
    }
  }
}

TEST(Workloads, PaperSizesLowerToHundredsOfTasks) {
  const LlamaOptions llama{.batch = 8, .seq = 2048, .hidden = 4096, .heads = 32};
  std::vector<Named> paper;
  paper.push_back({"chain_mm", chain_mm({.n = 10000, .length = 8})});
  paper.push_back({"ffnn", ffnn({.batch = 1024, .in = 4096, .hidden = 8192, .out = 4096, .layers = 4})});
  paper.push_back({"llama_block", llama_block(llama)});
  paper.push_back({"llama_layer", llama_layer(llama)});
  paper.push_back({"mlp_sgd", mlp_training_step({.batch = 1024, .in = 4096, .hidden = 8192, .out = 4096})});
  paper.push_back({"llama_sgd", llama_layer_training_step(llama)});
  for (const Named& w : paper) {
    const LoweredGraph lowered = lower(w.graph, split_on(w.graph, batch_letter(w.name), 4));
    std::printf("%-12s %3zu einsum ops -> %4zu tasks (4 blocks on %c)\n", w.name.c_str(), w.graph.num_ops(),
                lowered.graph.num_ops(), batch_letter(w.name));
    EXPECT_GE(lowered.graph.num_ops(), 45u) << w.name;
    EXPECT_LE(lowered.graph.num_ops(), 600u) << w.name;
  }
}

TEST(Workloads, ScaledUpChainLowersToOverHundredThousandTasks) {
  const EinsumGraph g = chain_mm({.n = 4096, .length = 32});
  std::vector<Partition> parts(g.num_ops());
  for (Partition& p : parts) p.set('i', 16).set('j', 16).set('k', 16);
  const auto start = std::chrono::steady_clock::now();
  const LoweredGraph lowered = lower(g, parts);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("chain_mm n=4096 length=32, 16 blocks per index: %zu tasks in %.2f s\n",
              lowered.graph.num_ops(), seconds);
  EXPECT_GE(lowered.graph.num_ops(), 100000u);
}

TEST(Workloads, StackedLlamaLayers) {
  LlamaOptions o = small_llama();
  o.layers = 3;
  const EinsumGraph g = llama_layer(o);
  EXPECT_EQ(g.num_ops(), 3 * llama_layer(small_llama()).num_ops());
  for (const char* name : {"l0.wq", "l1.wq", "l2.wdown", "l0.y", "l1.y", "y", "rope.cos"}) {
    EXPECT_TRUE(g.has_tensor(name)) << name;
  }
  EXPECT_FALSE(g.has_tensor("l2.y"));
  // Layer 1 reads layer 0's output; the reference agrees with the lowered graph.
  const EinsumOpId q1 = g.tensor(g.find_tensor("l1.attn_norm.ms")).producer;
  EXPECT_EQ(g.op(q1).inputs[0], g.find_tensor("l0.y"));
  const LoweredGraph lowered = lower(g, split_on(g, 'b', 2));
  const auto want = run_reference<double>(g);
  const auto got = run_lowered<double>(g, lowered);
  EXPECT_LT(max_relative_error(got[g.find_tensor("y")], want[g.find_tensor("y")]), 1e-10);
  EXPECT_NE(error_of([&] {
              LlamaOptions bad = small_llama();
              bad.layers = 0;
              llama_layer(bad);
            }).find("layers must be positive"),
            std::string::npos);
}

TEST(Workloads, BadSizesAreRejected) {
  EXPECT_NE(error_of([] { chain_mm({.n = 0}); }).find("chain_mm: n must be positive"), std::string::npos);
  EXPECT_NE(error_of([] { ffnn({.layers = 0}); }).find("ffnn: layers"), std::string::npos);
  EXPECT_NE(error_of([] { llama_block({.hidden = 10, .heads = 4}); }).find("not divisible"),
            std::string::npos);
  EXPECT_EQ(error_of([] { llama_layer({.hidden = 6, .heads = 2}); }),
            "llama_layer: head dim 3 is odd (rotary needs it even)");
}

}  // namespace
}  // namespace doppler::einsum
