#include "doppler/einsum/expr.hpp"

#include <algorithm>
#include <charconv>
#include <utility>

#include "doppler/error.hpp"

namespace doppler::einsum {
namespace {

struct FunctionInfo {
  std::string_view name;
  ExprKind kind;
};

constexpr FunctionInfo kFunctions[] = {
    {"max", ExprKind::kMax},         {"min", ExprKind::kMin},   {"exp", ExprKind::kExp},
    {"log", ExprKind::kLog},         {"sqrt", ExprKind::kSqrt}, {"rsqrt", ExprKind::kRsqrt},
    {"relu", ExprKind::kRelu},       {"silu", ExprKind::kSilu}, {"gelu", ExprKind::kGelu},
    {"sigmoid", ExprKind::kSigmoid}, {"tanh", ExprKind::kTanh}, {"square", ExprKind::kSquare},
    {"step", ExprKind::kStep},       {"pow", ExprKind::kPow},
};

std::string format_number(double v) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), v);
  return std::string(buffer, result.ptr);
}

// Printing precedence: 1 = + -, 2 = * /, 3 = unary minus (and negative constants), 4 = atoms.
int print_level(const Expr& e) {
  switch (e.kind()) {
    case ExprKind::kAdd:
    case ExprKind::kSub:
      return 1;
    case ExprKind::kMul:
    case ExprKind::kDiv:
      return 2;
    case ExprKind::kNeg:
      return 3;
    case ExprKind::kConst:
      return std::signbit(e.value()) ? 3 : 4;
    default:
      return 4;
  }
}

void print(const Expr& e, int min_level, std::string& out) {
  const bool parens = print_level(e) < min_level;
  if (parens) out += '(';
  switch (e.kind()) {
    case ExprKind::kConst:
      out += format_number(e.value());
      break;
    case ExprKind::kInput:
      out += static_cast<char>('a' + e.input_index());
      break;
    case ExprKind::kNeg:
      out += '-';
      print(e.arg(0), 3, out);
      break;
    case ExprKind::kAdd:
    case ExprKind::kSub:
    case ExprKind::kMul:
    case ExprKind::kDiv: {
      const int level = print_level(e);
      print(e.arg(0), level, out);
      out += e.kind() == ExprKind::kAdd   ? '+'
             : e.kind() == ExprKind::kSub ? '-'
             : e.kind() == ExprKind::kMul ? '*'
                                          : '/';
      print(e.arg(1), level + 1, out);
      break;
    }
    default:
      out += expr_function_name(e.kind());
      out += '(';
      print(e.arg(0), 0, out);
      if (e.kind() == ExprKind::kPow) out += "," + format_number(e.value());
      if (expr_arity(e.kind()) == 2) {
        out += ',';
        print(e.arg(1), 0, out);
      }
      out += ')';
  }
  if (parens) out += ')';
}

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  Expr parse() {
    skip_space();
    if (pos_ == text_.size()) fail("empty expression");
    Expr e = parse_sum();
    skip_space();
    if (pos_ != text_.size()) fail_here();
    return e;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error("join '" + std::string(text_) + "': " + what);
  }
  [[noreturn]] void fail_at(const std::string& what, std::size_t pos) const {
    fail(what + " at column " + std::to_string(pos + 1));
  }
  [[noreturn]] void fail_here() const {
    if (pos_ >= text_.size()) fail("unexpected end");
    fail_at(std::string("unexpected '") + text_[pos_] + "'", pos_);
  }
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t')) ++pos_;
  }
  bool accept(char c) {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (accept(c)) return;
    if (pos_ >= text_.size()) fail(std::string("expected '") + c + "' at end");
    fail_at(std::string("expected '") + c + "' but found '" + text_[pos_] + "'", pos_);
  }

  Expr parse_sum() {
    Expr e = parse_product();
    while (true) {
      if (accept('+')) {
        e = e + parse_product();
      } else if (accept('-')) {
        e = e - parse_product();
      } else {
        return e;
      }
    }
  }
  Expr parse_product() {
    Expr e = parse_unary();
    while (true) {
      if (accept('*')) {
        e = e * parse_unary();
      } else if (accept('/')) {
        e = e / parse_unary();
      } else {
        return e;
      }
    }
  }
  Expr parse_unary() {
    if (accept('-')) return -parse_unary();
    return parse_primary();
  }
  Expr parse_primary() {
    skip_space();
    if (pos_ >= text_.size()) fail_here();
    const char c = text_[pos_];
    if (c == '(') {
      ++pos_;
      Expr e = parse_sum();
      expect(')');
      return e;
    }
    if ((c >= '0' && c <= '9') || c == '.') return Expr::constant(parse_number());
    if (c >= 'a' && c <= 'z') return parse_name();
    fail_here();
  }
  double parse_number() {
    const std::size_t start = pos_;
    auto digits = [&] {
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
    };
    digits();
    if (pos_ < text_.size() && text_[pos_] == '.') {
      ++pos_;
      digits();
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      std::size_t p = pos_ + 1;
      if (p < text_.size() && (text_[p] == '+' || text_[p] == '-')) ++p;
      if (p < text_.size() && text_[p] >= '0' && text_[p] <= '9') {
        pos_ = p;
        digits();
      }
    }
    double value = 0;
    const auto result = std::from_chars(text_.data() + start, text_.data() + pos_, value);
    if (result.ec != std::errc() || result.ptr != text_.data() + pos_) {
      fail_at("bad number '" + std::string(text_.substr(start, pos_ - start)) + "'", start);
    }
    return value;
  }
  Expr parse_name() {
    const std::size_t start = pos_;
    while (pos_ < text_.size() && ((text_[pos_] >= 'a' && text_[pos_] <= 'z') ||
                                   (text_[pos_] >= '0' && text_[pos_] <= '9') || text_[pos_] == '_')) {
      ++pos_;
    }
    const std::string_view name = text_.substr(start, pos_ - start);
    skip_space();
    const bool call = pos_ < text_.size() && text_[pos_] == '(';
    if (!call) {
      if (name.size() == 1) return Expr::input(name[0] - 'a');
      fail_at("unknown name '" + std::string(name) + "' (inputs are single letters a, b, c, ...)", start);
    }
    const auto it = std::find_if(std::begin(kFunctions), std::end(kFunctions),
                                 [&](const FunctionInfo& f) { return f.name == name; });
    if (it == std::end(kFunctions)) fail_at("unknown function '" + std::string(name) + "'", start);
    ++pos_;
    Expr x = parse_sum();
    if (it->kind == ExprKind::kPow) {
      expect(',');
      skip_space();
      const std::size_t exponent_pos = pos_;
      const Expr exponent = parse_sum();
      if (exponent.kind() != ExprKind::kConst) fail_at("pow exponent must be a constant", exponent_pos);
      expect(')');
      return Expr::pow(x, exponent.value());
    }
    if (expr_arity(it->kind) == 2) {
      if (!accept(',')) fail_at(std::string(name) + " takes 2 arguments", start);
      Expr y = parse_sum();
      if (accept(',')) fail_at(std::string(name) + " takes 2 arguments", start);
      expect(')');
      return Expr::binary(it->kind, x, y);
    }
    if (accept(',')) fail_at(std::string(name) + " takes 1 argument", start);
    expect(')');
    return Expr::unary(it->kind, x);
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

}  // namespace

int expr_arity(ExprKind kind) {
  switch (kind) {
    case ExprKind::kConst:
    case ExprKind::kInput:
      return 0;
    case ExprKind::kAdd:
    case ExprKind::kSub:
    case ExprKind::kMul:
    case ExprKind::kDiv:
    case ExprKind::kMax:
    case ExprKind::kMin:
      return 2;
    default:
      return 1;
  }
}

std::string_view expr_function_name(ExprKind kind) {
  for (const FunctionInfo& f : kFunctions) {
    if (f.kind == kind) return f.name;
  }
  return {};
}

Expr::Expr() : node_(std::make_shared<const Node>()) {}

Expr Expr::make(ExprKind kind, double value, int input, std::vector<Expr> args) {
  return Expr(std::make_shared<const Node>(Node{kind, value, input, std::move(args)}));
}

Expr Expr::constant(double value) {
  return make(ExprKind::kConst, value, -1, {});
}

Expr Expr::input(int index) {
  if (index < 0 || index >= 26) throw Error("join input index " + std::to_string(index) + " out of range");
  return make(ExprKind::kInput, 0, index, {});
}

Expr Expr::unary(ExprKind kind, Expr x) {
  if (expr_arity(kind) != 1 || kind == ExprKind::kPow) throw Error("Expr::unary: not a unary function");
  if (x.kind() == ExprKind::kConst) return constant(apply_expr_op(kind, x.value(), 0.0, 0.0));
  if (kind == ExprKind::kNeg && x.kind() == ExprKind::kNeg) return x.arg(0);
  return make(kind, 0, -1, {std::move(x)});
}

Expr Expr::binary(ExprKind kind, Expr x, Expr y) {
  if (expr_arity(kind) != 2) throw Error("Expr::binary: not a binary function");
  if (x.kind() == ExprKind::kConst && y.kind() == ExprKind::kConst) {
    return constant(apply_expr_op(kind, x.value(), y.value(), 0.0));
  }
  switch (kind) {
    case ExprKind::kAdd:
      if (x.is_constant(0)) return y;
      if (y.is_constant(0)) return x;
      break;
    case ExprKind::kSub:
      if (y.is_constant(0)) return x;
      if (x.is_constant(0)) return unary(ExprKind::kNeg, y);
      break;
    case ExprKind::kMul:
      if (x.is_constant(0) || y.is_constant(0)) return constant(0);
      if (x.is_constant(1)) return y;
      if (y.is_constant(1)) return x;
      break;
    case ExprKind::kDiv:
      if (y.is_constant(1)) return x;
      if (x.is_constant(0)) return constant(0);
      break;
    default:
      break;
  }
  return make(kind, 0, -1, {std::move(x), std::move(y)});
}

Expr Expr::pow(Expr x, double exponent) {
  if (exponent == 1) return x;
  if (exponent == 0) return constant(1);
  if (x.kind() == ExprKind::kConst) return constant(std::pow(x.value(), exponent));
  return make(ExprKind::kPow, exponent, -1, {std::move(x)});
}

Expr operator+(const Expr& x, const Expr& y) {
  return Expr::binary(ExprKind::kAdd, x, y);
}
Expr operator-(const Expr& x, const Expr& y) {
  return Expr::binary(ExprKind::kSub, x, y);
}
Expr operator*(const Expr& x, const Expr& y) {
  return Expr::binary(ExprKind::kMul, x, y);
}
Expr operator/(const Expr& x, const Expr& y) {
  return Expr::binary(ExprKind::kDiv, x, y);
}
Expr operator-(const Expr& x) {
  return Expr::unary(ExprKind::kNeg, x);
}

Expr substitute_inputs(const Expr& e, const std::function<Expr(int)>& input) {
  switch (e.kind()) {
    case ExprKind::kConst:
      return e;
    case ExprKind::kInput:
      return input(e.input_index());
    case ExprKind::kPow:
      return Expr::pow(substitute_inputs(e.arg(0), input), e.value());
    default:
      break;
  }
  if (expr_arity(e.kind()) == 1) return Expr::unary(e.kind(), substitute_inputs(e.arg(0), input));
  return Expr::binary(e.kind(), substitute_inputs(e.arg(0), input), substitute_inputs(e.arg(1), input));
}

void mark_used_inputs(const Expr& e, std::vector<bool>& used) {
  if (e.kind() == ExprKind::kInput) used[static_cast<std::size_t>(e.input_index())] = true;
  for (int i = 0; i < expr_arity(e.kind()); ++i) mark_used_inputs(e.arg(i), used);
}

Expr product_of_inputs(int n) {
  Expr e = Expr::constant(1);
  for (int i = 0; i < n; ++i) e = e * Expr::input(i);
  return e;
}

template <typename T>
T Expr::eval(std::span<const T> inputs) const {
  switch (kind()) {
    case ExprKind::kConst:
      return static_cast<T>(value());
    case ExprKind::kInput:
      return inputs[static_cast<std::size_t>(input_index())];
    default:
      break;
  }
  const T x = arg(0).eval(inputs);
  const T y = expr_arity(kind()) == 2 ? arg(1).eval(inputs) : T(0);
  return apply_expr_op(kind(), x, y, value());
}

template double Expr::eval<double>(std::span<const double>) const;
template float Expr::eval<float>(std::span<const float>) const;

Expr Expr::derivative(int k) const {
  using K = ExprKind;
  const auto c = [](double v) { return Expr::constant(v); };
  switch (kind()) {
    case K::kConst:
      return c(0);
    case K::kInput:
      return c(input_index() == k ? 1 : 0);
    default:
      break;
  }
  const Expr& x = arg(0);
  const Expr dx = x.derivative(k);
  if (expr_arity(kind()) == 2) {
    const Expr& y = arg(1);
    const Expr dy = y.derivative(k);
    switch (kind()) {
      case K::kAdd:
        return dx + dy;
      case K::kSub:
        return dx - dy;
      case K::kMul:
        return dx * y + x * dy;
      case K::kDiv:
        return dx / y - x * dy / Expr::unary(K::kSquare, y);
      case K::kMax: {
        const Expr s = Expr::unary(K::kStep, x - y);
        return dx * s + dy * (c(1) - s);
      }
      case K::kMin: {
        const Expr s = Expr::unary(K::kStep, y - x);
        return dx * s + dy * (c(1) - s);
      }
      default:
        break;
    }
  }
  Expr local;  // d f(x) / dx
  switch (kind()) {
    case K::kNeg:
      return -dx;
    case K::kExp:
      local = *this;
      break;
    case K::kLog:
      local = c(1) / x;
      break;
    case K::kSqrt:
      local = c(0.5) * Expr::unary(K::kRsqrt, x);
      break;
    case K::kRsqrt:
      local = c(-0.5) * Expr::pow(x, -1.5);
      break;
    case K::kRelu:
      local = Expr::unary(K::kStep, x);
      break;
    case K::kSilu: {
      const Expr s = Expr::unary(K::kSigmoid, x);
      local = s * (c(1) + x * (c(1) - s));
      break;
    }
    case K::kGelu: {
      const Expr t = Expr::unary(K::kTanh, c(kGeluC) * (x + c(kGeluA) * Expr::pow(x, 3)));
      local = c(0.5) * (c(1) + t) + c(0.5) * x * (c(1) - Expr::unary(K::kSquare, t)) * c(kGeluC) *
                                        (c(1) + c(3 * kGeluA) * Expr::unary(K::kSquare, x));
      break;
    }
    case K::kSigmoid:
      local = *this * (c(1) - *this);
      break;
    case K::kTanh:
      local = c(1) - Expr::unary(K::kSquare, *this);
      break;
    case K::kSquare:
      local = c(2) * x;
      break;
    case K::kStep:
      return c(0);
    case K::kPow:
      local = c(value()) * Expr::pow(x, value() - 1);
      break;
    default:
      break;
  }
  return local * dx;
}

std::string Expr::to_string() const {
  std::string out;
  print(*this, 0, out);
  return out;
}

int Expr::max_input() const {
  if (kind() == ExprKind::kInput) return input_index();
  int m = -1;
  for (const Expr& a : node_->args) m = std::max(m, a.max_input());
  return m;
}

int Expr::cost() const {
  int n = expr_arity(kind()) > 0 ? 1 : 0;
  for (const Expr& a : node_->args) n += a.cost();
  return n;
}

bool Expr::operator==(const Expr& other) const {
  if (node_ == other.node_) return true;
  if (kind() != other.kind() || input_index() != other.input_index()) return false;
  if (!(value() == other.value() || (std::isnan(value()) && std::isnan(other.value())))) return false;
  if (node_->args.size() != other.node_->args.size()) return false;
  for (std::size_t i = 0; i < node_->args.size(); ++i) {
    if (!(node_->args[i] == other.node_->args[i])) return false;
  }
  return true;
}

Expr parse_expr(std::string_view text) {
  return Parser(text).parse();
}

}  // namespace doppler::einsum
