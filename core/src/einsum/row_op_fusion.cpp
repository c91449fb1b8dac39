// fuse_row_ops() (fusion.hpp): the builder's softmax, RMSNorm and rotary patterns, found op by op
// with the exact joins and letters einsum_builder.cpp gives them, become one row op each.
#include <algorithm>
#include <cmath>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "doppler/einsum/fusion.hpp"

namespace doppler::einsum {
namespace {

std::string without(std::string letters, std::size_t position) {
  letters.erase(position, 1);
  return letters;
}

// The position whose removal from `all` gives `rest`, if any.
std::optional<std::size_t> removed_position(const std::string& all, const std::string& rest) {
  for (std::size_t p = 0; p < all.size(); ++p)
    if (without(all, p) == rest) return p;
  return std::nullopt;
}

// A row op replacing op `last`, and the ops it absorbs.
struct Match {
  EinsumOp row;  // name, kind, spec, inputs (tensors of the original graph), axis, param
  std::vector<EinsumOpId> absorbed;
};

class Matcher {
 public:
  explicit Matcher(const EinsumGraph& graph) : g_(graph) {}

  std::optional<Match> at(EinsumOpId id) const {
    const EinsumOp& op = g_.op(id);
    if (!op.is_einsum() || !op.spec.aggregated_indices().empty()) return std::nullopt;
    if (auto m = softmax(op)) return m;
    if (auto m = rms_norm(op)) return m;
    return rotary(op);
  }

 private:
  // The einsum op producing `t`, if any.
  const EinsumOp* einsum_producer(TensorId t) const {
    const EinsumOpId p = g_.tensor(t).producer;
    if (p == kNoProducer || !g_.op(p).is_einsum()) return nullptr;
    return &g_.op(p);
  }
  const EinsumOp* producer_of_kind(TensorId t, OpKind kind) const {
    const EinsumOpId p = g_.tensor(t).producer;
    if (p == kNoProducer || g_.op(p).kind != kind) return nullptr;
    return &g_.op(p);
  }
  // `t` is an intermediate read by exactly the ops in `readers`.
  bool read_only_by(TensorId t, std::set<EinsumOpId> readers) const {
    if (g_.tensor(t).kind == TensorKind::kOutput) return false;
    const std::vector<EinsumOpId> consumers = g_.consumers(t);
    return std::set<EinsumOpId>(consumers.begin(), consumers.end()) == readers;
  }
  EinsumOpId id_of(const EinsumOp& op) const { return g_.tensor(op.output).producer; }
  // An op reducing input `x` (read with all its letters) along position `axis` with `agg` and `join`.
  static bool reduces_along(const EinsumOp* op, TensorId x, std::size_t axis, Agg agg, const Expr& join) {
    return op != nullptr && op->inputs.size() == 1 && op->inputs[0] == x && op->spec.agg == agg &&
           op->spec.join == join && op->spec.inputs[0].size() > axis &&
           op->spec.output == without(op->spec.inputs[0], axis);
  }

  // P = E / S, E = exp(X - M), S = sum(E), M = max(X) along one axis; X = c * X0 folds in as the scale.
  std::optional<Match> softmax(const EinsumOp& p) const {
    const Expr a = Expr::input(0), b = Expr::input(1);
    const std::string& out = p.spec.output;
    if (p.inputs.size() != 2 || !(p.spec.join == a / b) || p.spec.inputs[0] != out) return std::nullopt;
    const std::optional<std::size_t> axis = removed_position(out, p.spec.inputs[1]);
    const EinsumOp* e = einsum_producer(p.inputs[0]);
    const EinsumOp* s = einsum_producer(p.inputs[1]);
    if (!axis || e == nullptr || s == nullptr || e->inputs.size() != 2) return std::nullopt;
    const std::string& e_out = e->spec.output;
    if (!(e->spec.join == Expr::unary(ExprKind::kExp, a - b)) || e->spec.inputs[0] != e_out ||
        e->spec.inputs[1] != without(e_out, *axis) || !e->spec.aggregated_indices().empty())
      return std::nullopt;
    const TensorId x = e->inputs[0];
    const EinsumOp* m = einsum_producer(e->inputs[1]);
    if (!reduces_along(s, e->output, *axis, Agg::kSum, a) || !reduces_along(m, x, *axis, Agg::kMax, a))
      return std::nullopt;
    const EinsumOpId ids[] = {id_of(*m), id_of(*e), id_of(*s), id_of(p)};
    if (!read_only_by(m->output, {ids[1]}) || !read_only_by(e->output, {ids[2], ids[3]}) ||
        !read_only_by(s->output, {ids[3]}))
      return std::nullopt;
    Match match{EinsumOp{p.name,
                         parse_indices(out + "->" + out),
                         {x},
                         0,
                         {},
                         OpKind::kSoftmax,
                         static_cast<int>(*axis),
                         0,
                         0,
                         1.0},
                {ids[0], ids[1], ids[2]}};
    const EinsumOp* scaled = einsum_producer(x);
    if (scaled != nullptr && scaled->inputs.size() == 1 && scaled->spec.inputs[0] == scaled->spec.output &&
        scaled->spec.aggregated_indices().empty() && scaled->spec.join.kind() == ExprKind::kMul &&
        scaled->spec.join.arg(0) == a && scaled->spec.join.arg(1).kind() == ExprKind::kConst &&
        read_only_by(x, {ids[0], ids[1]})) {
      match.row.inputs = {scaled->inputs[0]};
      match.row.param = scaled->spec.join.arg(1).value();
      match.absorbed.push_back(id_of(*scaled));
    }
    return match;
  }

  // N = X * rsqrt(MS + eps) * W, MS = sum(square(X) * 1/n) along one axis, W along that axis.
  std::optional<Match> rms_norm(const EinsumOp& n) const {
    const Expr a = Expr::input(0), b = Expr::input(1), c = Expr::input(2);
    const std::string& out = n.spec.output;
    if (n.inputs.size() != 3 || n.spec.inputs[0] != out || n.spec.inputs[2].size() != 1) return std::nullopt;
    const std::size_t axis = out.find(n.spec.inputs[2][0]);
    if (axis == std::string::npos || n.spec.inputs[1] != without(out, axis)) return std::nullopt;
    // (a * rsqrt(b + eps)) * c
    const Expr& j = n.spec.join;
    if (j.kind() != ExprKind::kMul || j.arg(0).kind() != ExprKind::kMul ||
        j.arg(0).arg(1).kind() != ExprKind::kRsqrt || j.arg(0).arg(1).arg(0).kind() != ExprKind::kAdd ||
        j.arg(0).arg(1).arg(0).arg(1).kind() != ExprKind::kConst)
      return std::nullopt;
    const double eps = j.arg(0).arg(1).arg(0).arg(1).value();
    if (!(j == a * Expr::unary(ExprKind::kRsqrt, b + Expr::constant(eps)) * c)) return std::nullopt;
    const TensorId x = n.inputs[0];
    const EinsumOp* ms = einsum_producer(n.inputs[1]);
    const double inverse = 1.0 / static_cast<double>(g_.tensor(x).dims[axis]);
    if (!reduces_along(ms, x, axis, Agg::kSum, Expr::unary(ExprKind::kSquare, a) * Expr::constant(inverse)) ||
        !read_only_by(ms->output, {id_of(n)}))
      return std::nullopt;
    return Match{EinsumOp{n.name,
                          parse_indices(out + "," + n.spec.inputs[2] + "->" + out),
                          {x, n.inputs[2]},
                          0,
                          {},
                          OpKind::kRmsNorm,
                          static_cast<int>(axis),
                          0,
                          0,
                          eps},
                 {id_of(*ms)}};
  }

  // R = X * cos + concat(-slice(X, d/2, d), slice(X, 0, d/2)) * sin along the head axis.
  std::optional<Match> rotary(const EinsumOp& r) const {
    const Expr a = Expr::input(0), b = Expr::input(1), c = Expr::input(2), d = Expr::input(3);
    const std::string& out = r.spec.output;
    if (r.inputs.size() != 4 || !(r.spec.join == a * c + b * d) || r.spec.inputs[0] != out ||
        r.spec.inputs[1] != out || r.spec.inputs[2] != r.spec.inputs[3] || r.spec.inputs[2].size() != 2 ||
        r.inputs[2] == r.inputs[3])
      return std::nullopt;
    const std::size_t axis = out.find(r.spec.inputs[2][1]);
    if (axis == std::string::npos || out.find(r.spec.inputs[2][0]) == std::string::npos) return std::nullopt;
    const TensorId x = r.inputs[0];
    const std::int64_t size = g_.tensor(x).dims[axis];
    const EinsumOp* rot = producer_of_kind(r.inputs[1], OpKind::kConcat);
    if (rot == nullptr || rot->inputs.size() != 2 || rot->axis != static_cast<int>(axis)) return std::nullopt;
    const EinsumOp* neg = einsum_producer(rot->inputs[0]);
    const EinsumOp* lo = producer_of_kind(rot->inputs[1], OpKind::kSlice);
    if (neg == nullptr || lo == nullptr || neg->inputs.size() != 1 || !(neg->spec.join == -a) ||
        neg->spec.inputs[0] != neg->spec.output)
      return std::nullopt;
    const EinsumOp* hi = producer_of_kind(neg->inputs[0], OpKind::kSlice);
    const auto half = [&](const EinsumOp* s, std::int64_t begin) {
      return s != nullptr && s->inputs[0] == x && s->axis == static_cast<int>(axis) && s->begin == begin &&
             s->end == begin + size / 2;
    };
    if (size % 2 != 0 || !half(lo, 0) || !half(hi, size / 2)) return std::nullopt;
    const EinsumOpId ids[] = {id_of(*lo), id_of(*hi), id_of(*neg), id_of(*rot)};
    if (!read_only_by(lo->output, {ids[3]}) || !read_only_by(hi->output, {ids[2]}) ||
        !read_only_by(neg->output, {ids[3]}) || !read_only_by(rot->output, {id_of(r)}))
      return std::nullopt;
    const std::string& table = r.spec.inputs[2];
    return Match{EinsumOp{r.name,
                          parse_indices(out + "," + table + "," + table + "->" + out),
                          {x, r.inputs[2], r.inputs[3]},
                          0,
                          {},
                          OpKind::kRotary,
                          static_cast<int>(axis),
                          0,
                          0,
                          0},
                 {ids[0], ids[1], ids[2], ids[3]}};
  }

  const EinsumGraph& g_;
};

}  // namespace

EinsumGraph fuse_row_ops(const EinsumGraph& graph) {
  const Matcher matcher(graph);
  std::vector<std::optional<EinsumOp>> replaced(graph.num_ops());
  std::vector<bool> absorbed(graph.num_ops(), false);
  for (EinsumOpId id = 0; id < graph.num_ops(); ++id) {
    std::optional<Match> match = matcher.at(id);
    // An op another match already replaced or absorbed stays as that match has it.
    if (!match || std::any_of(match->absorbed.begin(), match->absorbed.end(),
                              [&](EinsumOpId gone) { return absorbed[gone] || replaced[gone]; }))
      continue;
    for (const EinsumOpId gone : match->absorbed) absorbed[gone] = true;
    replaced[id] = std::move(match->row);
  }
  EinsumGraph fused;
  std::vector<TensorId> renamed(graph.num_tensors(), 0);
  for (TensorId t = 0; t < graph.num_tensors(); ++t) {
    const Tensor& tensor = graph.tensor(t);
    if (tensor.producer == kNoProducer) {
      renamed[t] = fused.add_source_like(tensor);
      continue;
    }
    if (absorbed[tensor.producer]) continue;
    const EinsumOp& op = replaced[tensor.producer] ? *replaced[tensor.producer] : graph.op(tensor.producer);
    std::vector<TensorId> inputs;
    for (const TensorId input : op.inputs) inputs.push_back(renamed[input]);
    renamed[t] = fused.add_op_as(op, inputs, tensor.dtype, tensor.dims);
    if (tensor.kind == TensorKind::kOutput) fused.mark_output(renamed[t]);
  }
  return fused;
}

}  // namespace doppler::einsum
