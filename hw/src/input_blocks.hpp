#pragma once
// Contract: the host side of graph inputs on the GPU, shared by the executors: a tensor's values
// (given ones, else the reference's seeded random values; a wrong count is an Error naming the
// tensor), a load task's block of them gathered and converted to the tensor's dtype, and the box
// of a whole tensor (for box_copy).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "doppler/einsum/lowering.hpp"
#include "doppler/einsum/reference_executor.hpp"

namespace doppler::hw {

std::vector<einsum::Range> whole_box(const std::vector<std::int64_t>& dims);

std::vector<float> input_tensor_values(const einsum::EinsumGraph& graph, einsum::TensorId t,
                                       const einsum::ReferenceOptions& options);

// Writes the block of `info` (a load task of tensor info.tensor) from `values` (the whole tensor)
// at `out`, in the tensor's dtype.
void encode_input_block(const einsum::EinsumGraph& graph, const einsum::TaskInfo& info,
                        const std::vector<float>& values, std::byte* out);

}  // namespace doppler::hw
