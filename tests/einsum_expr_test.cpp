// Einsum joins and specs: parsing, printing round-trips, every error message, and symbolic
// derivatives checked against central finite differences.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "doppler/einsum/einsum_op.hpp"
#include "doppler/einsum/expr.hpp"
#include "doppler/error.hpp"
#include "error_of.hpp"

namespace doppler::einsum {
namespace {

using doppler::test_support::error_of;

double eval2(const Expr& e, double a, double b) {
  const std::vector<double> in{a, b};
  return e.eval(std::span<const double>(in));
}

TEST(Expr, ParsesAndEvaluates) {
  EXPECT_EQ(eval2(parse_expr("a*b+1"), 2, 3), 7);
  EXPECT_EQ(eval2(parse_expr("a-b-1"), 5, 1), 3);  // left-associative
  EXPECT_EQ(eval2(parse_expr("a/b/2"), 8, 2), 2);
  EXPECT_EQ(eval2(parse_expr("-a*b"), 2, 3), -6);
  EXPECT_EQ(eval2(parse_expr("(a+b)*2"), 1, 2), 6);
  EXPECT_EQ(eval2(parse_expr("relu(a)*0.5"), -3, 0), 0);
  EXPECT_EQ(eval2(parse_expr("relu(a)*0.5"), 3, 0), 1.5);
  EXPECT_EQ(eval2(parse_expr("max(a, b) - min(a,b)"), 2, 7), 5);
  EXPECT_DOUBLE_EQ(eval2(parse_expr("exp(a-b)"), 1, 1), 1);
  EXPECT_DOUBLE_EQ(eval2(parse_expr("pow(a, 3)"), 2, 0), 8);
  EXPECT_DOUBLE_EQ(eval2(parse_expr("rsqrt(a+1e-2)"), 0.99, 0), 1);
  EXPECT_DOUBLE_EQ(eval2(parse_expr("sigmoid(a)"), 0, 0), 0.5);
  EXPECT_DOUBLE_EQ(eval2(parse_expr("gelu(a)"), 1, 0), 0.5 * (1 + std::tanh(kGeluC * (1 + kGeluA))));
  const std::vector<float> f{2.0f, 4.0f};
  EXPECT_EQ(parse_expr("sqrt(b)*a").eval(std::span<const float>(f)), 4.0f);
}

TEST(Expr, FoldsTrivialCases) {
  EXPECT_EQ(parse_expr("a*1+0").to_string(), "a");
  EXPECT_EQ(parse_expr("0*a+b").to_string(), "b");
  EXPECT_EQ(parse_expr("2*3+a").to_string(), "6+a");
  EXPECT_EQ(parse_expr("--a").to_string(), "a");
  EXPECT_EQ(parse_expr("0-a").to_string(), "-a");
  EXPECT_EQ(parse_expr("a*b").cost(), 1);
  EXPECT_EQ(parse_expr("exp(a-b)").cost(), 2);
  EXPECT_EQ(parse_expr("c*2").max_input(), 2);
  EXPECT_EQ(parse_expr("0.5").max_input(), -1);
}

TEST(Expr, PrintRoundTrips) {
  for (const char* text : {"a*b+1",
                           "exp(a-b)",
                           "relu(a)*0.5",
                           "a-(b-c)",
                           "a/(b*c)",
                           "-(a+b)",
                           "a*-2",
                           "a--b",
                           "(a+b)*(a-b)",
                           "pow(a,-1.5)",
                           "max(a,min(b,0.25))",
                           "gelu(a)+silu(b)",
                           "1e-05+a",
                           "square(tanh(a))/sigmoid(b)",
                           "step(a)*rsqrt(b)",
                           "-a*b",
                           "log(sqrt(a))",
                           "-0.5*a",
                           "a-b+c",
                           "a-(b+c)"}) {
    const Expr e = parse_expr(text);
    EXPECT_EQ(parse_expr(e.to_string()), e) << text << " printed as " << e.to_string();
  }
  EXPECT_EQ(parse_expr("a - (b - c)").to_string(), "a-(b-c)");
  EXPECT_EQ(parse_expr("(a*b)*c").to_string(), "a*b*c");
  EXPECT_EQ(parse_expr("a*(b*c)").to_string(), "a*(b*c)");
}

TEST(Expr, ErrorsSayWhatAndWhere) {
  EXPECT_EQ(error_of([] { parse_expr("a*+b"); }), "join 'a*+b': unexpected '+' at column 3");
  EXPECT_EQ(error_of([] { parse_expr(""); }), "join '': empty expression");
  EXPECT_EQ(error_of([] { parse_expr("a*"); }), "join 'a*': unexpected end");
  EXPECT_EQ(error_of([] { parse_expr("(a+b"); }), "join '(a+b': expected ')' at end");
  EXPECT_EQ(error_of([] { parse_expr("exp(a b)"); }),
            "join 'exp(a b)': expected ')' but found 'b' at column 7");
  EXPECT_EQ(error_of([] { parse_expr("a b"); }), "join 'a b': unexpected 'b' at column 3");
  EXPECT_EQ(error_of([] { parse_expr("foo(a)"); }), "join 'foo(a)': unknown function 'foo' at column 1");
  EXPECT_EQ(error_of([] { parse_expr("a+xy"); }),
            "join 'a+xy': unknown name 'xy' (inputs are single letters a, b, c, ...) at column 3");
  EXPECT_EQ(error_of([] { parse_expr("max(a)"); }), "join 'max(a)': max takes 2 arguments at column 1");
  EXPECT_EQ(error_of([] { parse_expr("max(a,b,c)"); }),
            "join 'max(a,b,c)': max takes 2 arguments at column 1");
  EXPECT_EQ(error_of([] { parse_expr("exp(a,b)"); }), "join 'exp(a,b)': exp takes 1 argument at column 1");
  EXPECT_EQ(error_of([] { parse_expr("pow(a,b)"); }),
            "join 'pow(a,b)': pow exponent must be a constant at column 7");
  EXPECT_EQ(error_of([] { parse_expr("a+#"); }), "join 'a+#': unexpected '#' at column 3");
  EXPECT_EQ(error_of([] { parse_expr("1.2.3"); }), "join '1.2.3': unexpected '.' at column 4");
}

// Central differences of every function at random points away from kinks.
TEST(Expr, DerivativesMatchFiniteDifferences) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> unit(0.2, 1.5);
  std::uniform_real_distribution<double> sign(-1, 1);
  const char* texts[] = {"a+b",          "a-b",
                         "a*b",          "a/b",
                         "-a*b",         "max(a,b)",
                         "min(a,b)",     "exp(a)",
                         "log(a)",       "sqrt(a)",
                         "rsqrt(a)",     "relu(a-b)",
                         "silu(a-b)",    "gelu(a-b)",
                         "sigmoid(a-b)", "tanh(a-b)",
                         "square(a-b)",  "pow(a,2.5)",
                         "pow(b,-1.5)",  "exp(a-b)/(1+b*b)",
                         "max(a*b,a+b)", "gelu(a)*silu(b)+log(a*b)",
                         "step(a-b)*a",  "a*b*a*b-3"};
  for (const char* text : texts) {
    const Expr e = parse_expr(text);
    for (int k = 0; k < 2; ++k) {
      const Expr d = e.derivative(k);
      for (int trial = 0; trial < 20; ++trial) {
        const double a = unit(rng) * (sign(rng) < 0 && std::string(text).find("log") == std::string::npos &&
                                              std::string(text).find("sqrt") == std::string::npos &&
                                              std::string(text).find("pow") == std::string::npos
                                          ? -1
                                          : 1);
        const double b = unit(rng);
        if (std::abs(a - b) < 1e-3 || std::abs(a * b - (a + b)) < 1e-3) continue;  // kinks of max/relu/step
        const double h = 1e-6;
        const double num = k == 0 ? (eval2(e, a + h, b) - eval2(e, a - h, b)) / (2 * h)
                                  : (eval2(e, a, b + h) - eval2(e, a, b - h)) / (2 * h);
        const double sym = eval2(d, a, b);
        EXPECT_NEAR(sym, num, 1e-6 * (1 + std::abs(num)))
            << text << " d/d" << char('a' + k) << " at a=" << a << " b=" << b << ": " << d.to_string();
      }
    }
  }
}

TEST(Expr, DerivativeIsSimplified) {
  EXPECT_EQ(parse_expr("a*b").derivative(0).to_string(), "b");
  EXPECT_EQ(parse_expr("a*b").derivative(1).to_string(), "a");
  EXPECT_EQ(parse_expr("a+b").derivative(1).to_string(), "1");
  EXPECT_EQ(parse_expr("exp(a)").derivative(1).to_string(), "0");
  EXPECT_EQ(parse_expr("exp(a)").derivative(0).to_string(), "exp(a)");
}

TEST(Expr, SubstitutesInputsAndMarksTheUsedOnes) {
  const Expr e = parse_expr("exp(a-b)/c");
  // a -> 2*a + 1, b -> b, c -> 1: the factories fold the division by 1 away.
  const Expr s = substitute_inputs(e, [](int k) {
    if (k == 0) return Expr::constant(2) * Expr::input(0) + Expr::constant(1);
    return k == 1 ? Expr::input(1) : Expr::constant(1);
  });
  EXPECT_EQ(s.to_string(), "exp(2*a+1-b)");
  std::vector<bool> used(3, false);
  mark_used_inputs(s, used);
  EXPECT_EQ(used, (std::vector<bool>{true, true, false}));
  const std::vector<double> values{0.5, 0.25, 7.0};
  EXPECT_DOUBLE_EQ(s.eval<double>(values), std::exp(2 * 0.5 + 1 - 0.25));
}

TEST(EinsumSpec, ParsesTextForms) {
  const EinsumSpec mm = parse_einsum("bij,bjk->bik");
  EXPECT_EQ(mm.output, "bik");
  EXPECT_EQ(mm.inputs, (std::vector<std::string>{"bij", "bjk"}));
  EXPECT_TRUE(mm.join_is_product());
  EXPECT_EQ(mm.agg, Agg::kSum);
  EXPECT_EQ(mm.aggregated_indices(), "j");
  EXPECT_EQ(mm.all_indices(), "bikj");
  const EinsumSpec mx = parse_einsum("ij->i | agg=max");
  EXPECT_EQ(mx.agg, Agg::kMax);
  EXPECT_EQ(parse_einsum("ij,ij->ij | join=a*b+1").join, parse_expr("a*b+1"));
  const EinsumSpec fill = parse_einsum("->ij | join=0.5");
  EXPECT_TRUE(fill.inputs.empty());
  EXPECT_EQ(fill.join, Expr::constant(0.5));
  EXPECT_EQ(parse_einsum(" ij , jk -> ik ").to_string(), "ij,jk->ik");
  EXPECT_EQ(parse_einsum("ij,->ij | join=a*b").inputs, (std::vector<std::string>{"ij", ""}));
  EXPECT_EQ(parse_einsum("ij->").aggregated_indices(), "ij");
}

TEST(EinsumSpec, PrintRoundTrips) {
  for (const char* text :
       {"bij,bjk->bik", "ij->i | agg=max", "ij,ij->ij | join=a*b+1", "ij->ij | join=exp(a)",
        "->ij | join=0.5", "ij,i->ij | join=exp(a-b)", "ijk->k | agg=prod", "ij->j | agg=min",
        "ij,i,j->ij | join=a*rsqrt(b+1e-06)*c | agg=max"}) {
    EXPECT_EQ(parse_einsum(text).to_string(), text);
  }
}

TEST(EinsumSpec, ErrorsArePrecise) {
  EXPECT_EQ(error_of([] { parse_einsum("ij,jk"); }), "einsum 'ij,jk': missing '->'");
  EXPECT_EQ(error_of([] { parse_einsum("i->j->k"); }), "einsum 'i->j->k': more than one '->'");
  EXPECT_EQ(error_of([] { parse_einsum("ij,jk->il"); }),
            "einsum 'ij,jk->il': output index l appears in no input");
  EXPECT_EQ(error_of([] { parse_einsum("iij->i"); }), "einsum 'iij->i': index i repeated in input 0 'iij'");
  EXPECT_EQ(error_of([] { parse_einsum("ij,jkk->i"); }),
            "einsum 'ij,jkk->i': index k repeated in input 1 'jkk'");
  EXPECT_EQ(error_of([] { parse_einsum("ij->ii"); }), "einsum 'ij->ii': index i repeated in output 'ii'");
  EXPECT_EQ(error_of([] { parse_einsum("iJ->i"); }),
            "einsum 'iJ->i': bad index 'J' in input 0 (indices are single lowercase letters)");
  EXPECT_EQ(error_of([] { parse_einsum("ij,ij->ij | join=a*c"); }),
            "einsum 'ij,ij->ij | join=a*c': join uses input 'c' but the op has 2 inputs");
  EXPECT_EQ(error_of([] { parse_einsum("->ij | join=a"); }),
            "einsum '->ij | join=a': join uses input 'a' but the op has 0 inputs");
  EXPECT_EQ(error_of([] { parse_einsum("ij->i | agg=mean"); }),
            "einsum 'ij->i | agg=mean': unknown aggregation 'mean' (expected sum, max, min or prod)");
  EXPECT_EQ(
      error_of([] { parse_einsum("ij->i | fold=max"); }),
      "einsum 'ij->i | fold=max': unknown option 'fold=max' (expected join=EXPR or agg=sum|max|min|prod)");
  EXPECT_EQ(error_of([] { parse_einsum("ij->i | agg=max | agg=min"); }),
            "einsum 'ij->i | agg=max | agg=min': agg given twice");
  EXPECT_EQ(error_of([] { parse_einsum("ij->ij | join=a*+b"); }),
            "einsum 'ij->ij | join=a*+b': join 'a*+b': unexpected '+' at column 3");
  EXPECT_EQ(error_of([] {
              make_einsum("ik", {"ij", "jk"}, parse_expr("a*b*c"));
            }),
            "einsum 'ij,jk->ik | join=a*b*c': join uses input 'c' but the op has 2 inputs");
}

TEST(EinsumSpec, InfersIndexSizes) {
  const EinsumSpec mm = parse_einsum("bij,bjk->bik");
  const std::vector<std::vector<std::int64_t>> dims{{2, 3, 4}, {2, 4, 5}};
  const IndexSizes sizes = infer_index_sizes(mm, dims, "op mm");
  EXPECT_EQ(dims_of(mm.output, sizes), (std::vector<std::int64_t>{2, 3, 5}));
  EXPECT_EQ(index_size(sizes, 'j'), 4);
  const std::vector<std::vector<std::int64_t>> bad{{2, 3, 4}, {2, 5, 5}};
  EXPECT_EQ(error_of([&] { infer_index_sizes(mm, bad, "op mm"); }),
            "op mm: index j is 4 in input 0 but 5 in input 1");
  const std::vector<std::vector<std::int64_t>> rank{{2, 3}, {2, 4, 5}};
  EXPECT_EQ(error_of([&] { infer_index_sizes(mm, rank, "op mm"); }),
            "op mm: input 0 has 2 dims but 'bij' has 3");
}

}  // namespace
}  // namespace doppler::einsum
