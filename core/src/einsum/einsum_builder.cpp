#include "doppler/einsum/einsum_builder.hpp"

#include <algorithm>
#include <cmath>
#include <map>

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

std::string dims_text(const std::vector<std::int64_t>& dims) {
  std::string text = "[";
  for (std::size_t d = 0; d < dims.size(); ++d) text += (d ? ", " : "") + std::to_string(dims[d]);
  return text + "]";
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

TensorId reshape(EinsumGraph& graph, const std::string& name, TensorId x, std::vector<std::int64_t> dims) {
  const std::vector<std::int64_t>& in = graph.tensor(x).dims;
  std::size_t prefix = 0, suffix = 0;
  while (prefix < in.size() && prefix < dims.size() && in[prefix] == dims[prefix]) ++prefix;
  while (suffix + prefix < in.size() && suffix + prefix < dims.size() &&
         in[in.size() - 1 - suffix] == dims[dims.size() - 1 - suffix]) {
    ++suffix;
  }
  const std::size_t middle = dims.size() - prefix - suffix;
  const std::string letters = index_letters(in.size() + middle);
  const std::string in_letters = letters.substr(0, in.size());
  const std::string out_letters = in_letters.substr(0, prefix) + letters.substr(in.size(), middle) +
                                  in_letters.substr(in.size() - suffix);
  return graph.add_reshape(name, in_letters + "->" + out_letters, x, std::move(dims));
}

TensorId slice(EinsumGraph& graph, const std::string& name, TensorId x, int axis, std::int64_t begin,
               std::int64_t end) {
  const std::size_t ax = checked_axis(graph, name, x, axis);
  const std::string letters = index_letters(rank_of(graph, x) + 1);
  std::string out = letters.substr(0, letters.size() - 1);
  const std::string in = out;
  out[ax] = letters.back();
  return graph.add_slice(name, in + "->" + out, x, begin, end);
}

TensorId concat(EinsumGraph& graph, const std::string& name, const std::vector<TensorId>& inputs, int axis) {
  if (inputs.empty()) throw Error("op '" + name + "': concat needs at least one input");
  const std::size_t ax = checked_axis(graph, name, inputs[0], axis);
  const std::size_t rank = rank_of(graph, inputs[0]);
  // One axis letter per distinct axis size (a letter shared by inputs must have one size).
  std::map<std::int64_t, char> letter_of_size;
  for (const TensorId t : inputs) {
    if (rank_of(graph, t) != rank) {
      throw Error("op '" + name + "': concat of '" + graph.tensor(inputs[0]).name + "' " +
                  dims_text(graph.tensor(inputs[0]).dims) + " and '" + graph.tensor(t).name + "' " +
                  dims_text(graph.tensor(t).dims) + " (ranks differ)");
    }
    letter_of_size.emplace(graph.tensor(t).dims[ax], ' ');
  }
  const std::string letters = index_letters(rank + 1 + letter_of_size.size());
  std::size_t next = rank + 1;
  for (auto& [size, letter] : letter_of_size) letter = letters[next++];
  const std::string out = letters.substr(0, rank);
  std::string text;
  for (const TensorId t : inputs) {
    std::string in = out;
    in[ax] = letter_of_size.at(graph.tensor(t).dims[ax]);
    text += (text.empty() ? "" : ",") + in;
  }
  std::string out_letters = out;
  out_letters[ax] = letters[rank];
  return graph.add_concat(name, text + "->" + out_letters, inputs);
}

TensorId rotary(EinsumGraph& graph, const std::string& name, TensorId x, TensorId cos, TensorId sin,
                int seq_axis, int head_axis) {
  const std::size_t s_ax = checked_axis(graph, name, x, seq_axis);
  const std::size_t h_ax = checked_axis(graph, name, x, head_axis);
  const std::vector<std::int64_t> dims = graph.tensor(x).dims;
  if (s_ax == h_ax) throw Error("op '" + name + "': rotary needs different seq and head axes");
  const std::int64_t d = dims[h_ax];
  if (d % 2 != 0) throw Error("op '" + name + "': rotary head dim " + std::to_string(d) + " is odd");
  const std::vector<std::int64_t> table{dims[s_ax], d};
  for (const TensorId t : {cos, sin}) {
    if (graph.tensor(t).dims != table) {
      throw Error("op '" + name + "': rotary table '" + graph.tensor(t).name + "' has dims " +
                  dims_text(graph.tensor(t).dims) + ", expected " + dims_text(table));
    }
  }
  const TensorId lo = slice(graph, name + ".lo", x, head_axis, 0, d / 2);
  const TensorId hi = slice(graph, name + ".hi", x, head_axis, d / 2, d);
  const TensorId neg = elementwise(graph, name + ".neg", "-a", {hi});
  const TensorId rot = concat(graph, name + ".rot", {neg, lo}, head_axis);
  const std::string all = index_letters(dims.size());
  const std::string tab{all[s_ax], all[h_ax]};
  const Expr join = Expr::input(0) * Expr::input(2) + Expr::input(1) * Expr::input(3);
  return graph.add_einsum(name, make_einsum(all, {all, all, tab, tab}, join), {x, rot, cos, sin});
}

RotaryTables rotary_tables(std::int64_t seq, std::int64_t head_dim, double base) {
  if (seq <= 0 || head_dim <= 0 || head_dim % 2 != 0) {
    throw Error("rotary tables: need seq > 0 and an even head dim > 0, got seq " + std::to_string(seq) +
                " and head dim " + std::to_string(head_dim));
  }
  RotaryTables tables;
  const std::int64_t half = head_dim / 2;
  for (std::int64_t s = 0; s < seq; ++s) {
    for (std::int64_t j = 0; j < head_dim; ++j) {
      const double i = static_cast<double>(j % half);
      const double angle = static_cast<double>(s) * std::pow(base, -2 * i / static_cast<double>(head_dim));
      tables.cos.push_back(std::cos(angle));
      tables.sin.push_back(std::sin(angle));
    }
  }
  return tables;
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
