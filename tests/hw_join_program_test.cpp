// The GPU join program (hw/src/join_program.hpp) run on the host: equal to Expr::eval for every
// join function, and too large expressions rejected with a message naming the op.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "doppler/einsum/expr.hpp"
#include "error_of.hpp"
#include "join_program.hpp"

namespace doppler::hw {
namespace {

TEST(HwJoinProgram, EqualsExprEvalForEveryFunction) {
  const char* joins[] = {"a*b",          "a+b-c",
                         "a/b",          "-a",
                         "max(a,b)",     "min(a,b)",
                         "exp(a-b)",     "log(a*a+1)",
                         "sqrt(a*a)",    "rsqrt(b*b+1)",
                         "relu(a)",      "silu(a)",
                         "gelu(a)",      "sigmoid(b)",
                         "tanh(a+c)",    "square(a)",
                         "step(a-b)",    "pow(a*a+1, 1.5)",
                         "a*b*c+0.25",   "0.5",
                         "exp(a)/(1+c)", "a*rsqrt(b*b+c*c+0.1)*b"};
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(-2, 2);
  for (const char* text : joins) {
    const einsum::Expr e = einsum::parse_expr(text);
    const JoinProgram program = compile_join(e, "op 'x'");
    for (int trial = 0; trial < 20; ++trial) {
      const std::vector<double> in = {u(rng), u(rng), u(rng)};
      const std::vector<float> inf(in.begin(), in.end());
      const double want = e.eval<double>(std::span<const double>(in));
      const float got = run_join(program, inf.data());
      EXPECT_NEAR(got, want, 1e-5 * std::max(1.0, std::abs(want))) << text;
    }
  }
}

TEST(HwJoinProgram, RejectsProgramsTooLargeForTheKernel) {
  einsum::Expr e = einsum::Expr::input(0);
  for (int i = 0; i < 30; ++i) e = einsum::Expr::unary(einsum::ExprKind::kExp, e) + einsum::Expr::input(1);
  EXPECT_EQ(test_support::error_of([&] { compile_join(e, "op 'deep'"); }).substr(0, 25),
            "op 'deep': join 'exp(exp(");
  einsum::Expr wide = einsum::Expr::input(0);
  for (int i = 0; i < kMaxJoinStack + 1; ++i) wide = einsum::Expr::input(1) * (einsum::Expr::input(2) + wide);
  EXPECT_NE(test_support::error_of([&] { compile_join(wide, "op 'w'"); }).find("op 'w': join"),
            std::string::npos);
  EXPECT_EQ(test_support::error_of([&] { compile_join(einsum::parse_expr("a+g"), "op 'g'"); }),
            "op 'g': join reads input 6, the GPU kernel takes 6");
}

}  // namespace
}  // namespace doppler::hw
