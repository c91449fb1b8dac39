#pragma once
// Contract: the JOIN of an einsum op, an immutable scalar expression tree over the op's inputs
// (`a`, `b`, `c`, ... = input 0, 1, 2, ...) and constants. Built by parse_expr() or the factory
// functions, which fold trivial cases (constant arithmetic, 0*x, 1*x, x+0, x-0, x/1, --x), so
// to_string() round-trips through parse_expr() to an equal tree. derivative(k) is symbolic and
// returns another Expr. Bad text throws doppler::Error: "join 'TEXT': WHAT at column N".
#include <cmath>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace doppler::einsum {

enum class ExprKind {
  kConst,
  kInput,
  kNeg,
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMax,
  kMin,
  kExp,
  kLog,
  kSqrt,
  kRsqrt,
  kRelu,
  kSilu,
  kGelu,
  kSigmoid,
  kTanh,
  kSquare,
  kStep,  // 1 if x >= 0 else 0: the derivative of relu, max and min
  kPow,   // pow(x, p) with a constant exponent p
};

// Number of Expr children of a node of this kind (0, 1 or 2).
int expr_arity(ExprKind kind);
// Function name in the text syntax ("exp", "max", ...); empty for constants, inputs and operators.
std::string_view expr_function_name(ExprKind kind);

class Expr {
 public:
  Expr();  // the constant 0
  static Expr constant(double value);
  static Expr input(int index);
  static Expr unary(ExprKind kind, Expr x);
  static Expr binary(ExprKind kind, Expr x, Expr y);
  static Expr pow(Expr x, double exponent);

  ExprKind kind() const { return node_->kind; }
  double value() const { return node_->value; }  // the constant, or pow's exponent
  int input_index() const { return node_->input; }
  const Expr& arg(int i) const { return node_->args[static_cast<std::size_t>(i)]; }
  bool is_constant(double v) const { return kind() == ExprKind::kConst && value() == v; }

  template <typename T>
  T eval(std::span<const T> inputs) const;
  // Symbolic d(this)/d(input k), trivially simplified.
  Expr derivative(int k) const;
  std::string to_string() const;
  // Largest input index used, -1 when none.
  int max_input() const;
  // Count of arithmetic nodes (operators and functions); constants and inputs cost nothing.
  int cost() const;
  bool operator==(const Expr& other) const;

 private:
  struct Node {
    ExprKind kind = ExprKind::kConst;
    double value = 0;
    int input = -1;
    std::vector<Expr> args;
  };
  explicit Expr(std::shared_ptr<const Node> node) : node_(std::move(node)) {}
  static Expr make(ExprKind kind, double value, int input, std::vector<Expr> args);
  std::shared_ptr<const Node> node_;
};

// The product of inputs 0..n-1 (the constant 1 when n == 0): the default join.
Expr product_of_inputs(int n);
Expr parse_expr(std::string_view text);
// `e` with every input k replaced by input(k) (the factories fold trivial cases again).
Expr substitute_inputs(const Expr& e, const std::function<Expr(int)>& input);
// Sets used[k] for every input k that `e` reads (used has at least max_input() + 1 entries).
void mark_used_inputs(const Expr& e, std::vector<bool>& used);

Expr operator+(const Expr& x, const Expr& y);
Expr operator-(const Expr& x, const Expr& y);
Expr operator*(const Expr& x, const Expr& y);
Expr operator/(const Expr& x, const Expr& y);
Expr operator-(const Expr& x);

inline constexpr double kGeluC = 0.7978845608028654;  // sqrt(2/pi)
inline constexpr double kGeluA = 0.044715;

// One node's scalar function. `p` is pow's exponent; `y` is ignored by unary kinds.
template <typename T>
inline T apply_expr_op(ExprKind kind, T x, T y, double p) {
  switch (kind) {
    case ExprKind::kNeg:
      return -x;
    case ExprKind::kAdd:
      return x + y;
    case ExprKind::kSub:
      return x - y;
    case ExprKind::kMul:
      return x * y;
    case ExprKind::kDiv:
      return x / y;
    case ExprKind::kMax:
      return x >= y ? x : y;
    case ExprKind::kMin:
      return x <= y ? x : y;
    case ExprKind::kExp:
      return std::exp(x);
    case ExprKind::kLog:
      return std::log(x);
    case ExprKind::kSqrt:
      return std::sqrt(x);
    case ExprKind::kRsqrt:
      return T(1) / std::sqrt(x);
    case ExprKind::kRelu:
      return x > T(0) ? x : T(0);
    case ExprKind::kSilu:
      return x / (T(1) + std::exp(-x));
    case ExprKind::kGelu:
      return T(0.5) * x * (T(1) + std::tanh(T(kGeluC) * (x + T(kGeluA) * x * x * x)));
    case ExprKind::kSigmoid:
      return T(1) / (T(1) + std::exp(-x));
    case ExprKind::kTanh:
      return std::tanh(x);
    case ExprKind::kSquare:
      return x * x;
    case ExprKind::kStep:
      return x >= T(0) ? T(1) : T(0);
    case ExprKind::kPow:
      return std::pow(x, T(p));
    case ExprKind::kConst:
    case ExprKind::kInput:
      break;
  }
  return x;
}

}  // namespace doppler::einsum
