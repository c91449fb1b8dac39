#pragma once
// Contract: composite ops that real models need, each expanded into plain einsum ops of `graph`.
// Every function returns the id of its final tensor, which is named `name`; helper tensors are
// named "NAME.STEP" (softmax: NAME.max, NAME.exp, NAME.sum; rms_norm: NAME.ms; rotary: NAME.lo,
// NAME.hi, NAME.neg, NAME.rot). Axes count from 0 in the tensor's dims. Shape problems throw
// doppler::Error naming `name`. reshape, slice and concat are single structural ops whose letters
// keep every dim they can shared (splittable).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "doppler/einsum/einsum_graph.hpp"

namespace doppler::einsum {

// The index letters used for a rank-`rank` operand: "i", "ij", "ijk", ... (at most 26).
std::string index_letters(std::size_t rank);

// a [..., m, k] x b [k, n] (or b [..., k, n] with the same leading dims) -> [..., m, n].
TensorId matmul(EinsumGraph& graph, const std::string& name, TensorId a, TensorId b);
// Output dim d is input dim perm[d]; e.g. {1, 0} is the transpose `ij->ji`.
TensorId transpose(EinsumGraph& graph, const std::string& name, TensorId x, const std::vector<int>& perm);
TensorId scale(EinsumGraph& graph, const std::string& name, TensorId x, double factor);
// `join_text` over same-shape inputs (a, b, ...), e.g. "a*b+1".
TensorId elementwise(EinsumGraph& graph, const std::string& name, std::string_view join_text,
                     const std::vector<TensorId>& inputs);
TensorId add(EinsumGraph& graph, const std::string& name, TensorId x, TensorId y);
TensorId mul(EinsumGraph& graph, const std::string& name, TensorId x, TensorId y);
TensorId relu(EinsumGraph& graph, const std::string& name, TensorId x);
TensorId silu(EinsumGraph& graph, const std::string& name, TensorId x);
TensorId gelu(EinsumGraph& graph, const std::string& name, TensorId x);
TensorId fill(EinsumGraph& graph, const std::string& name, std::vector<std::int64_t> dims, double value,
              DType dtype = DType::kF32);
// Row-major reshape to `dims`; the leading and trailing dims equal in both shapes are shared letters.
TensorId reshape(EinsumGraph& graph, const std::string& name, TensorId x, std::vector<std::int64_t> dims);
// x[begin, end) along `axis`.
TensorId slice(EinsumGraph& graph, const std::string& name, TensorId x, int axis, std::int64_t begin,
               std::int64_t end);
// The inputs one after another along `axis`; every other dim equal.
TensorId concat(EinsumGraph& graph, const std::string& name, const std::vector<TensorId>& inputs, int axis);
// exp(x - max) / sum(exp(x - max)) along `axis`: 4 ops (max-agg, exp(a-b), sum-agg, a/b).
TensorId softmax(EinsumGraph& graph, const std::string& name, TensorId x, int axis);
// x * rsqrt(mean(x^2 along axis) + eps) * weight, weight having dims {x.dims[axis]}: 2 ops.
TensorId rms_norm(EinsumGraph& graph, const std::string& name, TensorId x, TensorId weight, int axis,
                  double eps = 1e-6);

// Rotary position embedding of x along `head_axis` (even size d), positions along `seq_axis`:
// x * cos + rotate_half(x) * sin with rotate_half(x) = concat(-x[d/2:], x[:d/2]) along head_axis;
// cos and sin have dims {x.dims[seq_axis], d}. 5 ops: 2 slices, a negation, a concat, one einsum.
TensorId rotary(EinsumGraph& graph, const std::string& name, TensorId x, TensorId cos, TensorId sin,
                int seq_axis, int head_axis);

// The usual rotary tables, row-major [seq, head_dim]: at [s, j] the cos/sin of
// s * base^(-2i / head_dim) with i = j mod head_dim/2. Throws unless head_dim is even and positive.
struct RotaryTables {
  std::vector<double> cos;
  std::vector<double> sin;
};
RotaryTables rotary_tables(std::int64_t seq, std::int64_t head_dim, double base = 10000);

}  // namespace doppler::einsum
