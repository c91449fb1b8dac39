// Elementwise fusion (fusion.hpp): which ops are inlined (a softmax's scale and exp, a residual add;
// never a contraction's operand, a graph output or an op read with fewer indices than its reader
// has), letters renamed through a transposing reader, the operand limit, and the fused graph's
// outputs equal to the original's on every built-in workload (float64 reference, same inputs).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "doppler/einsum/fusion.hpp"
#include "doppler/einsum/reference_executor.hpp"
#include "doppler/einsum/workloads.hpp"
#include "max_relative_error.hpp"

namespace doppler::einsum {
namespace {

bool has_op(const EinsumGraph& g, const std::string& name) {
  for (const EinsumOp& op : g.ops())
    if (op.name == name) return true;
  return false;
}

// Max relative error over the graph outputs of `fused` against `original`, both run on the
// original's seeded inputs (matched by name).
double output_error(const EinsumGraph& original, const EinsumGraph& fused) {
  ReferenceOptions want_options;
  ReferenceOptions got_options;
  for (TensorId t = 0; t < original.num_tensors(); ++t) {
    const Tensor& tensor = original.tensor(t);
    if (tensor.kind != TensorKind::kInput && tensor.kind != TensorKind::kParameter) continue;
    got_options.given[fused.find_tensor(tensor.name)] = seeded_input_values(original, t, want_options);
  }
  const auto want = run_reference<double>(original, want_options);
  const auto got = run_reference<double>(fused, got_options);
  double worst = 0;
  int outputs = 0;
  for (TensorId t = 0; t < original.num_tensors(); ++t) {
    if (original.tensor(t).kind != TensorKind::kOutput) continue;
    const TensorId f = fused.find_tensor(original.tensor(t).name);
    EXPECT_EQ(fused.tensor(f).kind, TensorKind::kOutput);
    EXPECT_EQ(fused.tensor(f).dims, original.tensor(t).dims);
    worst = std::max(worst, test_support::max_relative_error(got[f], want[t]));
    ++outputs;
  }
  EXPECT_GT(outputs, 0);
  return worst;
}

LlamaOptions small_llama() {
  return {.batch = 2, .seq = 4, .hidden = 8, .heads = 2, .ffn = 8};
}

TEST(EinsumFusion, LlamaLayerLosesTheSoftmaxScaleAndExpAndTheResidual) {
  const EinsumGraph g = llama_layer(small_llama());
  const EinsumGraph f = fuse_elementwise(g);
  f.validate();
  for (const char* gone : {"scores", "probs.exp", "h"}) EXPECT_FALSE(has_op(f, gone)) << gone;
  // Contractions' operands stay materialised: probs (context), swiglu (down), the norms (q, k, v, gate, up).
  for (const char* kept : {"scores.raw", "probs.max", "probs.sum", "probs", "context", "swiglu", "attn_norm",
                           "mlp_norm", "q.rope", "k.rope", "y"})
    EXPECT_TRUE(has_op(f, kept)) << kept;
  EXPECT_EQ(f.num_ops(), g.num_ops() - 3);
  // probs = exp(scale * raw - max) / sum, reading the raw scores.
  const EinsumOp& probs = f.op(f.tensor(f.find_tensor("probs")).producer);
  std::vector<std::string> inputs;
  for (const TensorId t : probs.inputs) inputs.push_back(f.tensor(t).name);
  EXPECT_EQ(inputs, (std::vector<std::string>{"scores.raw", "probs.max", "probs.sum"}));
  EXPECT_LT(output_error(g, f), 1e-12);
}

TEST(EinsumFusion, EveryBuiltInWorkloadComputesTheSameOutputs) {
  const FfnnOptions ffnn_options{.batch = 4, .in = 5, .hidden = 7, .out = 3, .layers = 3};
  const std::vector<std::pair<std::string, EinsumGraph>> workloads = {
      {"chain_mm", chain_mm({.n = 6, .length = 5, .dtype = DType::kF32})},
      {"ffnn", ffnn(ffnn_options)},
      {"llama_block", llama_block(small_llama())},
      {"llama_layer 2 layers",
       llama_layer({.batch = 2, .seq = 4, .hidden = 8, .heads = 2, .ffn = 8, .layers = 2})},
      {"mlp_adam", mlp_training_step(ffnn_options, Adam{})},
      {"llama_sgd", llama_layer_training_step(small_llama())}};
  for (const auto& [name, g] : workloads) {
    const EinsumGraph f = fuse_elementwise(g);
    f.validate();
    EXPECT_LE(f.num_ops(), g.num_ops()) << name;
    EXPECT_LT(output_error(g, f), 1e-10) << name;
  }
}

TEST(EinsumFusion, RenamesLettersForATransposingReaderAndKeepsPartialReaders) {
  EinsumGraph g;
  const TensorId x = g.add_input("x", {3, 4});
  const TensorId v = g.add_input("v", {4, 5});
  const TensorId a = g.add_einsum("a", "ij->ij | join=2*a+1", {x});
  const TensorId t = g.add_einsum("t", "ji,i->ij | join=exp(a)-b", {a, g.add_input("w", {4})});
  // Reads b with fewer indices than it has (j of ijk): b stays, computed once.
  const TensorId b = g.add_einsum("b", "ij->ij | join=a*a", {x});
  const TensorId p = g.add_einsum("p", "ij,jk->ik | join=a+b", {b, v});
  g.mark_output(t);
  g.mark_output(p);
  const EinsumGraph f = fuse_elementwise(g);
  EXPECT_FALSE(has_op(f, "a"));
  EXPECT_TRUE(has_op(f, "b"));
  const EinsumOp& fused_t = f.op(f.tensor(f.find_tensor("t")).producer);
  EXPECT_EQ(fused_t.spec.to_string(), "ji,i->ij | join=exp(2*a+1)-b");
  EXPECT_LT(output_error(g, f), 1e-14);
}

TEST(EinsumFusion, OutputsAndContractionOperandsAreNeverInlined) {
  EinsumGraph g;
  const TensorId x = g.add_input("x", {3, 4});
  const TensorId w = g.add_input("w", {4, 2});
  const TensorId s = g.add_einsum("s", "ij->ij | join=a*3", {x});
  g.mark_output(g.add_einsum("m", "ij,jk->ik", {s, w}));
  const TensorId o = g.add_einsum("o", "ij->ij | join=exp(a)", {x});
  g.mark_output(o);
  g.mark_output(g.add_einsum("r", "ij->i", {o}));
  const EinsumGraph f = fuse_elementwise(g);
  EXPECT_EQ(f.num_ops(), g.num_ops());
  EXPECT_LT(output_error(g, f), 1e-14);
}

TEST(EinsumFusion, AnOpThatWouldExceedTheOperandLimitKeepsItsInputs) {
  const EinsumGraph g = llama_layer(small_llama());
  // probs would read scores.raw, probs.max and probs.sum: three operands, over a limit of 2, so
  // probs.exp stays; the scale still folds into probs.max and probs.exp (one operand each).
  const EinsumGraph f = fuse_elementwise(g, {.max_inputs = 2});
  EXPECT_TRUE(has_op(f, "probs.exp"));
  EXPECT_FALSE(has_op(f, "scores"));
  EXPECT_LT(output_error(g, f), 1e-12);
}

}  // namespace
}  // namespace doppler::einsum
