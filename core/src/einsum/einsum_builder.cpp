#include "doppler/einsum/einsum_builder.hpp"

#include <algorithm>

#include "doppler/error.hpp"

namespace doppler::einsum {
namespace {

std::size_t rank_of(const EinsumGraph& graph, TensorId x) {
  return graph.tensor(x).dims.size();
}

std::size_t checked_axis(const EinsumGraph& graph, const std::string& name, TensorId x, int axis) {
  const std::size_t rank = rank_of(graph, x);
  if (axis < 0 || static_cast<std::size_t>(axis) >= rank) {
    throw Error("op '" + name + "': axis " + std::to_string(axis) + " out of range for tensor '" +
                graph.tensor(x).name + "' of rank " + std::to_string(rank));
  }
  return static_cast<std::size_t>(axis);
}

std::string without(std::string letters, std::size_t position) {
  return letters.erase(position, 1);
}

TensorId unary(EinsumGraph& graph, const std::string& name, TensorId x, ExprKind kind) {
  const std::string all = index_letters(rank_of(graph, x));
  return graph.add_einsum(name, make_einsum(all, {all}, Expr::unary(kind, Expr::input(0))), {x});
}

}  // namespace

std::string index_letters(std::size_t rank) {
  static constexpr std::string_view kLetters = "ijklmnopqrstuvwxyzabcdefgh";
  if (rank > kLetters.size()) throw Error("rank " + std::to_string(rank) + " exceeds 26 indices");
  return std::string(kLetters.substr(0, rank));
}

TensorId matmul(EinsumGraph& graph, const std::string& name, TensorId a, TensorId b) {
  const std::size_t ra = rank_of(graph, a);
  const std::size_t rb = rank_of(graph, b);
  if (ra < 2 || (rb != 2 && rb != ra)) {
    throw Error("op '" + name + "': matmul needs a of rank >= 2 and b of rank 2 or " + std::to_string(ra) +
                ", got ranks " + std::to_string(ra) + " and " + std::to_string(rb));
  }
  const std::string letters = index_letters(ra + 1);
  const std::string batch = letters.substr(0, ra - 2);
  const char m = letters[ra - 2], k = letters[ra - 1], n = letters[ra];
  const std::string sa = batch + m + k;
  const std::string sb = (rb == 2 ? std::string() : batch) + k + n;
  return graph.add_einsum(name, make_einsum(batch + m + n, {sa, sb}, product_of_inputs(2)), {a, b});
}

TensorId transpose(EinsumGraph& graph, const std::string& name, TensorId x, const std::vector<int>& perm) {
  const std::size_t rank = rank_of(graph, x);
  std::vector<int> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  bool ok = perm.size() == rank;
  for (std::size_t d = 0; ok && d < rank; ++d) ok = sorted[d] == static_cast<int>(d);
  if (!ok)
    throw Error("op '" + name + "': transpose needs a permutation of 0.." + std::to_string(rank) + "-1");
  const std::string in = index_letters(rank);
  std::string out;
  for (const int p : perm) out += in[static_cast<std::size_t>(p)];
  return graph.add_einsum(name, make_einsum(out, {in}, Expr::input(0)), {x});
}

TensorId scale(EinsumGraph& graph, const std::string& name, TensorId x, double factor) {
  const std::string all = index_letters(rank_of(graph, x));
  return graph.add_einsum(name, make_einsum(all, {all}, Expr::input(0) * Expr::constant(factor)), {x});
}

TensorId elementwise(EinsumGraph& graph, const std::string& name, std::string_view join_text,
                     const std::vector<TensorId>& inputs) {
  if (inputs.empty()) throw Error("op '" + name + "': elementwise needs at least one input");
  Expr join;
  try {
    join = parse_expr(join_text);
  } catch (const Error& e) {
    throw Error("op '" + name + "': " + e.what());
  }
  const std::vector<std::int64_t>& dims = graph.tensor(inputs[0]).dims;
  for (const TensorId t : inputs) {
    if (graph.tensor(t).dims != dims) {
      throw Error("op '" + name + "': elementwise inputs '" + graph.tensor(inputs[0]).name + "' and '" +
                  graph.tensor(t).name + "' differ in shape");
    }
  }
  const std::string all = index_letters(dims.size());
  return graph.add_einsum(name, make_einsum(all, std::vector<std::string>(inputs.size(), all), join), inputs);
}

TensorId add(EinsumGraph& graph, const std::string& name, TensorId x, TensorId y) {
  return elementwise(graph, name, "a+b", {x, y});
}
TensorId mul(EinsumGraph& graph, const std::string& name, TensorId x, TensorId y) {
  return elementwise(graph, name, "a*b", {x, y});
}
TensorId relu(EinsumGraph& graph, const std::string& name, TensorId x) {
  return unary(graph, name, x, ExprKind::kRelu);
}
TensorId silu(EinsumGraph& graph, const std::string& name, TensorId x) {
  return unary(graph, name, x, ExprKind::kSilu);
}
TensorId gelu(EinsumGraph& graph, const std::string& name, TensorId x) {
  return unary(graph, name, x, ExprKind::kGelu);
}

TensorId fill(EinsumGraph& graph, const std::string& name, std::vector<std::int64_t> dims, double value,
              DType dtype) {
  const std::string all = index_letters(dims.size());
  return graph.add_einsum_as(name, make_einsum(all, {}, Expr::constant(value)), {}, dtype, std::move(dims));
}

TensorId softmax(EinsumGraph& graph, const std::string& name, TensorId x, int axis) {
  const std::string all = index_letters(rank_of(graph, x));
  const std::string rest = without(all, checked_axis(graph, name, x, axis));
  const Expr a = Expr::input(0), b = Expr::input(1);
  const TensorId m = graph.add_einsum(name + ".max", make_einsum(rest, {all}, a, Agg::kMax), {x});
  const TensorId e = graph.add_einsum(
      name + ".exp", make_einsum(all, {all, rest}, Expr::unary(ExprKind::kExp, a - b)), {x, m});
  const TensorId s = graph.add_einsum(name + ".sum", make_einsum(rest, {all}, a), {e});
  return graph.add_einsum(name, make_einsum(all, {all, rest}, a / b), {e, s});
}

TensorId rms_norm(EinsumGraph& graph, const std::string& name, TensorId x, TensorId weight, int axis,
                  double eps) {
  const std::size_t ax = checked_axis(graph, name, x, axis);
  const std::int64_t n = graph.tensor(x).dims[ax];
  const std::string all = index_letters(rank_of(graph, x));
  const std::string rest = without(all, ax);
  const Expr a = Expr::input(0), b = Expr::input(1), c = Expr::input(2);
  const Expr mean_square = Expr::unary(ExprKind::kSquare, a) * Expr::constant(1.0 / static_cast<double>(n));
  const TensorId ms = graph.add_einsum(name + ".ms", make_einsum(rest, {all}, mean_square), {x});
  const Expr norm = a * Expr::unary(ExprKind::kRsqrt, b + Expr::constant(eps)) * c;
  return graph.add_einsum(name, make_einsum(all, {all, rest, std::string(1, all[ax])}, norm),
                          {x, ms, weight});
}

}  // namespace doppler::einsum
