#include "doppler/einsum/autodiff.hpp"

#include <cmath>
#include <cstdint>

#include "doppler/einsum/einsum_builder.hpp"
#include "doppler/error.hpp"

namespace doppler::einsum {
namespace {

[[noreturn]] void fail(const std::string& what) {
  throw Error("autodiff: " + what);
}

std::string dims_text(const std::vector<std::int64_t>& dims) {
  std::string text = "[";
  for (std::size_t d = 0; d < dims.size(); ++d) text += (d ? ", " : "") + std::to_string(dims[d]);
  return text + "]";
}

// `e` with input i replaced by input map[i].
Expr remap_inputs(const Expr& e, const std::vector<int>& map) {
  return substitute_inputs(e, [&map](int i) { return Expr::input(map[static_cast<std::size_t>(i)]); });
}

// The forward graph with every tensor at the same TensorId.
EinsumGraph copy_forward(const EinsumGraph& forward) {
  EinsumGraph graph;
  for (const Tensor& t : forward.tensors()) {
    if (t.producer == kNoProducer) {
      graph.add_source_like(t);
    } else {
      const EinsumOp& op = forward.op(t.producer);
      const TensorId id = graph.add_op_as(op, op.inputs, t.dtype, t.dims);
      if (t.kind == TensorKind::kOutput) graph.mark_output(id);
    }
  }
  return graph;
}

// One backward einsum: its operands (forward tensor ids; kGradSlot = the output's gradient) and spec.
inline constexpr TensorId kGradSlot = static_cast<TensorId>(-1);
struct BackwardEinsum {
  std::vector<TensorId> operands;
  EinsumSpec spec;
};

// 1 if x == 0 else 0.
Expr is_zero(const Expr& x) {
  return Expr::unary(ExprKind::kStep, x) * Expr::unary(ExprKind::kStep, -x);
}

// The product over the aggregated tuples OTHER than the current one, for a prod aggregation:
// from the count of zero factors z and the product of the non-zero ones p, with f the current
// factor: f != 0: p / f if z == 0, else 0; f == 0: p if z == 1, else 0. Exact with zeros.
Expr product_of_others(const Expr& f, const Expr& zeros, const Expr& nonzero_product) {
  const Expr fz = is_zero(f);
  const Expr no_zero = Expr::unary(ExprKind::kStep, -zeros);
  const Expr one_zero = is_zero(zeros - Expr::constant(1));
  const Expr others_if_nonzero = (Expr::constant(1) - fz) * no_zero / (f + fz);
  return nonzero_product * (fz * one_zero + others_if_nonzero);
}

// Operand list [g, extras..., inputs...] and the join g * factor * df/dk over it, where the extras
// (tensors with the output's indices) are: max/min the output, for the tied-extremum indicator
// step(f - out) or step(out - f); prod the zero count and the non-zero product (product_of_others).
BackwardEinsum full_backward(const EinsumOp& op, int k, const std::vector<TensorId>& prod_extras) {
  const bool aggregates = !op.spec.aggregated_indices().empty() && op.spec.agg != Agg::kSum;
  std::vector<TensorId> extras;
  if (aggregates) extras = op.spec.agg == Agg::kProd ? prod_extras : std::vector<TensorId>{op.output};
  const int shift = 1 + static_cast<int>(extras.size());
  std::vector<int> shifted(op.inputs.size());
  for (std::size_t i = 0; i < shifted.size(); ++i) shifted[i] = static_cast<int>(i) + shift;
  Expr join = Expr::input(0) * remap_inputs(op.spec.join.derivative(k), shifted);
  BackwardEinsum b{{kGradSlot}, {}};
  std::vector<std::string> indices{op.spec.output};
  if (aggregates) {
    const Expr f = remap_inputs(op.spec.join, shifted);
    if (op.spec.agg == Agg::kProd) {
      join = join * product_of_others(f, Expr::input(1), Expr::input(2));
    } else {
      const Expr gap = op.spec.agg == Agg::kMax ? f - Expr::input(1) : Expr::input(1) - f;
      join = join * Expr::unary(ExprKind::kStep, gap);
    }
    for (const TensorId e : extras) {
      b.operands.push_back(e);
      indices.push_back(op.spec.output);
    }
  }
  for (std::size_t i = 0; i < op.inputs.size(); ++i) {
    b.operands.push_back(op.inputs[i]);
    indices.push_back(op.spec.inputs[i]);
  }
  b.spec.output = op.spec.inputs[static_cast<std::size_t>(k)];
  b.spec.inputs = std::move(indices);
  b.spec.join = join;
  return b;
}

// `count` letters absent from `used`, from z down (away from the letters builders start with).
std::string fresh_letters(const std::string& used, std::size_t count) {
  std::string letters;
  for (char c = 'z'; c >= 'a' && letters.size() < count; --c) {
    if (used.find(c) == std::string::npos) letters += c;
  }
  if (letters.size() < count) fail("no free index letters for a structural gradient");
  return letters;
}

// Drops the operands the join does not read, unless one is needed to keep an index of the
// forward iteration space (dropping it would change how often each term is summed).
BackwardEinsum prune(const BackwardEinsum& full, const std::string& space) {
  std::vector<bool> used(full.operands.size(), false);
  mark_used_inputs(full.spec.join, used);
  std::string covered;
  for (std::size_t i = 0; i < used.size(); ++i) {
    if (used[i]) covered += full.spec.inputs[i];
  }
  for (std::size_t i = 0; i < used.size(); ++i) {
    if (used[i]) continue;
    for (char c : full.spec.inputs[i]) {
      if (covered.find(c) == std::string::npos && space.find(c) != std::string::npos) used[i] = true;
    }
    if (used[i]) covered += full.spec.inputs[i];
  }
  BackwardEinsum kept{{}, {}};
  std::vector<int> map(used.size(), -1);
  for (std::size_t i = 0; i < used.size(); ++i) {
    if (!used[i]) continue;
    map[i] = static_cast<int>(kept.operands.size());
    kept.operands.push_back(full.operands[i]);
    kept.spec.inputs.push_back(full.spec.inputs[i]);
  }
  kept.spec = make_einsum(full.spec.output, kept.spec.inputs, remap_inputs(full.spec.join, map));
  return kept;
}

class Backward {
 public:
  Backward(const EinsumGraph& forward, TensorId loss, const std::vector<TensorId>& wrt)
      : forward_(forward), graph_(copy_forward(forward)), wrt_(wrt) {
    plan(loss);
  }

  EinsumGraph run(TensorId loss) {
    grad_[loss] = seed(loss);
    for (std::size_t o = forward_.num_ops(); o-- > 0;) backprop(forward_.op(static_cast<EinsumOpId>(o)));
    for (TensorId x : wrt_) graph_.mark_output(finish(x));
    return std::move(graph_);
  }

 private:
  void plan(TensorId loss) {
    const std::size_t n = forward_.num_tensors();
    needs_.assign(n, false);
    count_.assign(n, 0);
    grad_.assign(n, kGradSlot);
    parts_.assign(n, {});
    for (TensorId x : wrt_) needs_[x] = true;
    for (const EinsumOp& op : forward_.ops()) {
      for (TensorId in : op.inputs) needs_[op.output] = needs_[op.output] || needs_[in];
    }
    std::vector<bool> reached(n, false);
    reached[loss] = true;
    for (std::size_t o = forward_.num_ops(); o-- > 0;) {
      const EinsumOp& op = forward_.op(static_cast<EinsumOpId>(o));
      if (!reached[op.output]) continue;
      for (TensorId in : op.inputs) {
        if (!needs_[in]) continue;
        reached[in] = true;
        ++count_[in];
      }
    }
  }

  TensorId seed(TensorId loss) {
    const Tensor& t = forward_.tensor(loss);
    const EinsumSpec spec = make_einsum(index_letters(t.dims.size()), {}, Expr::constant(1));
    return graph_.add_einsum_as("grad." + t.name, spec, {}, t.dtype, t.dims);
  }

  // The gradient of `x`: its single contribution, the sum of several, or zeros when none.
  TensorId finish(TensorId x) {
    if (grad_[x] != kGradSlot) return grad_[x];
    const Tensor& t = forward_.tensor(x);
    const std::string letters = index_letters(t.dims.size());
    const std::vector<TensorId>& parts = parts_[x];
    if (parts.empty()) {
      grad_[x] = graph_.add_einsum_as("grad." + t.name, make_einsum(letters, {}, Expr::constant(0)), {},
                                      t.dtype, t.dims);
    } else if (parts.size() == 1) {
      grad_[x] = parts[0];
    } else {
      Expr sum = Expr::input(0);
      for (std::size_t i = 1; i < parts.size(); ++i) sum = sum + Expr::input(static_cast<int>(i));
      const std::vector<std::string> indices(parts.size(), letters);
      grad_[x] = graph_.add_einsum_as("grad." + t.name, make_einsum(letters, indices, sum), parts, t.dtype);
    }
    return grad_[x];
  }

  void backprop(const EinsumOp& op) {
    if (count_[op.output] == 0 && grad_[op.output] == kGradSlot) return;
    bool any = false;
    for (TensorId in : op.inputs) any = any || needs_[in];
    if (!any) return;
    if (op.is_row_op()) {
      throw Error("autodiff: op '" + op.name + "' is a fused " + std::string(op_kind_name(op.kind)) +
                  " kernel, which has no gradient rule; differentiate the graph before fusing it");
    }
    const TensorId g = finish(op.output);
    const std::string space = op.spec.all_indices();
    const std::vector<TensorId> prod_extras = prod_helpers(op);
    for (std::size_t k = 0; k < op.inputs.size(); ++k) {
      const TensorId in = op.inputs[k];
      if (!needs_[in]) continue;
      const Tensor& t = forward_.tensor(in);
      std::string name = "grad." + t.name;
      if (count_[in] > 1) name += "." + std::to_string(parts_[in].size());
      if (op.is_structural()) {
        parts_[in].push_back(structural_gradient(op, k, g, name, t.dtype));
        continue;
      }
      BackwardEinsum b = prune(full_backward(op, static_cast<int>(k), prod_extras), space);
      for (TensorId& operand : b.operands) operand = operand == kGradSlot ? g : operand;
      parts_[in].push_back(graph_.add_einsum_as(name, b.spec, b.operands, t.dtype));
    }
  }

  // A prod-aggregating op's zero count `grad.OUT.zeros` and non-zero product `grad.OUT.nonzero`
  // (over the aggregated indices); none for other ops.
  std::vector<TensorId> prod_helpers(const EinsumOp& op) {
    if (!op.is_einsum() || op.spec.agg != Agg::kProd || op.spec.aggregated_indices().empty()) return {};
    const Tensor& out = forward_.tensor(op.output);
    EinsumSpec zeros = op.spec;
    zeros.join = is_zero(op.spec.join);
    zeros.agg = Agg::kSum;
    EinsumSpec nonzero = op.spec;
    nonzero.join = op.spec.join + is_zero(op.spec.join);
    return {graph_.add_einsum_as("grad." + out.name + ".zeros", zeros, op.inputs, out.dtype),
            graph_.add_einsum_as("grad." + out.name + ".nonzero", nonzero, op.inputs, out.dtype)};
  }

  // Input k's gradient `name` through a structural op, from the output's gradient g: reshape g
  // back; concat: the slice of g that input k was; slice: g padded back (padded_back).
  TensorId structural_gradient(const EinsumOp& op, std::size_t k, TensorId g, const std::string& name,
                               DType dtype) {
    const std::vector<std::int64_t>& dims = forward_.tensor(op.inputs[k]).dims;
    const EinsumSpec back = parse_indices(op.spec.output + "->" + op.spec.inputs[k]);
    if (op.kind == OpKind::kReshape) {
      return graph_.add_op_as(EinsumOp{name, back, {}, 0, {}, OpKind::kReshape}, {g}, dtype, dims);
    }
    if (op.kind == OpKind::kSlice) return padded_back(op, g, name, dtype, dims);
    const auto axis = static_cast<std::size_t>(op.axis);
    std::int64_t begin = 0;
    for (std::size_t i = 0; i < k; ++i) begin += forward_.tensor(op.inputs[i]).dims[axis];
    const EinsumOp slice{name, back, {}, 0, {}, OpKind::kSlice, -1, begin, begin + dims[axis]};
    return graph_.add_op_as(slice, {g}, dtype);
  }

  // A slice's input gradient: the concat of zero fills NAME.pad_lo, g and NAME.pad_hi along the axis
  // (a fill only where the slice left elements out).
  TensorId padded_back(const EinsumOp& op, TensorId g, const std::string& name, DType dtype,
                       const std::vector<std::int64_t>& dims) {
    const std::string& in = op.spec.inputs[0];
    const auto axis = static_cast<std::size_t>(op.axis);
    const std::string fresh = fresh_letters(in + op.spec.output, 2);
    std::vector<TensorId> pieces;
    std::vector<std::string> letters;
    const auto pad = [&](const std::string& suffix, char letter, std::int64_t size) {
      if (size == 0) return;
      letters.push_back(in);
      letters.back()[axis] = letter;
      std::vector<std::int64_t> pad_dims = dims;
      pad_dims[axis] = size;
      const EinsumSpec zeros = make_einsum(letters.back(), {}, Expr::constant(0));
      pieces.push_back(graph_.add_einsum_as(name + suffix, zeros, {}, dtype, pad_dims));
    };
    pad(".pad_lo", fresh[0], op.begin);
    pieces.push_back(g);
    letters.push_back(op.spec.output);
    pad(".pad_hi", fresh[1], dims[axis] - op.end);
    const EinsumSpec spec{in, letters, product_of_inputs(static_cast<int>(letters.size()))};
    return graph_.add_op_as(EinsumOp{name, spec, {}, 0, {}, OpKind::kConcat}, pieces, dtype);
  }

  const EinsumGraph& forward_;
  EinsumGraph graph_;
  std::vector<TensorId> wrt_;
  std::vector<bool> needs_;
  std::vector<int> count_;
  std::vector<TensorId> grad_;
  std::vector<std::vector<TensorId>> parts_;
};

std::vector<TensorId> requested_tensors(const EinsumGraph& forward, const GradientOptions& options) {
  std::vector<TensorId> wrt;
  for (const std::string& name : options.wrt) {
    if (!forward.has_tensor(name)) fail("unknown tensor '" + name + "' to differentiate");
    wrt.push_back(forward.find_tensor(name));
  }
  if (!options.wrt.empty()) return wrt;
  for (TensorId id = 0; id < forward.num_tensors(); ++id) {
    if (forward.tensor(id).kind == TensorKind::kParameter) wrt.push_back(id);
  }
  return wrt;
}

void check_loss(const EinsumGraph& forward, TensorId loss, const GradientOptions& options) {
  if (loss >= forward.num_tensors()) fail("unknown loss tensor id " + std::to_string(loss));
  const Tensor& t = forward.tensor(loss);
  if (!t.dims.empty() && !options.seed_non_scalar_with_ones) {
    fail("loss '" + t.name + "' has dims " + dims_text(t.dims) +
         ", not a scalar (sum it with an '...->' einsum or set seed_non_scalar_with_ones)");
  }
}

TensorId add_update(EinsumGraph& graph, const std::string& name, Expr join,
                    const std::vector<TensorId>& inputs) {
  const Tensor& first = graph.tensor(inputs[0]);
  const std::string letters = index_letters(first.dims.size());
  const std::vector<std::string> indices(inputs.size(), letters);
  const TensorId id =
      graph.add_einsum_as(name, make_einsum(letters, indices, std::move(join)), inputs, first.dtype);
  graph.mark_output(id);
  return id;
}

void add_step(EinsumGraph& graph, TensorId param, TensorId grad, const Sgd& sgd) {
  const Expr join = Expr::input(0) - Expr::constant(sgd.lr) * Expr::input(1);
  add_update(graph, "new." + graph.tensor(param).name, join, {param, grad});
}

void add_step(EinsumGraph& graph, TensorId param, TensorId grad, const Adam& adam) {
  const Tensor p = graph.tensor(param);
  const TensorId m = graph.add_parameter("m." + p.name, p.dims, p.dtype);
  const TensorId v = graph.add_parameter("v." + p.name, p.dims, p.dtype);
  const Expr a = Expr::input(0);
  const Expr b = Expr::input(1);
  const Expr c = Expr::input(2);
  const TensorId new_m =
      add_update(graph, "new.m." + p.name,
                 Expr::constant(adam.beta1) * a + Expr::constant(1 - adam.beta1) * b, {m, grad});
  const TensorId new_v = add_update(
      graph, "new.v." + p.name,
      Expr::constant(adam.beta2) * a + Expr::constant(1 - adam.beta2) * Expr::unary(ExprKind::kSquare, b),
      {v, grad});
  const double m_scale = adam.lr / (1 - std::pow(adam.beta1, adam.step));
  const double v_scale = 1 / (1 - std::pow(adam.beta2, adam.step));
  const Expr denom = Expr::unary(ExprKind::kSqrt, Expr::constant(v_scale) * c) + Expr::constant(adam.eps);
  add_update(graph, "new." + p.name, a - Expr::constant(m_scale) * b / denom, {param, new_m, new_v});
}

}  // namespace

EinsumGraph gradient_graph(const EinsumGraph& forward, TensorId loss, const GradientOptions& options) {
  check_loss(forward, loss, options);
  return Backward(forward, loss, requested_tensors(forward, options)).run(loss);
}

EinsumGraph gradient_graph(const EinsumGraph& forward, const std::string& loss_name,
                           const GradientOptions& options) {
  if (!forward.has_tensor(loss_name)) fail("unknown loss tensor '" + loss_name + "'");
  return gradient_graph(forward, forward.find_tensor(loss_name), options);
}

EinsumGraph training_step_graph(const EinsumGraph& forward, TensorId loss, const Optimizer& optimizer) {
  EinsumGraph graph = gradient_graph(forward, loss);
  for (TensorId id = 0; id < forward.num_tensors(); ++id) {
    const Tensor& t = forward.tensor(id);
    if (t.kind != TensorKind::kParameter) continue;
    const TensorId grad = graph.find_tensor("grad." + t.name);
    std::visit([&](const auto& opt) { add_step(graph, id, grad, opt); }, optimizer);
  }
  return graph;
}

}  // namespace doppler::einsum
