#pragma once
// Contract: the CPU REFERENCE for einsum ops and graphs, the oracle for decompositions and for the
// GPU backend. Straightforward loops in T = double or float: for every output index tuple, the
// aggregation of the join over all tuples of the aggregated indices (no aggregation when there are
// none). Every tensor is row-major in the order of its dims. Inputs and parameters get seeded
// uniform values times their init_scale (independent per tensor, so giving one tensor does not change
// the others).
#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "doppler/einsum/einsum_graph.hpp"
#include "doppler/einsum/einsum_op.hpp"

namespace doppler::einsum {

// One op on given buffers. `sizes` holds every index the spec uses (infer_index_sizes, plus the
// output sizes of a fill); inputs[i] has the elements of input i. Throws an Error when a buffer
// has the wrong length.
template <typename T>
std::vector<T> evaluate_einsum(const EinsumSpec& spec, const IndexSizes& sizes,
                               std::span<const std::vector<T>> inputs);

// One op of any kind on given buffers: evaluate_einsum for an einsum; for a structural op the copy
// it does (reshape: the same elements; slice: [op.begin, op.end) along op.axis of an input holding
// the whole axis; concat: the inputs along op.axis), for a row op its rows (the axis whole),
// `sizes` giving the size of every letter (an op's own sizes, or a block's). Throws an Error naming the op
// when a buffer has the wrong length.
template <typename T>
std::vector<T> evaluate_op(const EinsumOp& op, const IndexSizes& sizes,
                           std::span<const std::vector<T>> inputs);

struct ReferenceOptions {
  std::uint64_t seed = 1;
  double low = -1;
  double high = 1;
  // Values for chosen inputs/parameters (row-major); the rest are random.
  std::unordered_map<TensorId, std::vector<double>> given;
};

// `count` seeded values uniform in [low, high): the stream of tensor `tensor` under `seed`.
std::vector<double> random_tensor_values(std::uint64_t seed, TensorId tensor, std::int64_t count, double low,
                                         double high);

// The values of tensor t (an input or parameter): options.given's, else the seeded random ones
// times the tensor's init_scale. A given vector of the wrong length is an Error naming the tensor.
std::vector<double> seeded_input_values(const EinsumGraph& graph, TensorId t,
                                        const ReferenceOptions& options);

// Values of every tensor, indexed by TensorId.
template <typename T>
std::vector<std::vector<T>> run_reference(const EinsumGraph& graph, const ReferenceOptions& options = {});

}  // namespace doppler::einsum
