// Einsum graphs and the builder: shape inference, every error message, flops and bytes,
// topological order, and the op expansions of the composite builders.
#include <gtest/gtest.h>

#include "doppler/einsum/einsum_builder.hpp"
#include "doppler/einsum/einsum_graph.hpp"
#include "doppler/error.hpp"
#include "error_of.hpp"

namespace doppler::einsum {
namespace {

using doppler::test_support::error_of;

TEST(EinsumGraph, InfersShapesAndCosts) {
  EinsumGraph g;
  const TensorId x = g.add_input("x", {2, 3, 4}, DType::kF16);
  const TensorId w = g.add_parameter("w", {2, 4, 5}, DType::kF16);
  const TensorId y = g.add_einsum("y", "bij,bjk->bik", {x, w});
  const TensorId z = g.add_einsum("z", "bik->bi | agg=max", {y});
  const TensorId e = g.add_einsum("e", "bik,bi->bik | join=exp(a-b)", {y, z});
  g.mark_output(e);
  EXPECT_EQ(g.tensor(y).dims, (std::vector<std::int64_t>{2, 3, 5}));
  EXPECT_EQ(g.tensor(z).dims, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(g.tensor(y).dtype, DType::kF16);
  EXPECT_EQ(g.tensor(y).kind, TensorKind::kIntermediate);
  EXPECT_EQ(g.tensor(e).kind, TensorKind::kOutput);
  EXPECT_EQ(g.tensor(w).kind, TensorKind::kParameter);
  EXPECT_EQ(g.num_ops(), 3u);
  EXPECT_EQ(g.flops(0), 2 * 3 * 4 * 5);
  EXPECT_EQ(g.flops(2), 2 * 3 * 5 * 2);  // exp and minus
  EXPECT_EQ(g.bytes_read(0), (24 + 40) * 2);
  EXPECT_EQ(g.bytes_written(0), 30 * 2);
  EXPECT_EQ(g.topological_order(), (std::vector<EinsumOpId>{0, 1, 2}));
  EXPECT_EQ(g.consumers(y), (std::vector<EinsumOpId>{1, 2}));
  EXPECT_EQ(g.find_tensor("z"), z);
  g.validate();
  EXPECT_EQ(dtype_bytes(DType::kBF16), 2);
  EXPECT_EQ(parse_dtype("bf16"), DType::kBF16);
}

TEST(EinsumGraph, FillNeedsDims) {
  EinsumGraph g;
  const TensorId f = g.add_einsum("f", "->ij | join=0.5", {}, {3, 4});
  EXPECT_EQ(g.tensor(f).dims, (std::vector<std::int64_t>{3, 4}));
  EXPECT_EQ(g.flops(0), 12);
  EXPECT_EQ(error_of([&] { g.add_einsum("g", "->ij | join=1", {}); }),
            "op 'g': a fill '->ij' needs 2 output dims, got 0");
  EXPECT_EQ(error_of([&] {
              g.add_einsum("h", "ij->ij", {f}, {3, 4});
            }),
            "op 'h': output dims are inferred from the inputs; give them only for a fill");
}

TEST(EinsumGraph, ErrorsNameTheOp) {
  EinsumGraph g;
  const TensorId a = g.add_input("a", {2, 3});
  const TensorId b = g.add_input("b", {4, 5});
  EXPECT_EQ(error_of([&] {
              g.add_einsum("mm", "ij,jk->ik", {a, b});
            }),
            "op 'mm': index j is 3 in input 0 but 4 in input 1");
  EXPECT_EQ(error_of([&] {
              g.add_einsum("mm", "ijk,jk->ik", {a, b});
            }),
            "op 'mm': input 0 has 2 dims but 'ijk' has 3");
  EXPECT_EQ(error_of([&] { g.add_einsum("mm", "ij,jk->ik", {a}); }),
            "op 'mm': spec 'ij,jk->ik' has 2 inputs but 1 were given");
  EXPECT_EQ(error_of([&] {
              g.add_einsum("mm", "ij,jk->ik", {a, 7});
            }),
            "op 'mm': input 1 is tensor id 7, which does not exist");
  EXPECT_EQ(error_of([&] { g.add_einsum("bad", "ij->ik", {a}); }),
            "op 'bad': einsum 'ij->ik': output index k appears in no input");
  EXPECT_EQ(error_of([&] { g.add_input("a", {1}); }), "einsum graph: tensor 'a' already exists");
  EXPECT_EQ(error_of([&] { g.add_input("z", {2, 0}); }), "tensor 'z': dim 1 is 0 (must be positive)");
  EXPECT_EQ(error_of([&] { g.mark_output(a); }), "tensor 'a' is input; only op results can be outputs");
  EXPECT_EQ(error_of([&] { g.find_tensor("nope"); }), "einsum graph: no tensor 'nope'");
  EXPECT_EQ(error_of([] { parse_dtype("f64"); }), "unknown dtype 'f64' (expected f32, f16 or bf16)");
}

TEST(EinsumBuilder, ExpandsCompositeOps) {
  EinsumGraph g;
  const TensorId x = g.add_input("x", {2, 8, 16});
  const TensorId w = g.add_parameter("w", {16, 32});
  const TensorId nw = g.add_parameter("nw", {16});
  const TensorId n = rms_norm(g, "norm", x, nw, 2);
  const TensorId h = matmul(g, "h", n, w);
  EXPECT_EQ(g.tensor(h).dims, (std::vector<std::int64_t>{2, 8, 32}));
  EXPECT_EQ(g.op(g.tensor(h).producer).spec.to_string(), "ijk,kl->ijl");
  const TensorId s = softmax(g, "attn", h, 2);
  EXPECT_EQ(g.tensor(s).dims, (std::vector<std::int64_t>{2, 8, 32}));
  EXPECT_TRUE(g.has_tensor("attn.max") && g.has_tensor("attn.exp") && g.has_tensor("attn.sum"));
  EXPECT_EQ(g.op(g.tensor(g.find_tensor("attn.max")).producer).spec.to_string(), "ijk->ij | agg=max");
  EXPECT_EQ(g.op(g.tensor(s).producer).spec.to_string(), "ijk,ij->ijk | join=a/b");
  const TensorId t = transpose(g, "t", s, {0, 2, 1});
  EXPECT_EQ(g.tensor(t).dims, (std::vector<std::int64_t>{2, 32, 8}));
  EXPECT_EQ(g.op(g.tensor(t).producer).spec.to_string(), "ijk->ikj");
  const TensorId bmm = matmul(g, "bmm", s, t);
  EXPECT_EQ(g.tensor(bmm).dims, (std::vector<std::int64_t>{2, 8, 8}));
  const TensorId f = fill(g, "f", {2, 8, 8}, 0.5, DType::kBF16);
  EXPECT_EQ(g.tensor(f).dtype, DType::kBF16);
  const TensorId sum = add(g, "sum", bmm, f);
  const TensorId act =
      gelu(g, "act", silu(g, "si", relu(g, "re", scale(g, "sc", mul(g, "pr", sum, sum), 2.0))));
  EXPECT_EQ(g.op(g.tensor(g.find_tensor("sc")).producer).spec.to_string(), "ijk->ijk | join=a*2");
  g.mark_output(act);
  g.validate();
  EXPECT_EQ(g.num_ops(), 2u + 1 + 4 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1);
}

TEST(EinsumBuilder, ErrorsNameTheOp) {
  EinsumGraph g;
  const TensorId x = g.add_input("x", {2, 3});
  const TensorId v = g.add_input("v", {3});
  const TensorId y = g.add_input("y", {3, 2});
  EXPECT_EQ(error_of([&] { softmax(g, "sm", x, 2); }),
            "op 'sm': axis 2 out of range for tensor 'x' of rank 2");
  EXPECT_EQ(error_of([&] { matmul(g, "mm", v, x); }),
            "op 'mm': matmul needs a of rank >= 2 and b of rank 2 or 1, got ranks 1 and 2");
  EXPECT_EQ(error_of([&] { matmul(g, "mm", x, x); }), "op 'mm': index j is 3 in input 0 but 2 in input 1");
  EXPECT_EQ(error_of([&] { add(g, "s", x, y); }), "op 's': elementwise inputs 'x' and 'y' differ in shape");
  EXPECT_EQ(error_of([&] {
              transpose(g, "t", x, {0, 0});
            }),
            "op 't': transpose needs a permutation of 0..2-1");
  EXPECT_EQ(error_of([&] { elementwise(g, "e", "a+", {x}); }), "op 'e': join 'a+': unexpected end");
  EXPECT_EQ(error_of([&] { rms_norm(g, "n", x, x, 1); }), "op 'n': input 2 has 2 dims but 'j' has 1");
}

}  // namespace
}  // namespace doppler::einsum
