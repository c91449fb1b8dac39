// The CPU reference executor: hand-computed results, composite ops against direct computations,
// float32 mode, seeded inputs, and the speed of a 256^3 contraction.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>

#include "doppler/einsum/einsum_builder.hpp"
#include "doppler/einsum/reference_executor.hpp"
#include "doppler/error.hpp"

namespace doppler::einsum {
namespace {

std::vector<double> run_op(std::string_view spec_text, const std::vector<std::vector<std::int64_t>>& dims,
                           const std::vector<std::vector<double>>& inputs) {
  const EinsumSpec spec = parse_einsum(spec_text);
  const IndexSizes sizes = infer_index_sizes(spec, dims, "test");
  return evaluate_einsum<double>(spec, sizes, inputs);
}

TEST(Reference, Matmul2x3x2) {
  // [[1,2,3],[4,5,6]] x [[7,8],[9,10],[11,12]] = [[58,64],[139,154]]
  EXPECT_EQ(run_op("ij,jk->ik", {{2, 3}, {3, 2}}, {{1, 2, 3, 4, 5, 6}, {7, 8, 9, 10, 11, 12}}),
            (std::vector<double>{58, 64, 139, 154}));
  // The same with the output transposed.
  EXPECT_EQ(run_op("ij,jk->ki", {{2, 3}, {3, 2}}, {{1, 2, 3, 4, 5, 6}, {7, 8, 9, 10, 11, 12}}),
            (std::vector<double>{58, 139, 64, 154}));
}

TEST(Reference, BatchedMatmul) {
  // Batch 0: identity x B0; batch 1: 2*identity x B1.
  const std::vector<double> a{1, 0, 0, 1, 2, 0, 0, 2};
  const std::vector<double> b{1, 2, 3, 4, 5, 6, 7, 8};
  EXPECT_EQ(run_op("bij,bjk->bik", {{2, 2, 2}, {2, 2, 2}}, {a, b}),
            (std::vector<double>{1, 2, 3, 4, 10, 12, 14, 16}));
}

TEST(Reference, AggregationsAndJoins) {
  const std::vector<double> x{1, -5, 3, 4, 2, -6};  // 2x3
  EXPECT_EQ(run_op("ij->i | agg=max", {{2, 3}}, {x}), (std::vector<double>{3, 4}));
  EXPECT_EQ(run_op("ij->j | agg=min", {{2, 3}}, {x}), (std::vector<double>{1, -5, -6}));
  EXPECT_EQ(run_op("ij->i | agg=prod", {{2, 3}}, {x}), (std::vector<double>{-15, -48}));
  EXPECT_EQ(run_op("ij->", {{2, 3}}, {x}), (std::vector<double>{-1}));
  EXPECT_EQ(run_op("ij,ij->ij | join=a*b+1", {{2, 3}, {2, 3}}, {x, x}),
            (std::vector<double>{2, 26, 10, 17, 5, 37}));
  EXPECT_EQ(run_op("ij->ji", {{2, 3}}, {x}), (std::vector<double>{1, 4, -5, 2, 3, -6}));
  EXPECT_EQ(run_op("ij,j->i | join=relu(a)*b", {{2, 3}, {3}}, {x, {1, 10, 100}}),
            (std::vector<double>{301, 24}));
  const EinsumSpec fill = parse_einsum("->ij | join=0.5");
  IndexSizes sizes{};
  index_size(sizes, 'i') = 2;
  index_size(sizes, 'j') = 2;
  EXPECT_EQ(evaluate_einsum<double>(fill, sizes, {}), (std::vector<double>{0.5, 0.5, 0.5, 0.5}));
}

TEST(Reference, Softmax) {
  EinsumGraph g;
  const TensorId x = g.add_input("x", {3, 5});
  const TensorId y = softmax(g, "y", x, 1);
  ReferenceOptions options;
  options.seed = 11;
  options.low = -4;
  options.high = 4;
  const auto values = run_reference<double>(g, options);
  const std::vector<double>& in = values[x];
  const std::vector<double>& out = values[y];
  for (int i = 0; i < 3; ++i) {
    double total = 0, denom = 0;
    for (int j = 0; j < 5; ++j) denom += std::exp(in[i * 5 + j]);
    for (int j = 0; j < 5; ++j) {
      total += out[i * 5 + j];
      EXPECT_NEAR(out[i * 5 + j], std::exp(in[i * 5 + j]) / denom, 1e-14);
    }
    EXPECT_NEAR(total, 1, 1e-14);
  }
}

TEST(Reference, RmsNorm) {
  EinsumGraph g;
  const TensorId x = g.add_input("x", {4, 6});
  const TensorId w = g.add_parameter("w", {6});
  const TensorId y = rms_norm(g, "y", x, w, 1, 1e-5);
  const auto values = run_reference<double>(g);
  for (int i = 0; i < 4; ++i) {
    double ms = 0;
    for (int j = 0; j < 6; ++j) ms += values[x][i * 6 + j] * values[x][i * 6 + j] / 6;
    for (int j = 0; j < 6; ++j) {
      const double direct = values[x][i * 6 + j] / std::sqrt(ms + 1e-5) * values[w][j];
      EXPECT_NEAR(values[y][i * 6 + j], direct, 1e-13);
    }
  }
}

TEST(Reference, GivenValuesSeedsAndFloat) {
  EinsumGraph g;
  const TensorId a = g.add_input("a", {2, 3});
  const TensorId b = g.add_parameter("b", {3, 2});
  const TensorId c = matmul(g, "c", a, b);
  const TensorId f = fill(g, "f", {2, 2}, 0.25);
  const TensorId d = add(g, "d", c, f);
  ReferenceOptions options;
  options.given[a] = {1, 2, 3, 4, 5, 6};
  options.given[b] = {7, 8, 9, 10, 11, 12};
  const auto exact = run_reference<double>(g, options);
  EXPECT_EQ(exact[d], (std::vector<double>{58.25, 64.25, 139.25, 154.25}));
  const auto single = run_reference<float>(g, options);
  EXPECT_EQ(single[d], (std::vector<float>{58.25f, 64.25f, 139.25f, 154.25f}));

  const auto r1 = run_reference<double>(g, ReferenceOptions{});
  const auto r2 = run_reference<double>(g, ReferenceOptions{});
  EXPECT_EQ(r1, r2);
  for (const double v : r1[a]) EXPECT_TRUE(v >= -1 && v < 1);
  ReferenceOptions other;
  other.seed = 2;
  EXPECT_NE(run_reference<double>(g, other)[a], r1[a]);
  // Giving one tensor leaves the random stream of the others unchanged.
  ReferenceOptions partial;
  partial.given[a] = options.given[a];
  EXPECT_EQ(run_reference<double>(g, partial)[b], r1[b]);

  options.given[a] = {1, 2};
  EXPECT_THROW(run_reference<double>(g, options), Error);
}

TEST(Reference, Contraction256IsFast) {
  EinsumGraph g;
  const TensorId a = g.add_input("a", {256, 256});
  const TensorId b = g.add_input("b", {256, 256});
  const TensorId c = g.add_einsum("c", "ij,jk->ik", {a, b});
  const TensorId e = g.add_einsum("e", "ij,jk->ik | join=max(a,b)", {a, b});
  const auto start = std::chrono::steady_clock::now();
  const auto values = run_reference<double>(g);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 5.0);  // about 0.2 s in Release; the bound leaves room for sanitizer builds
  double direct = 0, direct_max = 0;
  for (int j = 0; j < 256; ++j) {
    direct += values[a][5 * 256 + j] * values[b][j * 256 + 7];
    direct_max += std::max(values[a][5 * 256 + j], values[b][j * 256 + 7]);
  }
  EXPECT_NEAR(values[c][5 * 256 + 7], direct, 1e-12);
  EXPECT_NEAR(values[e][5 * 256 + 7], direct_max, 1e-12);
}

}  // namespace
}  // namespace doppler::einsum
