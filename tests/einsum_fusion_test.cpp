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
#include "fused_graph_check.hpp"

namespace doppler::einsum {
namespace {

using test_support::output_error;
using test_support::small_llama;

bool has_op(const EinsumGraph& g, const std::string& name) {
  for (const EinsumOp& op : g.ops())
    if (op.name == name) return true;
  return false;
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
  for (const auto& [name, g] : test_support::small_builtin_workloads()) {
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
