// Relational autodiff: every gradient of random small einsum graphs (matmul chains, elementwise
// joins, softmax, RMSNorm, max/min aggregation, broadcasting joins) against central finite
// differences of the loss in float64; prod aggregation (also exactly with zero factors); SGD and Adam steps
// against direct computations; error paths.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "doppler/einsum/autodiff.hpp"
#include "doppler/einsum/einsum_builder.hpp"
#include "doppler/einsum/reference_executor.hpp"
#include "error_of.hpp"

namespace doppler::einsum {
namespace {

using test_support::error_of;

// Every input and parameter of `graph` given its seeded value.
ReferenceOptions given_leaves(const EinsumGraph& graph, std::uint64_t seed) {
  ReferenceOptions options;
  options.seed = seed;
  const auto values = run_reference<double>(graph, options);
  for (TensorId id = 0; id < graph.num_tensors(); ++id) {
    if (graph.tensor(id).producer == kNoProducer) options.given[id] = values[id];
  }
  return options;
}

double loss_at(const EinsumGraph& graph, TensorId loss, const ReferenceOptions& options) {
  return run_reference<double>(graph, options)[loss][0];
}

double norm(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x * x;
  return std::sqrt(s);
}

// Relative error (2-norm) of grad.X against central differences, for every requested tensor X.
void expect_gradients_match(const EinsumGraph& forward, TensorId loss, const std::vector<std::string>& wrt,
                            std::uint64_t seed = 7) {
  ReferenceOptions options = given_leaves(forward, seed);
  const EinsumGraph backward = gradient_graph(forward, loss, {wrt, false});
  const auto values = run_reference<double>(backward, options);
  for (const std::string& name : wrt) {
    const TensorId x = forward.find_tensor(name);
    const std::vector<double>& grad = values[backward.find_tensor("grad." + name)];
    std::vector<double> diff(grad.size());
    std::vector<double> fd(grad.size());
    for (std::size_t i = 0; i < grad.size(); ++i) {
      const double h = 1e-5;
      const double original = options.given[x][i];
      options.given[x][i] = original + h;
      const double up = loss_at(forward, loss, options);
      options.given[x][i] = original - h;
      const double down = loss_at(forward, loss, options);
      options.given[x][i] = original;
      fd[i] = (up - down) / (2 * h);
      diff[i] = grad[i] - fd[i];
    }
    ASSERT_GT(norm(fd), 1e-3) << name;
    EXPECT_LT(norm(diff) / norm(fd), 1e-6) << name;
  }
}

// loss = sum(y * r) with a random weight input r, so no gradient is trivially constant.
TensorId weighted_sum(EinsumGraph& graph, TensorId y) {
  const std::vector<std::int64_t> dims = graph.tensor(y).dims;
  const TensorId r = graph.add_input("r", dims);
  const std::string letters = index_letters(dims.size());
  return graph.add_einsum("loss", make_einsum("", {letters, letters}, product_of_inputs(2)), {y, r});
}

TEST(Autodiff, RandomMatmulChainsWithActivations) {
  const std::vector<std::string> activations{"exp(a)",  "relu(a)",    "silu(a)",
                                             "gelu(a)", "sigmoid(a)", "tanh(a)"};
  std::mt19937 rng(3);
  for (int trial = 0; trial < 6; ++trial) {
    auto size = [&] { return static_cast<std::int64_t>(2 + rng() % 3); };
    const std::int64_t m = size(), k = size(), n = size(), p = size();
    EinsumGraph g;
    const TensorId x = g.add_input("x", {m, k});
    const TensorId w1 = g.add_parameter("w1", {k, n});
    const TensorId w2 = g.add_parameter("w2", {n, p});
    const TensorId h = matmul(g, "h", x, w1);
    const TensorId act = elementwise(g, "act", activations[static_cast<std::size_t>(trial)], {h});
    const TensorId both = elementwise(g, "both", "a*b+a", {act, h});  // h reaches the loss twice
    const TensorId y = matmul(g, "y", both, w2);
    expect_gradients_match(g, weighted_sum(g, y), {"x", "w1", "w2"}, 10 + static_cast<std::uint64_t>(trial));
  }
}

TEST(Autodiff, SoftmaxAndRmsNorm) {
  EinsumGraph g;
  const TensorId x = g.add_input("x", {3, 5});
  const TensorId w = g.add_parameter("w", {5});
  const TensorId n = rms_norm(g, "n", x, w, 1);
  const TensorId s = softmax(g, "s", n, 1);
  expect_gradients_match(g, weighted_sum(g, s), {"x", "w"});
}

TEST(Autodiff, MaxAndMinAggregation) {
  EinsumGraph g;
  const TensorId x = g.add_input("x", {4, 3});
  const TensorId w = g.add_parameter("w", {3});
  const TensorId hi = g.add_einsum("hi", "ij,j->i | agg=max | join=a*b", {x, w});
  const TensorId lo = g.add_einsum("lo", "ij->j | agg=min | join=exp(a)", {x});
  const TensorId y = g.add_einsum("y", "i,j->ij", {hi, lo});
  expect_gradients_match(g, weighted_sum(g, y), {"x", "w"});
}

TEST(Autodiff, GeneralJoinsWithBroadcastAndAggregation) {
  EinsumGraph g;
  const TensorId a = g.add_parameter("a", {3, 4});
  const TensorId b = g.add_parameter("b", {4});
  const TensorId c = g.add_parameter("c", {2});
  const TensorId u = g.add_einsum("u", "ij,j->i | join=exp(a)*b+a/(1+b*b)", {a, b});
  // c's index k is aggregated and appears only in c: its gradient must count every i.
  const TensorId v = g.add_einsum("v", "i,k->i | join=a+sigmoid(b)", {u, c});
  expect_gradients_match(g, weighted_sum(g, v), {"a", "b", "c"});
}

TEST(Autodiff, DefaultsToAllParametersAndZeroForUnusedOnes) {
  EinsumGraph g;
  const TensorId x = g.add_input("x", {2});
  const TensorId w = g.add_parameter("w", {2});
  g.add_parameter("unused", {3});
  const TensorId loss = g.add_einsum("loss", "i,i->", {x, w});
  const EinsumGraph back = gradient_graph(g, loss);
  const auto values = run_reference<double>(back);
  EXPECT_EQ(values[back.find_tensor("grad.w")], values[x]);
  EXPECT_EQ(values[back.find_tensor("grad.unused")], (std::vector<double>{0, 0, 0}));
  EXPECT_FALSE(back.has_tensor("grad.x"));
  EXPECT_EQ(back.tensor(back.find_tensor("grad.w")).kind, TensorKind::kOutput);
}

TEST(Autodiff, GradientsOfMatmulArePlainEinsums) {
  EinsumGraph g;
  const TensorId a = g.add_parameter("a", {2, 3});
  const TensorId b = g.add_parameter("b", {3, 4});
  const TensorId loss = g.add_einsum("loss", "ik->", {matmul(g, "c", a, b)});
  const EinsumGraph back = gradient_graph(g, loss);
  back.validate();
  for (TensorId id = 0; id < g.num_tensors(); ++id) EXPECT_EQ(back.tensor(id).name, g.tensor(id).name);
  const EinsumOp& da = back.op(back.tensor(back.find_tensor("grad.a")).producer);
  const EinsumOp& db = back.op(back.tensor(back.find_tensor("grad.b")).producer);
  EXPECT_EQ(da.spec.to_string(), "ik,jk->ij");
  EXPECT_EQ(db.spec.to_string(), "ik,ij->jk");
}

TEST(Autodiff, IntermediateAndRepeatedOperand) {
  EinsumGraph g;
  g.add_parameter("w", {3});
  const TensorId h = elementwise(g, "h", "tanh(a)", {g.find_tensor("w")});
  const TensorId y = g.add_einsum("y", "i,i->i", {h, h});  // h reaches y through two operands
  const TensorId loss = weighted_sum(g, y);
  expect_gradients_match(g, loss, {"w"});
  const EinsumGraph back = gradient_graph(g, loss, {{"h"}, false});
  EXPECT_TRUE(back.has_tensor("grad.h.0") && back.has_tensor("grad.h.1"));
  const auto values = run_reference<double>(back);
  const auto& grad = values[back.find_tensor("grad.h")];
  for (std::size_t i = 0; i < grad.size(); ++i) {
    EXPECT_DOUBLE_EQ(grad[i], 2 * values[h][i] * values[g.find_tensor("r")][i]);
  }
}

TEST(Autodiff, SgdStepIsParamMinusLrTimesGrad) {
  EinsumGraph g;
  const TensorId x = g.add_input("x", {3, 2});
  const TensorId w = g.add_parameter("w", {2, 4});
  const TensorId y = relu(g, "y", matmul(g, "h", x, w));
  const TensorId loss = weighted_sum(g, y);
  const EinsumGraph step = training_step_graph(g, loss, Sgd{0.125});
  const auto values = run_reference<double>(step);
  const auto& param = values[w];
  const auto& grad = values[step.find_tensor("grad.w")];
  const auto& updated = values[step.find_tensor("new.w")];
  ASSERT_EQ(updated.size(), param.size());
  for (std::size_t i = 0; i < param.size(); ++i) EXPECT_EQ(updated[i], param[i] - 0.125 * grad[i]);
}

TEST(Autodiff, AdamStepMatchesDirectComputation) {
  EinsumGraph g;
  const TensorId x = g.add_input("x", {2});
  const TensorId w = g.add_parameter("w", {2});
  const TensorId loss = g.add_einsum("loss", "i,i->", {x, w});  // grad.w = x
  const Adam adam{0.01, 0.8, 0.9, 1e-8, 3};
  const EinsumGraph step = training_step_graph(g, loss, adam);
  ReferenceOptions options;
  options.given[x] = {0.5, -2};
  options.given[w] = {1, 3};
  options.given[step.find_tensor("m.w")] = {0.1, -0.2};
  options.given[step.find_tensor("v.w")] = {0.01, 0.3};
  const auto values = run_reference<double>(step, options);
  for (std::size_t i = 0; i < 2; ++i) {
    const double grad = options.given[x][i];
    const double m = 0.8 * options.given[step.find_tensor("m.w")][i] + 0.2 * grad;
    const double v = 0.9 * options.given[step.find_tensor("v.w")][i] + 0.1 * grad * grad;
    const double m_hat = m / (1 - std::pow(0.8, 3));
    const double v_hat = v / (1 - std::pow(0.9, 3));
    EXPECT_NEAR(values[step.find_tensor("new.m.w")][i], m, 1e-15);
    EXPECT_NEAR(values[step.find_tensor("new.v.w")][i], v, 1e-15);
    EXPECT_NEAR(values[step.find_tensor("new.w")][i],
                options.given[w][i] - 0.01 * m_hat / (std::sqrt(v_hat) + 1e-8), 1e-14);
  }
}

TEST(Autodiff, ProdAggregation) {
  EinsumGraph g;
  const TensorId x = g.add_parameter("x", {3, 4});
  const TensorId w = g.add_parameter("w", {4});
  const TensorId p = g.add_einsum("p", "ij,j->i | agg=prod | join=a*b+1", {x, w});
  const TensorId q = g.add_einsum("q", "ij->j | agg=prod", {x});
  const TensorId y = g.add_einsum("y", "i,j->ij", {p, q});
  expect_gradients_match(g, weighted_sum(g, y), {"x", "w"});
}

// d/dx_j prod_k x_k = the product of the others, exactly, also where factors are zero.
TEST(Autodiff, ProdGradientWithZeroFactors) {
  EinsumGraph g;
  const TensorId x = g.add_parameter("x", {4, 3});
  const TensorId loss = g.add_einsum("loss", "i->", {g.add_einsum("p", "ij->i | agg=prod", {x})});
  const EinsumGraph back = gradient_graph(g, loss);
  ReferenceOptions options;
  // Rows: no zero, one zero, two zeros, a zero and a negative.
  options.given[x] = {2, 3, 5, 0, 3, 5, 0, 0, 5, -2, 0, 7};
  const auto grad = run_reference<double>(back, options)[back.find_tensor("grad.x")];
  EXPECT_EQ(grad, (std::vector<double>{15, 10, 6, 15, 0, 0, 0, 0, 0, 0, -14, 0}));
}

TEST(Autodiff, Errors) {
  EinsumGraph g;
  const TensorId x = g.add_parameter("x", {2, 3});
  const TensorId p = g.add_einsum("p", "ij->i | agg=prod", {x});
  const TensorId loss = g.add_einsum("loss", "i->", {p});
  EXPECT_EQ(error_of([&] { gradient_graph(g, std::string("nope")); }),
            "autodiff: unknown loss tensor 'nope'");
  EXPECT_EQ(error_of([&] { gradient_graph(g, x); }),
            "autodiff: loss 'x' has dims [2, 3], not a scalar (sum it with an '...->' einsum or set "
            "seed_non_scalar_with_ones)");
  EXPECT_NO_THROW(gradient_graph(g, loss));
  EXPECT_EQ(error_of([&] {
              gradient_graph(g, loss, {{"y"}, false});
            }),
            "autodiff: unknown tensor 'y' to differentiate");
}

TEST(Autodiff, NonScalarLossSeededWithOnes) {
  EinsumGraph g;
  const TensorId w = g.add_parameter("w", {2, 3});
  const TensorId y = g.add_einsum("y", "ij->i | join=a*a", {w});
  const EinsumGraph back = gradient_graph(g, y, {{}, true});
  const auto values = run_reference<double>(back);
  const auto& grad = values[back.find_tensor("grad.w")];
  for (std::size_t i = 0; i < grad.size(); ++i) EXPECT_DOUBLE_EQ(grad[i], 2 * values[w][i]);
}

}  // namespace
}  // namespace doppler::einsum
