// Row ops (einsum_graph.hpp) and row-op fusion (fusion.hpp): which patterns become softmax,
// rms_norm and rotary ops, that the fused graphs compute what the builders' graphs do (float64
// reference) on every built-in workload, that decomposed and lowered they still do (the axis kept
// whole), the YAML round trip, and the errors for malformed row ops.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "doppler/einsum/autodiff.hpp"
#include "doppler/einsum/decomposition.hpp"
#include "doppler/einsum/einsum_builder.hpp"
#include "doppler/einsum/einsum_yaml.hpp"
#include "doppler/einsum/fusion.hpp"
#include "doppler/einsum/lowering.hpp"
#include "doppler/einsum/partition.hpp"
#include "doppler/einsum/reference_executor.hpp"
#include "doppler/einsum/workloads.hpp"
#include "error_of.hpp"
#include "fused_graph_check.hpp"
#include "max_relative_error.hpp"

namespace doppler::einsum {
namespace {

using test_support::error_of;
using test_support::output_error;
using test_support::small_llama;

std::map<std::string, int> kinds_of(const EinsumGraph& g) {
  std::map<std::string, int> kinds;
  for (const EinsumOp& op : g.ops()) ++kinds[std::string(op_kind_name(op.kind))];
  return kinds;
}

const EinsumOp& producer(const EinsumGraph& g, const std::string& tensor) {
  return g.op(g.tensor(g.find_tensor(tensor)).producer);
}

TEST(EinsumRowOps, LlamaLayerGetsOneSoftmaxTwoRmsNormsAndTwoRotaries) {
  const EinsumGraph g = llama_layer(small_llama());
  const EinsumGraph f = fuse_row_ops(g);
  f.validate();
  const std::map<std::string, int> kinds = kinds_of(f);
  EXPECT_EQ(kinds.at("softmax"), 1);
  EXPECT_EQ(kinds.at("rms_norm"), 2);
  EXPECT_EQ(kinds.at("rotary"), 2);
  EXPECT_EQ(kinds.count("slice") + kinds.count("concat"), 0u);
  // softmax: 4 ops and the scale -> 1; each rms_norm 2 -> 1; each rotary 5 -> 1.
  EXPECT_EQ(f.num_ops(), g.num_ops() - 4 - 2 * 1 - 2 * 4);
  const EinsumOp& probs = producer(f, "probs");
  EXPECT_EQ(probs.kind, OpKind::kSoftmax);
  EXPECT_EQ(f.tensor(probs.inputs[0]).name, "scores.raw");
  EXPECT_EQ(probs.axis, 3);
  EXPECT_DOUBLE_EQ(probs.param, 1.0 / 2.0);  // 1 / sqrt(head dim 4)
  const EinsumOp& norm = producer(f, "attn_norm");
  EXPECT_EQ(norm.kind, OpKind::kRmsNorm);
  EXPECT_EQ(norm.spec.to_string(), "ijk,k->ijk");
  EXPECT_DOUBLE_EQ(norm.param, 1e-6);
  const EinsumOp& rope = producer(f, "q.rope");
  EXPECT_EQ(rope.kind, OpKind::kRotary);
  EXPECT_EQ(f.tensor(rope.inputs[0]).name, "q");
  EXPECT_EQ(rope.axis, 3);
  EXPECT_LT(output_error(g, f), 1e-12);
  // Then elementwise fusion: nothing is inlined into a row op.
  const EinsumGraph both = fuse_elementwise(f);
  EXPECT_EQ(kinds_of(both).at("softmax"), 1);
  EXPECT_LT(output_error(g, both), 1e-12);
}

TEST(EinsumRowOps, EveryBuiltInWorkloadComputesTheSameOutputs) {
  for (const auto& [name, g] : test_support::small_builtin_workloads()) {
    const EinsumGraph f = fuse_elementwise(fuse_row_ops(g));
    f.validate();
    EXPECT_LE(f.num_ops(), g.num_ops()) << name;
    EXPECT_LT(output_error(g, f), 1e-10) << name;
  }
}

TEST(EinsumRowOps, DecomposedAndLoweredTheyEqualTheReference) {
  const EinsumGraph f =
      fuse_row_ops(llama_layer({.batch = 2, .seq = 8, .hidden = 16, .heads = 4, .ffn = 16}));
  const auto want = run_reference<double>(f);
  for (const DecomposeMethod method : {DecomposeMethod::kEinDecomp, DecomposeMethod::kDataParallel}) {
    const std::vector<Partition> partitions = decompose(f, {.devices = 8, .method = method}).partitions;
    for (EinsumOpId o = 0; o < f.num_ops(); ++o) {
      const EinsumOp& op = f.op(o);
      if (op.is_row_op()) {
        EXPECT_EQ(partitions[o].of(op.spec.output[static_cast<std::size_t>(op.axis)]), 1);
      }
    }
    const LoweredGraph lowered = lower(f, partitions);
    const auto got = run_lowered<double>(f, lowered);
    for (TensorId t = 0; t < f.num_tensors(); ++t)
      EXPECT_LT(test_support::max_relative_error(got[t], want[t]), 1e-12) << f.tensor(t).name;
  }
  // Splitting the rotary's batch and seq (its tables follow) but not the head dim.
  std::vector<Partition> partitions(f.num_ops());
  const EinsumOpId rope = f.tensor(f.find_tensor("k.rope")).producer;
  const std::string letters = f.op(rope).spec.output;
  partitions[rope] = make_partition(letters, {2, 4, 2, 1});
  const LoweredGraph lowered = lower(f, partitions);
  const auto got = run_lowered<double>(f, lowered);
  EXPECT_LT(test_support::max_relative_error(got[f.find_tensor("y")], want[f.find_tensor("y")]), 1e-12);
  partitions[rope] = make_partition(letters, {1, 1, 1, 2});
  EXPECT_NE(error_of([&] { lower(f, partitions); }), "<no error>");
}

TEST(EinsumRowOps, YamlRoundTripKeepsTheRowOps) {
  const EinsumGraph f = fuse_elementwise(fuse_row_ops(llama_layer(small_llama())));
  const std::string text = einsum_graph_to_yaml(f, "fused");
  const EinsumGraph back = parse_einsum_graph(text, "fused.yaml");
  EXPECT_EQ(einsum_graph_to_yaml(back, "fused"), text);
  EXPECT_EQ(kinds_of(back), kinds_of(f));
  EXPECT_LT(output_error(f, back), 1e-15);
}

TEST(EinsumRowOps, PatternsWhoseInnerTensorsAreReadElsewhereStay) {
  EinsumGraph g;
  const TensorId x = g.add_input("x", {3, 5});
  const TensorId p = softmax(g, "p", x, 1);
  g.mark_output(p);
  g.mark_output(g.find_tensor("p.sum"));
  EXPECT_EQ(kinds_of(fuse_row_ops(g)).count("softmax"), 0u);
  EinsumGraph h;
  const TensorId y = h.add_input("y", {3, 5});
  h.mark_output(softmax(h, "p", scale(h, "s", y, 2.0), 0));
  const EinsumGraph f = fuse_row_ops(h);
  EXPECT_EQ(f.num_ops(), 1u);
  EXPECT_EQ(f.op(0).axis, 0);
  EXPECT_DOUBLE_EQ(f.op(0).param, 2.0);
  EXPECT_LT(output_error(h, f), 1e-14);
}

TEST(EinsumRowOps, MalformedRowOpsGiveOneLineErrors) {
  EinsumGraph g;
  const TensorId x = g.add_parameter("x", {2, 3, 6});
  const TensorId w = g.add_input("w", {6});
  const TensorId cos = g.add_input("cos", {3, 6});
  const TensorId odd = g.add_input("odd", {3, 5});
  EXPECT_EQ(error_of([&] { g.add_row_op("s", OpKind::kSoftmax, "abc->abc", {x}, 3); }),
            "op 's': softmax 'abc->abc': axis 3 is out of range for 3 dims");
  EXPECT_EQ(error_of([&] { g.add_row_op("s", OpKind::kSoftmax, "abc->acb", {x}, 0); }),
            "op 's': softmax 'abc->acb': input 0 must have the output's letters");
  EXPECT_EQ(error_of([&] {
              g.add_row_op("n", OpKind::kRmsNorm, "abc,b->abc", {x, w}, 2);
            }),
            "op 'n': rms_norm 'abc,b->abc': the weight (input 1) must have the axis letter 'c' only");
  EXPECT_EQ(error_of([&] {
              g.add_row_op("r", OpKind::kRotary, "abc,bc,bc->abc", {x, cos}, 2);
            }),
            "op 'r': rotary 'abc,bc,bc->abc' takes 3 inputs, got 2");
  EXPECT_EQ(error_of([&] {
              g.add_row_op("r", OpKind::kRotary, "abc,bc,bc->abc", {x, odd, odd}, 2);
            }),
            "op 'r': index c is 6 in input 0 but 5 in input 1");
  EXPECT_EQ(error_of([&] { g.add_row_op("r", OpKind::kReshape, "abc->abc", {x}, 2); }),
            "op 'r': reshape is not a row op");
  const TensorId s = g.add_row_op("s", OpKind::kSoftmax, "abc->abc", {x}, 2, 0.5);
  const TensorId loss = g.add_einsum("loss", "abc->", {s});
  g.mark_output(loss);
  EXPECT_EQ(error_of([&] { gradient_graph(g, loss); }),
            "autodiff: op 's' is a fused softmax kernel, which has no gradient rule; differentiate the graph "
            "before fusing it");
}

}  // namespace
}  // namespace doppler::einsum
