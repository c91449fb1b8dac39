#pragma once
// Contract: composite ops that real models need, each expanded into plain einsum ops of `graph`.
// Every function returns the id of its final tensor, which is named `name`; helper tensors are
// named "NAME.STEP" (softmax: NAME.max, NAME.exp, NAME.sum; rms_norm: NAME.ms). Axes count from 0
// in the tensor's dims. Shape problems throw doppler::Error naming `name`.
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
// exp(x - max) / sum(exp(x - max)) along `axis`: 4 ops (max-agg, exp(a-b), sum-agg, a/b).
TensorId softmax(EinsumGraph& graph, const std::string& name, TensorId x, int axis);
// x * rsqrt(mean(x^2 along axis) + eps) * weight, weight having dims {x.dims[axis]}: 2 ops.
TensorId rms_norm(EinsumGraph& graph, const std::string& name, TensorId x, TensorId weight, int axis,
                  double eps = 1e-6);

}  // namespace doppler::einsum
