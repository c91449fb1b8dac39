// The generic join kernel's index arithmetic (hw/src/join_launch.hpp, fast_divmod.hpp) run on the
// host: FastDivmod equals plain division; on random blocks with broadcast operands the merged,
// 32-bit launch reaches exactly the elements the einsum's loop nest reaches; group sizes follow
// the reduction's shape; the vectorised path reads runs of consecutive elements; oversized blocks are refused
// with the op's name; join forms equal the interpreter and cover the built-in workloads.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "doppler/einsum/fusion.hpp"
#include "doppler/einsum/workloads.hpp"
#include "error_of.hpp"
#include "fast_divmod.hpp"
#include "join_forms.hpp"
#include "join_launch.hpp"
#include "strided_copy.hpp"

namespace doppler::hw {
namespace {

TEST(HwFastDivmod, EqualsDivisionBelowTwoToThe31) {
  std::mt19937 rng(7);
  std::vector<std::uint32_t> divisors;
  for (std::uint32_t d = 1; d < 3000; ++d) divisors.push_back(d);
  for (int i = 0; i < 2000; ++i) divisors.push_back(1 + rng() % 0x7fffffffu);
  for (const std::uint32_t shift : {12u, 16u, 20u, 30u}) divisors.push_back(1u << shift);
  for (const std::uint32_t d : divisors) {
    const FastDivmod f(d);
    for (int i = 0; i < 200; ++i) {
      const std::uint32_t n = i < 100 ? static_cast<std::uint32_t>(i) * d + static_cast<std::uint32_t>(i % 3)
                                      : rng() % 0x80000000u;
      if (i < 100 && (n / d != static_cast<std::uint32_t>(i) || n >= 0x80000000u)) continue;
      std::uint32_t q = 0, r = 0;
      f.divmod(n, q, r);
      ASSERT_EQ(q, n / d) << n << " / " << d;
      ASSERT_EQ(r, n % d) << n << " % " << d;
    }
    std::uint32_t q = 0, r = 0;
    f.divmod(0x7fffffffu, q, r);
    ASSERT_EQ(q, 0x7fffffffu / d) << d;
  }
}

// A random block: loop dims of random sizes (some 1), operands over random subsets of them in
// random order (broadcast over the rest), output = the first out_dims loop dims.
JoinParams random_block(std::mt19937& rng) {
  JoinParams p;
  p.loop_dims = 1 + static_cast<int>(rng() % 6);
  p.out_dims = static_cast<int>(rng() % (p.loop_dims + 1));
  for (int d = 0; d < p.loop_dims; ++d)
    p.size[d] = rng() % 4 == 0 ? 1 : 2 + static_cast<std::int64_t>(rng() % 5);
  p.inputs = 1 + static_cast<int>(rng() % 3);
  for (int k = 0; k < p.inputs; ++k) {
    std::vector<int> dims;
    for (int d = 0; d < p.loop_dims; ++d)
      if (rng() % 3 != 0) dims.push_back(d);
    std::shuffle(dims.begin(), dims.end(), rng);
    std::int64_t stride = 1;
    for (auto it = dims.rbegin(); it != dims.rend(); ++it) {
      p.in_stride[k][*it] = stride;
      stride *= p.size[*it];
    }
  }
  p.agg = p.out_dims < p.loop_dims ? AggKind::kSum : AggKind::kNone;
  for (int d = 0; d < p.loop_dims; ++d) (d < p.out_dims ? p.out_elements : p.agg_elements) *= p.size[d];
  return p;
}

TEST(HwJoinLaunch, MergedLaunchReachesTheLoopNestsElements) {
  std::mt19937 rng(11);
  int merged = 0;
  for (int trial = 0; trial < 400; ++trial) {
    const JoinParams p = random_block(rng);
    const JoinLaunch l = make_join_launch(p, "op 'x'");
    ASSERT_EQ(l.out_elements, static_cast<std::uint32_t>(p.out_elements));
    ASSERT_EQ(l.agg_elements, static_cast<std::uint32_t>(p.agg_elements));
    if (l.loop_dims < p.loop_dims) ++merged;
    for (std::int64_t o = 0; o < p.out_elements; ++o) {
      std::uint32_t base[kMaxJoinInputs], off[kMaxJoinInputs];
      join_base_offsets<kMaxJoinInputs>(l, static_cast<std::uint32_t>(o), base);
      for (std::int64_t t = 0; t < p.agg_elements; ++t) {
        join_agg_offsets<kMaxJoinInputs>(l, static_cast<std::uint32_t>(t), base, off);
        std::int64_t rest = o * p.agg_elements + t;
        std::int64_t want[kMaxJoinInputs] = {};
        for (int d = p.loop_dims - 1; d >= 0; --d) {
          const std::int64_t at = rest % p.size[d];
          rest /= p.size[d];
          for (int k = 0; k < p.inputs; ++k) want[k] += at * p.in_stride[k][d];
        }
        for (int k = 0; k < p.inputs; ++k) ASSERT_EQ(off[k], want[k]) << "trial " << trial << " input " << k;
      }
    }
  }
  EXPECT_GT(merged, 100);
}

JoinParams reduction(std::int64_t rows, std::int64_t cols, bool over_columns) {
  JoinParams p;
  p.loop_dims = 2;
  p.out_dims = 1;
  p.inputs = 1;
  p.agg = AggKind::kSum;
  p.size[0] = over_columns ? rows : cols;
  p.size[1] = over_columns ? cols : rows;
  p.in_stride[0][0] = over_columns ? cols : 1;
  p.in_stride[0][1] = over_columns ? 1 : cols;
  p.out_elements = p.size[0];
  p.agg_elements = p.size[1];
  return p;
}

TEST(HwJoinLaunch, GroupFollowsTheReductionsShape) {
  EXPECT_EQ(make_join_launch(reduction(1000, 8, true), "r").group, 1);        // short
  EXPECT_EQ(make_join_launch(reduction(16384, 1024, true), "r").group, 32);   // many rows
  EXPECT_EQ(make_join_launch(reduction(1024, 2048, true), "r").group, 256);   // few long rows
  EXPECT_EQ(make_join_launch(reduction(64, 100000, false), "r").group, 1);    // column sums, many
  EXPECT_EQ(make_join_launch(reduction(100000, 64, false), "r").group, 256);  // column sums, few
  JoinParams elementwise = reduction(10, 10, true);
  elementwise.agg = AggKind::kNone;
  EXPECT_EQ(make_join_launch(elementwise, "e").group, 1);
}

TEST(HwJoinLaunch, RefusesBlocksBeyond32BitOffsets) {
  JoinParams p = reduction(1 << 16, 1 << 16, true);
  EXPECT_EQ(test_support::error_of([&] { make_join_launch(p, "op 'big'"); }),
            "hw: op 'big': a join block over 2^31 elements is too large for the join kernel");
}

// On the vectorised path a thread takes kJoinVector consecutive elements of the innermost dim from
// one set of offsets: on random blocks (sizes often multiples of 8), wherever make_join_launch
// picks it, the loop nest's offsets of those elements are base + j (stride 1, base a multiple of
// 8) or base (stride 0). Misaligned buffers, odd inner sizes and strided operands stay scalar.
TEST(HwJoinLaunch, VectorPathTakesRunsOfConsecutiveElements) {
  std::mt19937 rng(23);
  int vectorised = 0, scalar = 0;
  for (int trial = 0; trial < 600; ++trial) {
    JoinParams p = random_block(rng);
    for (int d = 0; d < p.loop_dims; ++d)
      if (p.size[d] > 1 && rng() % 2 == 0) p.size[d] = 8 * (1 + static_cast<std::int64_t>(rng() % 2));
    p.out_elements = p.agg_elements = 1;
    for (int k = 0; k < p.inputs; ++k) {
      std::vector<int> dims;
      for (int d = 0; d < p.loop_dims; ++d)
        if (p.in_stride[k][d] != 0) dims.push_back(d);
      std::sort(dims.begin(), dims.end(),
                [&](int a, int b) { return p.in_stride[k][a] < p.in_stride[k][b]; });
      std::int64_t stride = 1;
      for (const int d : dims) {
        p.in_stride[k][d] = stride;
        stride *= p.size[d];
      }
    }
    for (int d = 0; d < p.loop_dims; ++d) (d < p.out_dims ? p.out_elements : p.agg_elements) *= p.size[d];
    const JoinLaunch l = make_join_launch(p, "op 'x'");
    if (l.vector == 1) {
      ++scalar;
      continue;
    }
    ASSERT_EQ(l.vector, kJoinVector);
    ++vectorised;
    const int inner = l.loop_dims - 1;
    const bool map = l.agg == AggKind::kNone;
    for (std::uint32_t o = 0; o < l.out_elements; o += map ? kJoinVector : 1) {
      std::uint32_t base[kMaxJoinInputs], first[kMaxJoinInputs];
      join_base_offsets<kMaxJoinInputs>(l, o, base);
      for (std::uint32_t t = 0; t < l.agg_elements; t += map ? 1 : kJoinVector) {
        join_agg_offsets<kMaxJoinInputs>(l, t, base, first);
        for (int k = 0; k < l.inputs; ++k) {
          const std::uint32_t stride = l.in_stride[k][inner];
          ASSERT_TRUE(stride == 0 || (stride == 1 && first[k] % kJoinVector == 0)) << "trial " << trial;
        }
        for (std::uint32_t j = 1; j < kJoinVector; ++j) {
          std::uint32_t at[kMaxJoinInputs];
          if (map) {
            join_base_offsets<kMaxJoinInputs>(l, o + j, at);
          } else {
            join_agg_offsets<kMaxJoinInputs>(l, t + j, base, at);
          }
          for (int k = 0; k < l.inputs; ++k)
            ASSERT_EQ(at[k], first[k] + j * l.in_stride[k][inner]) << "trial " << trial << " input " << k;
        }
      }
    }
  }
  EXPECT_GT(vectorised, 50);
  EXPECT_GT(scalar, 50);

  JoinParams rows = reduction(64, 1024, true);
  EXPECT_EQ(make_join_launch(rows, "r").vector, kJoinVector);
  rows.in[0] = reinterpret_cast<const void*>(std::uintptr_t{8});
  EXPECT_EQ(make_join_launch(rows, "r").vector, 1);                        // misaligned
  EXPECT_EQ(make_join_launch(reduction(64, 1020, true), "r").vector, 1);   // 1020 % 8 != 0
  EXPECT_EQ(make_join_launch(reduction(1024, 64, false), "r").vector, 1);  // strided reduction
}

TEST(HwStridedCopy, RunsInVectorsOnlyWhenBothSidesAreContiguousAndAligned) {
  const std::vector<std::int64_t> dims{4, 16};
  const StridedCopy rows =
      make_copy(dims, std::vector<std::int64_t>{32, 1}, std::vector<std::int64_t>{16, 1});
  EXPECT_TRUE(runs_in_vectors(rows, 8));
  EXPECT_FALSE(
      runs_in_vectors(make_copy(dims, std::vector<std::int64_t>{32, 1}, std::vector<std::int64_t>{16, 1}, 4),
                      8));  // source offset 4
  EXPECT_FALSE(
      runs_in_vectors(make_copy(dims, std::vector<std::int64_t>{1, 4}, std::vector<std::int64_t>{16, 1}),
                      8));  // transposing
  EXPECT_FALSE(runs_in_vectors(make_copy(std::vector<std::int64_t>{4, 12}, std::vector<std::int64_t>{20, 1},
                                         std::vector<std::int64_t>{12, 1}),
                               8));  // rows of 12
}

// Every form's straight-line code equals the interpreter on the same program; the joins of the
// built-in Llama layer (fused too) and FFNN all have a form; other programs stay generic.
TEST(HwJoinForms, FormsEqualTheInterpreterAndCoverTheWorkloads) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> value(-2.0f, 2.0f);
  const char* texts[] = {"a",
                         "-a",
                         "a+b",
                         "a-b",
                         "a*b",
                         "a/b",
                         "a*0.125",
                         "relu(a)",
                         "square(a)*0.5",
                         "exp(a-b)",
                         "silu(a)*b",
                         "a*rsqrt(b+1e-5)*c",
                         "a*c+b*d",
                         "exp(a*0.25-b)",
                         "exp(a*0.25-b)/c",
                         "a+b+c",
                         "square(a+b)*0.5",
                         "(a+b)*rsqrt(c+1e-5)*d"};
  int matched = 0;
  for (const char* text : texts) {
    const JoinProgram program = compile_join(einsum::parse_expr(text), "op 'x'");
    float c = 0;
    const JoinForm form = match_join_form(program, c);
    EXPECT_NE(form, JoinForm::kGeneric) << text;
    matched += form != JoinForm::kGeneric;
    for (int trial = 0; trial < 50; ++trial) {
      float v[kMaxJoinInputs];
      for (float& x : v) x = trial == 0 ? 0.5f : value(rng);
      v[1] = std::abs(v[1]) + 0.1f;  // a/b and rsqrt(b+C) stay finite
      v[2] = std::abs(v[2]) + 0.1f;  // .../c and rsqrt(c+C) too
      const float want = run_join(program, v);
      float got = 0;
      switch (form) {
#define DOPPLER_FORM_CASE(F)                      \
  case JoinForm::F:                               \
    got = form_value<JoinForm::F>(program, c, v); \
    break;
        DOPPLER_FORM_CASE(kGeneric)
        DOPPLER_FORM_CASE(kFirst)
        DOPPLER_FORM_CASE(kNeg)
        DOPPLER_FORM_CASE(kAdd)
        DOPPLER_FORM_CASE(kSub)
        DOPPLER_FORM_CASE(kMul)
        DOPPLER_FORM_CASE(kDiv)
        DOPPLER_FORM_CASE(kScale)
        DOPPLER_FORM_CASE(kRelu)
        DOPPLER_FORM_CASE(kSquareScale)
        DOPPLER_FORM_CASE(kExpSub)
        DOPPLER_FORM_CASE(kSiluMul)
        DOPPLER_FORM_CASE(kRmsNorm)
        DOPPLER_FORM_CASE(kRotary)
        DOPPLER_FORM_CASE(kExpScaleSub)
        DOPPLER_FORM_CASE(kExpScaleSubDiv)
        DOPPLER_FORM_CASE(kAdd3)
        DOPPLER_FORM_CASE(kAddSquareScale)
        DOPPLER_FORM_CASE(kAddRmsNorm)
#undef DOPPLER_FORM_CASE
      }
      EXPECT_EQ(got, want) << text;
    }
  }
  EXPECT_EQ(matched, kJoinForms - 1);
  float c = 0;
  EXPECT_EQ(match_join_form(compile_join(einsum::parse_expr("a*b+c"), "op"), c), JoinForm::kGeneric);
  EXPECT_EQ(match_join_form(compile_join(einsum::parse_expr("b-a"), "op"), c), JoinForm::kGeneric);
  EXPECT_EQ(match_join_form(compile_join(einsum::parse_expr("a*b*c"), "op"), c), JoinForm::kGeneric);

  for (const einsum::EinsumGraph& g :
       {einsum::llama_layer({.batch = 1, .seq = 4, .hidden = 8, .heads = 2}), einsum::ffnn({.layers = 2}),
        einsum::fuse_elementwise(einsum::llama_layer({.batch = 1, .seq = 4, .hidden = 8, .heads = 2})),
        einsum::fuse_elementwise(
            einsum::fuse_row_ops(einsum::llama_layer({.batch = 1, .seq = 4, .hidden = 8, .heads = 2})))}) {
    for (const einsum::EinsumOp& op : g.ops()) {
      if (!op.is_einsum()) continue;
      EXPECT_NE(match_join_form(compile_join(op.spec.join, op.name), c), JoinForm::kGeneric)
          << op.name << ": " << op.spec.join.to_string();
    }
  }
}

}  // namespace
}  // namespace doppler::hw
