// Structural ops (reshape, slice, concat) and the rotary composite: shapes and index letters, which
// letters a partition may split, one-line errors, reference values against hand-computed ones,
// zero flops and copy bytes, lowering with random legal partitions equal to the whole-graph
// reference (float64, training graphs too), and gradients against central finite differences.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "doppler/einsum/autodiff.hpp"
#include "doppler/einsum/einsum_builder.hpp"
#include "doppler/einsum/lowering.hpp"
#include "doppler/einsum/reference_executor.hpp"
#include "error_of.hpp"
#include "max_relative_error.hpp"

namespace doppler::einsum {
namespace {

using Dims = std::vector<std::int64_t>;
using test_support::error_of;
using test_support::max_relative_error;

std::vector<double> iota(std::int64_t n) {
  std::vector<double> v(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(i);
  return v;
}

const EinsumOp& producer(const EinsumGraph& g, TensorId t) {
  return g.op(g.tensor(t).producer);
}

TEST(Structural, BuilderShapesLettersAndSplittableIndices) {
  EinsumGraph g;
  const TensorId x = g.add_input("x", {2, 3, 8});
  const TensorId r = reshape(g, "r", x, {2, 3, 2, 4});
  const TensorId s = slice(g, "s", x, 2, 1, 5);
  const TensorId c = concat(g, "c", {x, s, x}, 2);
  const TensorId flat = reshape(g, "flat", x, {6, 8});
  EXPECT_EQ(g.tensor(r).dims, (Dims{2, 3, 2, 4}));
  EXPECT_EQ(g.tensor(s).dims, (Dims{2, 3, 4}));
  EXPECT_EQ(g.tensor(c).dims, (Dims{2, 3, 20}));
  EXPECT_EQ(producer(g, r).spec.to_string(), "ijk->ijlm");
  EXPECT_EQ(producer(g, s).spec.to_string(), "ijk->ijl");
  EXPECT_EQ(producer(g, c).spec.to_string(), "ijn,ijm,ijn->ijl");
  EXPECT_EQ(producer(g, flat).spec.to_string(), "ijk->lk");
  EXPECT_EQ(producer(g, s).kind, OpKind::kSlice);
  EXPECT_EQ(producer(g, s).axis, 2);
  EXPECT_EQ(producer(g, c).axis, 2);
  EXPECT_EQ(splittable_indices(g, g.tensor(r).producer), "ij");
  EXPECT_EQ(splittable_indices(g, g.tensor(s).producer), "ij");
  EXPECT_EQ(splittable_indices(g, g.tensor(c).producer), "ij");
  EXPECT_EQ(splittable_indices(g, g.tensor(flat).producer), "k");
  EXPECT_NO_THROW(g.validate());
}

TEST(Structural, GraphMethodsTakeIndexLetters) {
  EinsumGraph g;
  const TensorId x = g.add_input("x", {4, 6}, DType::kBF16);
  const TensorId y = g.add_input("y", {4, 2}, DType::kBF16);
  const TensorId s = g.add_slice("s", "ab->ac", x, 2, 5);
  const TensorId c = g.add_concat("c", "ab,ad->ae", {x, y});
  const TensorId r = g.add_reshape("r", "ae->aij", c, {4, 2, 4});
  EXPECT_EQ(g.tensor(s).dims, (Dims{4, 3}));
  EXPECT_EQ(g.tensor(c).dims, (Dims{4, 8}));
  EXPECT_EQ(g.tensor(r).dtype, DType::kBF16);
  EXPECT_EQ(op_kind_name(producer(g, r).kind), "reshape");
  // add_op_as copies any kind onto other inputs.
  const TensorId s2 =
      g.add_op_as(EinsumOp{"s2", producer(g, s).spec, {}, 0, {}, OpKind::kSlice, -1, 0, 1}, {x}, DType::kF32);
  EXPECT_EQ(g.tensor(s2).dims, (Dims{4, 1}));
  EXPECT_NO_THROW(g.validate());
}

TEST(Structural, ZeroFlopsAndCopyBytes) {
  EinsumGraph g;
  const TensorId x = g.add_input("x", {4, 6});
  const TensorId s = slice(g, "s", x, 1, 0, 2);
  const TensorId c = concat(g, "c", {x, x}, 0);
  for (const TensorId t : {s, c, reshape(g, "r", x, {24})}) {
    const EinsumOpId o = g.tensor(t).producer;
    EXPECT_EQ(g.flops(o), 0);
    EXPECT_EQ(g.bytes_read(o), g.tensor(t).bytes());
    EXPECT_EQ(g.bytes_written(o), g.tensor(t).bytes());
  }
  EXPECT_EQ(g.bytes_read(g.tensor(s).producer), 4 * 2 * 4);
}

TEST(Structural, Errors) {
  EinsumGraph g;
  const TensorId x = g.add_input("x", {2, 3, 8});
  const TensorId y = g.add_input("y", {2, 4, 5});
  EXPECT_EQ(error_of([&] { slice(g, "s", x, 2, 4, 9); }),
            "op 's': slice [4, 9) is out of range for axis 2 of size 8");
  EXPECT_EQ(error_of([&] { slice(g, "s", x, 1, 2, 2); }),
            "op 's': slice [2, 2) is out of range for axis 1 of size 3");
  EXPECT_EQ(error_of([&] { slice(g, "s", x, 3, 0, 1); }),
            "op 's': axis 3 out of range for tensor 'x' of rank 3");
  EXPECT_EQ(error_of([&] { concat(g, "c", {x, y}, 2); }), "op 'c': index j is 3 in input 0 but 4 in input 1");
  EXPECT_EQ(error_of([&] {
              reshape(g, "r", x, {2, 3, 7});
            }),
            "op 'r': reshape of [2, 3, 8] (48 elements) into [2, 3, 7] (42 elements)");
  EXPECT_EQ(error_of([&] {
              g.add_reshape("r", "abc->cab", x, {8, 2, 3});
            }),
            "op 'r': reshape keeps index c but not as the same dim (6 elements before it in the input, 1 in "
            "the output)");
  EXPECT_EQ(error_of([&] {
              g.add_reshape("r", "abc->bac", x, {3, 2, 8});
            }),
            "op 'r': reshape keeps index b but not as the same dim (2 elements before it in the input, 1 in "
            "the output)");
  EXPECT_EQ(error_of([&] {
              g.add_reshape("r", "abc->ad", x, {6, 8});
            }),
            "op 'r': reshape keeps index a but its size changes from 2 to 6");
  EXPECT_EQ(error_of([&] {
              g.add_reshape("r", "abc->dab", x, {1, 2, 3});
            }),
            "op 'r': reshape of [2, 3, 8] (48 elements) into [1, 2, 3] (6 elements)");
  EXPECT_EQ(error_of([&] {
              g.add_reshape("r", "ab->dab", x, {8, 2, 3});
            }),
            "op 'r': input 0 has 3 dims but 'ab' has 2");
  EXPECT_EQ(error_of([&] { g.add_slice("s", "abc->abc", x, 0, 1); }),
            "op 's': slice 'abc->abc' has no output letter absent from the inputs (the axis)");
  EXPECT_EQ(error_of([&] { g.add_slice("s", "abc->bad", x, 0, 1); }),
            "op 's': slice 'abc->bad': input 0 must have the output's letters except at axis 2");
  EXPECT_EQ(error_of([&] { g.add_slice("s", "abc->abde", x, 0, 1); }),
            "op 's': slice 'abc->abde' has more than one output letter absent from the inputs");
  EXPECT_EQ(error_of([&] { g.add_concat("c", "abc,abd->abe", {x}); }),
            "op 'c': spec 'abc,abd->abe' has 2 inputs but 1 were given");
  EXPECT_EQ(error_of([&] { g.add_slice("s", "abc->abd | agg=max", x, 0, 1); }),
            "op 's': einsum 'abc->abd | agg=max': index letters take no options");
  EXPECT_EQ(error_of([&] { g.add_slice("s", "abb->abd", x, 0, 1); }),
            "op 's': einsum 'abb->abd': index b repeated in input 0 'abb'");
  EXPECT_FALSE(g.has_tensor("s") || g.has_tensor("c") || g.has_tensor("r"));
}

TEST(Structural, PartitionMaySplitSharedLettersOnly) {
  EinsumGraph g;
  const TensorId x = g.add_input("x", {4, 8});
  const EinsumOpId s = g.tensor(slice(g, "s", x, 1, 0, 4)).producer;  // ij->ik
  EXPECT_NO_THROW(validate_partition(g, s, make_partition("ijk", {2, 1, 1})));
  EXPECT_EQ(error_of([&] { validate_partition(g, s, make_partition("k", {2})); }),
            "op 's': a slice cannot split index k (it is on one side only: ij->ik)");
  EXPECT_EQ(error_of([&] { validate_partition(g, s, make_partition("j", {2})); }),
            "op 's': a slice cannot split index j (it is on one side only: ij->ik)");
  EXPECT_EQ(error_of([&] { lower(g, {make_partition("j", {4})}); }),
            "op 's': a slice cannot split index j (it is on one side only: ij->ik)");
}

TEST(Structural, ReferenceValuesByHand) {
  EinsumGraph g;
  const TensorId x = g.add_input("x", {2, 3});  // [[0,1,2],[3,4,5]]
  const TensorId y = g.add_input("y", {2, 1});  // [[6],[7]]
  const TensorId s = slice(g, "s", x, 1, 1, 3);
  const TensorId rows = slice(g, "rows", x, 0, 1, 2);
  const TensorId c = concat(g, "c", {y, x, y}, 1);
  const TensorId c0 = concat(g, "c0", {x, x}, 0);
  const TensorId r = reshape(g, "r", x, {3, 2});
  ReferenceOptions options;
  options.given[x] = iota(6);
  options.given[y] = {6, 7};
  const auto values = run_reference<double>(g, options);
  EXPECT_EQ(values[s], (std::vector<double>{1, 2, 4, 5}));
  EXPECT_EQ(values[rows], (std::vector<double>{3, 4, 5}));
  EXPECT_EQ(values[c], (std::vector<double>{6, 0, 1, 2, 6, 7, 3, 4, 5, 7}));
  EXPECT_EQ(values[c0], (std::vector<double>{0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(values[r], iota(6));
  const auto f32 = run_reference<float>(g, options);
  EXPECT_EQ(f32[c], (std::vector<float>{6, 0, 1, 2, 6, 7, 3, 4, 5, 7}));
}

TEST(Structural, RotaryTablesAndValues) {
  const RotaryTables tables = rotary_tables(3, 4);
  ASSERT_EQ(tables.cos.size(), 12u);
  // Position 2, j = 1 and 3: angle 2 * 10000^(-2/4) = 0.02.
  EXPECT_DOUBLE_EQ(tables.cos[2 * 4 + 1], std::cos(0.02));
  EXPECT_DOUBLE_EQ(tables.sin[2 * 4 + 3], std::sin(0.02));
  EXPECT_DOUBLE_EQ(tables.sin[2 * 4 + 0], std::sin(2.0));
  EXPECT_EQ(tables.cos[0], 1);
  EXPECT_EQ(error_of([] { rotary_tables(3, 5); }),
            "rotary tables: need seq > 0 and an even head dim > 0, got seq 3 and head dim 5");

  EinsumGraph g;
  const TensorId x = g.add_input("x", {2, 3, 4});  // [batch, seq, head_dim]
  const TensorId cos = g.add_input("cos", {3, 4});
  const TensorId sin = g.add_input("sin", {3, 4});
  const TensorId y = rotary(g, "y", x, cos, sin, 1, 2);
  EXPECT_EQ(g.num_ops(), 5u);
  for (const char* helper : {"y.lo", "y.hi", "y.neg", "y.rot"}) EXPECT_TRUE(g.has_tensor(helper)) << helper;
  ReferenceOptions options;
  options.given[cos] = tables.cos;
  options.given[sin] = tables.sin;
  const auto values = run_reference<double>(g, options);
  const std::vector<double>& in = values[x];
  for (std::size_t b = 0; b < 2; ++b) {
    for (std::size_t p = 0; p < 3; ++p) {
      const double* v = &in[(b * 3 + p) * 4];
      for (std::size_t i = 0; i < 2; ++i) {
        // The pair (v[i], v[i + 2]) rotated by the angle p * 10000^(-i/2).
        const double angle = static_cast<double>(p) * std::pow(10000.0, -static_cast<double>(i) / 2);
        const double* out = &values[y][(b * 3 + p) * 4];
        EXPECT_NEAR(out[i], v[i] * std::cos(angle) - v[i + 2] * std::sin(angle), 1e-15);
        EXPECT_NEAR(out[i + 2], v[i + 2] * std::cos(angle) + v[i] * std::sin(angle), 1e-15);
      }
    }
  }
  EXPECT_EQ(error_of([&] {
              rotary(g, "z", x, g.add_input("bad", {4, 4}), sin, 1, 2);
            }),
            "op 'z': rotary table 'bad' has dims [4, 4], expected [3, 4]");
  EXPECT_EQ(error_of([&] {
              rotary(g, "z", g.add_input("odd", {3, 5}), cos, sin, 0, 1);
            }),
            "op 'z': rotary head dim 5 is odd");
}

// Attention-like heads: reshape [b, s, h] -> [b, s, n, d], rotary, reshape back, concat, slices,
// a reshape that keeps the trailing dim, matmul.
EinsumGraph mixed_graph() {
  EinsumGraph g;
  const TensorId x = g.add_input("x", {4, 5, 8});
  const TensorId cos = g.add_input("cos", {5, 4});
  const TensorId sin = g.add_input("sin", {5, 4});
  const TensorId w = g.add_parameter("w", {8, 8});
  const TensorId h = matmul(g, "h", x, w);
  const TensorId heads = reshape(g, "heads", h, {4, 5, 2, 4});
  const TensorId rot = rotary(g, "rot", heads, cos, sin, 1, 3);
  const TensorId merged = reshape(g, "merged", rot, {4, 5, 8});
  const TensorId wide = concat(g, "wide", {merged, x, slice(g, "part", merged, 2, 2, 5)}, 2);
  const TensorId front = slice(g, "front", wide, 1, 1, 4);
  const TensorId act = elementwise(g, "act", "tanh(a)", {front});
  const TensorId rows = reshape(g, "rows", act, {12, 19});  // ijk->lk: the trailing dim shared
  g.mark_output(matmul(g, "y", rows, g.add_parameter("v", {19, 3})));
  return g;
}

// Random counts among 1, 2, 4 on the letters each op may split (others stay at 1 block).
std::vector<Partition> random_legal_partitions(const EinsumGraph& g, std::mt19937_64& rng) {
  std::vector<Partition> parts(g.num_ops());
  for (EinsumOpId o = 0; o < g.num_ops(); ++o) {
    const EinsumOp& op = g.op(o);
    for (const char c : splittable_indices(g, o)) {
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

void expect_lowered_equals_reference(const EinsumGraph& g, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const auto want = run_reference<double>(g);
  for (int trial = 0; trial < 6; ++trial) {
    const LoweredGraph lowered = lower(g, random_legal_partitions(g, rng));
    ASSERT_NO_THROW(lowered.graph.validate());
    const auto got = run_lowered<double>(g, lowered);
    for (TensorId t = 0; t < g.num_tensors(); ++t) {
      ASSERT_EQ(got[t].size(), want[t].size()) << g.tensor(t).name;
      EXPECT_LT(max_relative_error(got[t], want[t]), 1e-10) << g.tensor(t).name << " trial " << trial;
    }
  }
}

TEST(Structural, LoweringWithRandomLegalPartitionsEqualsReference) {
  expect_lowered_equals_reference(mixed_graph(), 5);
}

TEST(Structural, TrainingGraphLoweringEqualsReference) {
  EinsumGraph g = mixed_graph();
  const TensorId y = g.find_tensor("y");
  const TensorId loss = g.add_einsum("loss", "ij,ij->", {y, g.add_input("r", g.tensor(y).dims)});
  const EinsumGraph step = training_step_graph(g, loss, Sgd{0.1});
  EXPECT_NO_THROW(step.validate());
  expect_lowered_equals_reference(step, 9);
}

TEST(Structural, LoweredTasksCopyMatchingBlocks) {
  EinsumGraph g;
  const TensorId x = g.add_input("x", {4, 6});
  const TensorId s = slice(g, "s", x, 1, 1, 5);  // ij->ik
  g.mark_output(concat(g, "c", {s, x}, 1));      // ik,ij->il
  const LoweredGraph lowered = lower(g, {make_partition("i", {2}), make_partition("i", {4})});
  std::size_t slices = 0, concats = 0;
  for (OpId id = 0; id < lowered.graph.num_ops(); ++id) {
    const Op& task = lowered.graph.op(id);
    const TaskInfo& info = lowered.tasks[id];
    if (task.kind == "slice") {
      ++slices;
      EXPECT_EQ(task.flops, 0);
      EXPECT_EQ(task.bytes_read, 2 * 4 * 4);
      EXPECT_EQ(info.role, TaskRole::kJoin);
      EXPECT_EQ(info.inputs.size(), 1u);
      EXPECT_EQ(info.ranges[1], (Range{0, 4}));  // the output's axis k: whole
    }
    if (task.kind == "concat") {
      ++concats;
      EXPECT_EQ(info.inputs.size(), 2u);
      EXPECT_EQ(task.output_bytes, 1 * 10 * 4);
    }
  }
  EXPECT_EQ(slices, 2u);
  EXPECT_EQ(concats, 4u);
  EXPECT_EQ(lowered.graph.op(lowered.tensors[g.find_tensor("s")].tasks[1]).name, "s[i1,k0,j0]");
}

// Relative error (2-norm) of grad.X against central differences of the loss, for each X.
void expect_gradients_match(const EinsumGraph& forward, TensorId loss, const std::vector<std::string>& wrt) {
  ReferenceOptions options;
  const auto seeded = run_reference<double>(forward, options);
  for (TensorId id = 0; id < forward.num_tensors(); ++id) {
    if (forward.tensor(id).producer == kNoProducer) options.given[id] = seeded[id];
  }
  const EinsumGraph backward = gradient_graph(forward, loss, {wrt, false});
  const auto values = run_reference<double>(backward, options);
  for (const std::string& name : wrt) {
    const TensorId x = forward.find_tensor(name);
    const std::vector<double>& grad = values[backward.find_tensor("grad." + name)];
    double diff = 0, scale = 0;
    for (std::size_t i = 0; i < grad.size(); ++i) {
      const double h = 1e-5, original = options.given[x][i];
      options.given[x][i] = original + h;
      const double up = run_reference<double>(forward, options)[loss][0];
      options.given[x][i] = original - h;
      const double down = run_reference<double>(forward, options)[loss][0];
      options.given[x][i] = original;
      const double fd = (up - down) / (2 * h);
      diff += (grad[i] - fd) * (grad[i] - fd);
      scale += fd * fd;
    }
    ASSERT_GT(scale, 1e-6) << name;
    EXPECT_LT(std::sqrt(diff / scale), 1e-6) << name;
  }
}

TensorId weighted_sum(EinsumGraph& g, TensorId y) {
  const Dims dims = g.tensor(y).dims;
  const std::string letters = index_letters(dims.size());
  return g.add_einsum("loss", letters + "," + letters + "->", {y, g.add_input("loss.r", dims)});
}

TEST(Structural, GradientsThroughSliceConcatReshape) {
  EinsumGraph g;
  const TensorId x = g.add_parameter("x", {3, 6});
  const TensorId w = g.add_parameter("w", {3, 2});
  const TensorId mid = slice(g, "mid", x, 1, 1, 4);      // a slice with both pads
  const TensorId head = slice(g, "head", x, 1, 0, 2);    // only a high pad
  const TensorId tail = slice(g, "tail", x, 0, 1, 3);    // only a low pad, along rows
  const TensorId c = concat(g, "c", {mid, w, head}, 1);  // [3, 7]
  const TensorId sq = elementwise(g, "sq", "a*a", {c});
  const TensorId r = reshape(g, "r", sq, {7, 3});
  const TensorId t = reshape(g, "t", tail, {12});
  const TensorId y = g.add_einsum("y", "ij,k->ik", {r, t});
  expect_gradients_match(g, weighted_sum(g, y), {"x", "w"});
}

TEST(Structural, GradientsThroughRotaryAndMixedGraph) {
  EinsumGraph g = mixed_graph();
  expect_gradients_match(g, weighted_sum(g, g.find_tensor("y")), {"w", "v", "x"});
  EinsumGraph r;
  const TensorId x = r.add_parameter("x", {2, 3, 4});
  const TensorId cos = r.add_parameter("cos", {3, 4});
  const TensorId sin = r.add_parameter("sin", {3, 4});
  expect_gradients_match(r, weighted_sum(r, rotary(r, "y", x, cos, sin, 1, 2)), {"x", "cos", "sin"});
}

TEST(Structural, GradientGraphNamesAndOps) {
  EinsumGraph g;
  const TensorId x = g.add_parameter("x", {2, 6});
  const TensorId loss = weighted_sum(g, concat(g, "c", {slice(g, "s", x, 1, 1, 4), x}, 1));
  const EinsumGraph back = gradient_graph(g, loss);
  EXPECT_NO_THROW(back.validate());
  // x reaches the loss through the slice (padded back by a concat) and the concat (a slice).
  EXPECT_EQ(producer(back, back.find_tensor("grad.x.0")).kind, OpKind::kSlice);
  const EinsumOp& pad = producer(back, back.find_tensor("grad.x.1"));
  EXPECT_EQ(pad.kind, OpKind::kConcat);
  EXPECT_EQ(pad.spec.to_string(), "iz,ik,iy->ij");
  EXPECT_EQ(back.tensor(back.find_tensor("grad.x.1.pad_lo")).dims, (Dims{2, 1}));
  EXPECT_EQ(back.tensor(back.find_tensor("grad.x.1.pad_hi")).dims, (Dims{2, 2}));
}

}  // namespace
}  // namespace doppler::einsum
