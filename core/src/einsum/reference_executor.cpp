#include "doppler/einsum/reference_executor.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <utility>

#include "doppler/error.hpp"

namespace doppler::einsum {
namespace {

// The join flattened to postfix code, run on a preallocated stack.
template <typename T>
class JoinProgram {
 public:
  explicit JoinProgram(const Expr& e) {
    int depth = 0;
    compile(e, depth);
    stack_.resize(static_cast<std::size_t>(max_depth_) + 1);
  }
  T run(const T* vals) {
    std::size_t sp = 0;
    for (const Instr& in : code_) {
      switch (in.arity) {
        case 0:
          stack_[sp++] = in.kind == ExprKind::kConst ? T(in.value) : vals[in.input];
          break;
        case 1:
          stack_[sp - 1] = apply_expr_op(in.kind, stack_[sp - 1], T(0), in.value);
          break;
        default:
          stack_[sp - 2] = apply_expr_op(in.kind, stack_[sp - 2], stack_[sp - 1], in.value);
          --sp;
      }
    }
    return stack_[0];
  }

 private:
  struct Instr {
    ExprKind kind;
    int arity;
    double value;
    std::size_t input;
  };
  void compile(const Expr& e, int& depth) {
    const int arity = expr_arity(e.kind());
    for (int i = 0; i < arity; ++i) compile(e.arg(i), depth);
    depth += 1 - arity;
    max_depth_ = std::max(max_depth_, depth);
    code_.push_back(Instr{e.kind(), arity, e.value(),
                          e.kind() == ExprKind::kInput ? static_cast<std::size_t>(e.input_index()) : 0});
  }
  std::vector<Instr> code_;
  std::vector<T> stack_;
  int max_depth_ = 0;
};

template <typename T, Agg A>
inline T combine(T x, T y) {
  if constexpr (A == Agg::kSum) return x + y;
  if constexpr (A == Agg::kProd) return x * y;
  if constexpr (A == Agg::kMax) return y > x ? y : x;
  if constexpr (A == Agg::kMin) return y < x ? y : x;
}

// Loop nest over the op's indices: output indices, then aggregated ones. The last index is the
// innermost loop; it is an aggregated index exactly when there is aggregation.
template <typename T>
struct LoopNest {
  std::vector<std::int64_t> n;                     // size per loop dim
  std::vector<std::vector<std::int64_t>> strides;  // [operand][dim]; operand K is the output
  std::vector<const T*> in;
  T* out = nullptr;
  bool aggregates = false;
};

template <typename T, Agg A, typename Join>
void run_nest(const LoopNest<T>& nest, Join&& join) {
  const std::size_t dims = nest.n.size();
  const std::size_t operands = nest.strides.size();  // inputs + output
  const std::size_t k_out = operands - 1;
  std::vector<std::int64_t> off(operands, 0);
  if (dims == 0) {
    nest.out[0] = join(off.data(), std::int64_t{0}, nullptr);
    return;
  }
  std::vector<std::int64_t> inner(operands);
  for (std::size_t k = 0; k < operands; ++k) inner[k] = nest.strides[k][dims - 1];
  const std::int64_t len = nest.n[dims - 1];
  std::vector<std::int64_t> counter(dims - 1, 0);
  while (true) {
    if (nest.aggregates) {
      T acc = join(off.data(), std::int64_t{0}, inner.data());
      for (std::int64_t t = 1; t < len; ++t) acc = combine<T, A>(acc, join(off.data(), t, inner.data()));
      T& cell = nest.out[off[k_out]];
      cell = combine<T, A>(cell, acc);
    } else {
      for (std::int64_t t = 0; t < len; ++t)
        nest.out[off[k_out] + t * inner[k_out]] = join(off.data(), t, inner.data());
    }
    std::size_t d = dims - 1;
    while (d > 0) {
      --d;
      for (std::size_t k = 0; k < operands; ++k) off[k] += nest.strides[k][d];
      if (++counter[d] < nest.n[d]) break;
      for (std::size_t k = 0; k < operands; ++k) off[k] -= nest.strides[k][d] * nest.n[d];
      counter[d] = 0;
      if (d == 0) return;
    }
    if (dims == 1) return;
  }
}

template <typename T, Agg A>
void run_with_join(const EinsumSpec& spec, const LoopNest<T>& nest) {
  const std::size_t k_inputs = spec.inputs.size();
  const T* const* in = nest.in.data();
  if (spec.join_is_product() && k_inputs == 2) {
    run_nest<T, A>(nest, [in](const std::int64_t* off, std::int64_t t, const std::int64_t* s) {
      return s ? in[0][off[0] + t * s[0]] * in[1][off[1] + t * s[1]] : in[0][off[0]] * in[1][off[1]];
    });
  } else if (spec.join_is_product() && k_inputs == 1) {
    run_nest<T, A>(nest, [in](const std::int64_t* off, std::int64_t t, const std::int64_t* s) {
      return s ? in[0][off[0] + t * s[0]] : in[0][off[0]];
    });
  } else {
    JoinProgram<T> program(spec.join);
    std::vector<T> vals(k_inputs + 1);
    run_nest<T, A>(nest, [&](const std::int64_t* off, std::int64_t t, const std::int64_t* s) {
      for (std::size_t k = 0; k < k_inputs; ++k) vals[k] = in[k][off[k] + (s ? t * s[k] : 0)];
      return program.run(vals.data());
    });
  }
}

std::vector<std::int64_t> loop_strides(std::string_view operand, const std::string& loop_indices,
                                       const IndexSizes& sizes) {
  std::vector<std::int64_t> strides(loop_indices.size(), 0);
  std::int64_t stride = 1;
  for (std::size_t d = operand.size(); d-- > 0;) {
    strides[loop_indices.find(operand[d])] = stride;
    stride *= index_size(sizes, operand[d]);
  }
  return strides;
}

std::int64_t element_count(std::string_view indices, const IndexSizes& sizes) {
  std::int64_t n = 1;
  for (const char c : indices) n *= index_size(sizes, c);
  return n;
}

void check_buffer(const EinsumOp& op, const std::string& operand, std::size_t got, std::int64_t expected) {
  if (static_cast<std::int64_t>(got) != expected) {
    throw Error("op '" + op.name + "' (" + std::string(op_kind_name(op.kind)) + "): " + operand + " has " +
                std::to_string(got) + " elements, expected " + std::to_string(expected));
  }
}

// One buffer per input, each of its input's element count.
template <typename T>
void check_input_buffers(const EinsumOp& op, const IndexSizes& sizes,
                         std::span<const std::vector<T>> inputs) {
  if (inputs.size() != op.spec.inputs.size()) {
    throw Error("op '" + op.name + "': " + std::to_string(inputs.size()) + " buffers for " +
                std::to_string(op.spec.inputs.size()) + " inputs");
  }
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    check_buffer(op, "input " + std::to_string(k), inputs[k].size(), element_count(op.spec.inputs[k], sizes));
  }
}

// The elements of `dims` before and after `axis`.
std::pair<std::int64_t, std::int64_t> outer_inner(const std::vector<std::int64_t>& dims, std::size_t axis) {
  std::int64_t outer = 1, inner = 1;
  for (std::size_t d = 0; d < dims.size(); ++d) {
    if (d < axis) outer *= dims[d];
    if (d > axis) inner *= dims[d];
  }
  return {outer, inner};
}

template <typename T>
std::vector<T> evaluate_structural(const EinsumOp& op, const IndexSizes& sizes,
                                   std::span<const std::vector<T>> inputs) {
  check_input_buffers(op, sizes, inputs);
  const std::int64_t total = element_count(op.spec.output, sizes);
  if (op.kind == OpKind::kReshape) {
    check_buffer(op, "output", inputs[0].size(), total);
    return inputs[0];
  }
  const auto axis = static_cast<std::size_t>(op.axis);
  const auto [outer, inner] = outer_inner(dims_of(op.spec.output, sizes), axis);
  std::vector<T> out(static_cast<std::size_t>(total));
  T* dst = out.data();
  if (op.kind == OpKind::kSlice) {
    const std::int64_t n = index_size(sizes, op.spec.inputs[0][axis]);
    if (op.end > n || index_size(sizes, op.spec.output[axis]) != op.end - op.begin) {
      throw Error("op '" + op.name + "' (slice): sizes do not fit the range [" + std::to_string(op.begin) +
                  ", " + std::to_string(op.end) + ")");
    }
    for (std::int64_t o = 0; o < outer; ++o) {
      const T* src = inputs[0].data() + (o * n + op.begin) * inner;
      dst = std::copy_n(src, (op.end - op.begin) * inner, dst);
    }
    return out;
  }
  std::int64_t joined = 0;
  for (const std::string& in : op.spec.inputs) joined += index_size(sizes, in[axis]);
  check_buffer(op, "output axis", static_cast<std::size_t>(joined), index_size(sizes, op.spec.output[axis]));
  for (std::int64_t o = 0; o < outer; ++o) {
    for (std::size_t k = 0; k < inputs.size(); ++k) {
      const std::int64_t run = index_size(sizes, op.spec.inputs[k][axis]) * inner;
      dst = std::copy_n(inputs[k].data() + o * run, run, dst);
    }
  }
  return out;
}

// A row op (einsum_graph.hpp) on buffers whose axis is whole: each row along the axis at once.
template <typename T>
std::vector<T> evaluate_row_op(const EinsumOp& op, const IndexSizes& sizes,
                               std::span<const std::vector<T>> inputs) {
  check_input_buffers(op, sizes, inputs);
  const auto axis = static_cast<std::size_t>(op.axis);
  const std::vector<std::int64_t> dims = dims_of(op.spec.output, sizes);
  const auto [outer, inner] = outer_inner(dims, axis);
  const std::int64_t n = dims[axis];
  const std::vector<T>& x = inputs[0];
  std::vector<T> out(x.size());
  // Rotary: the seq letter's position and the block's seq count (its tables' rows).
  std::int64_t seq_stride = 0, seq_count = 1;
  if (op.kind == OpKind::kRotary) {
    const std::size_t s_ax = op.spec.output.find(op.spec.inputs[1][0]);
    seq_count = dims[s_ax];
    seq_stride = 1;
    for (std::size_t d = s_ax + 1; d < dims.size(); ++d) seq_stride *= dims[d];
  }
  for (std::int64_t o = 0; o < outer; ++o) {
    for (std::int64_t i = 0; i < inner; ++i) {
      const std::int64_t base = o * n * inner + i;
      const auto at = [&](std::int64_t j) { return static_cast<std::size_t>(base + j * inner); };
      if (op.kind == OpKind::kSoftmax) {
        const T scale = static_cast<T>(op.param);
        T m = -std::numeric_limits<T>::infinity();
        for (std::int64_t j = 0; j < n; ++j) m = std::max(m, scale * x[at(j)]);
        T sum = 0;
        for (std::int64_t j = 0; j < n; ++j) sum += (out[at(j)] = std::exp(scale * x[at(j)] - m));
        for (std::int64_t j = 0; j < n; ++j) out[at(j)] /= sum;
      } else if (op.kind == OpKind::kRmsNorm) {
        T ms = 0;
        for (std::int64_t j = 0; j < n; ++j) ms += x[at(j)] * x[at(j)];
        const T r = T(1) / std::sqrt(ms / static_cast<T>(n) + static_cast<T>(op.param));
        for (std::int64_t j = 0; j < n; ++j)
          out[at(j)] = x[at(j)] * r * inputs[1][static_cast<std::size_t>(j)];
      } else {
        const std::int64_t row = (base / seq_stride) % seq_count, half = n / 2;
        for (std::int64_t j = 0; j < n; ++j) {
          const T rotated = j < half ? -x[at(j + half)] : x[at(j - half)];
          const auto t = static_cast<std::size_t>(row * n + j);
          out[at(j)] = x[at(j)] * inputs[1][t] + rotated * inputs[2][t];
        }
      }
    }
  }
  return out;
}

}  // namespace

template <typename T>
std::vector<T> evaluate_op(const EinsumOp& op, const IndexSizes& sizes,
                           std::span<const std::vector<T>> inputs) {
  if (op.is_einsum()) return evaluate_einsum<T>(op.spec, sizes, inputs);
  if (op.is_row_op()) return evaluate_row_op<T>(op, sizes, inputs);
  return evaluate_structural<T>(op, sizes, inputs);
}

template <typename T>
std::vector<T> evaluate_einsum(const EinsumSpec& spec, const IndexSizes& sizes,
                               std::span<const std::vector<T>> inputs) {
  const std::string loop = spec.all_indices();
  if (inputs.size() != spec.inputs.size()) {
    throw Error("einsum '" + spec.to_string() + "': " + std::to_string(inputs.size()) + " buffers for " +
                std::to_string(spec.inputs.size()) + " inputs");
  }
  for (const char c : loop) {
    if (index_size(sizes, c) <= 0) {
      throw Error("einsum '" + spec.to_string() + "': no size for index " + std::string(1, c));
    }
  }
  LoopNest<T> nest;
  for (const char c : loop) nest.n.push_back(index_size(sizes, c));
  for (std::size_t k = 0; k < spec.inputs.size(); ++k) {
    const std::int64_t expected = element_count(spec.inputs[k], sizes);
    if (static_cast<std::int64_t>(inputs[k].size()) != expected) {
      throw Error("einsum '" + spec.to_string() + "': input " + std::to_string(k) + " has " +
                  std::to_string(inputs[k].size()) + " elements, expected " + std::to_string(expected));
    }
    nest.strides.push_back(loop_strides(spec.inputs[k], loop, sizes));
    nest.in.push_back(inputs[k].data());
  }
  nest.strides.push_back(loop_strides(spec.output, loop, sizes));
  nest.aggregates = !spec.aggregated_indices().empty();
  std::vector<T> out(static_cast<std::size_t>(element_count(spec.output, sizes)),
                     nest.aggregates ? static_cast<T>(agg_identity(spec.agg)) : T(0));
  nest.out = out.data();
  switch (spec.agg) {
    case Agg::kSum:
      run_with_join<T, Agg::kSum>(spec, nest);
      break;
    case Agg::kMax:
      run_with_join<T, Agg::kMax>(spec, nest);
      break;
    case Agg::kMin:
      run_with_join<T, Agg::kMin>(spec, nest);
      break;
    case Agg::kProd:
      run_with_join<T, Agg::kProd>(spec, nest);
      break;
  }
  return out;
}

std::vector<double> random_tensor_values(std::uint64_t seed, TensorId tensor, std::int64_t count, double low,
                                         double high) {
  std::mt19937_64 rng(seed ^ (0x9E3779B97F4A7C15ULL * (static_cast<std::uint64_t>(tensor) + 1)));
  std::vector<double> values(static_cast<std::size_t>(count));
  for (double& v : values) {
    const double unit = static_cast<double>(rng() >> 11) * 0x1.0p-53;  // [0, 1), portable
    v = low + (high - low) * unit;
  }
  return values;
}

std::vector<double> seeded_input_values(const EinsumGraph& graph, TensorId t,
                                        const ReferenceOptions& options) {
  const Tensor& tensor = graph.tensor(t);
  const auto given = options.given.find(t);
  if (given == options.given.end()) {
    std::vector<double> v =
        random_tensor_values(options.seed, t, tensor.elements(), options.low, options.high);
    if (tensor.init_scale != 1.0)
      for (double& x : v) x *= tensor.init_scale;
    return v;
  }
  if (static_cast<std::int64_t>(given->second.size()) != tensor.elements()) {
    throw Error("tensor '" + tensor.name + "': given " + std::to_string(given->second.size()) +
                " values, expected " + std::to_string(tensor.elements()));
  }
  return given->second;
}

template <typename T>
std::vector<std::vector<T>> run_reference(const EinsumGraph& graph, const ReferenceOptions& options) {
  std::vector<std::vector<T>> values(graph.num_tensors());
  for (TensorId t = 0; t < graph.num_tensors(); ++t) {
    const Tensor& tensor = graph.tensor(t);
    if (tensor.producer != kNoProducer) continue;
    const std::vector<double> v = seeded_input_values(graph, t, options);
    values[t].assign(v.begin(), v.end());
  }
  for (const EinsumOpId o : graph.topological_order()) {
    const EinsumOp& op = graph.op(o);
    std::vector<std::vector<T>> inputs;
    inputs.reserve(op.inputs.size());
    for (const TensorId t : op.inputs) inputs.push_back(values[t]);
    values[op.output] = evaluate_op<T>(op, op.sizes, inputs);
  }
  return values;
}

template std::vector<double> evaluate_einsum<double>(const EinsumSpec&, const IndexSizes&,
                                                     std::span<const std::vector<double>>);
template std::vector<float> evaluate_einsum<float>(const EinsumSpec&, const IndexSizes&,
                                                   std::span<const std::vector<float>>);
template std::vector<double> evaluate_op<double>(const EinsumOp&, const IndexSizes&,
                                                 std::span<const std::vector<double>>);
template std::vector<float> evaluate_op<float>(const EinsumOp&, const IndexSizes&,
                                               std::span<const std::vector<float>>);
template std::vector<std::vector<double>> run_reference<double>(const EinsumGraph&, const ReferenceOptions&);
template std::vector<std::vector<float>> run_reference<float>(const EinsumGraph&, const ReferenceOptions&);

}  // namespace doppler::einsum
