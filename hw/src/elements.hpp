#pragma once
// Contract: element types on the GPU (f32, f16, bf16 = the graph's DTypes) and their host-side
// conversion from and to float (round to nearest even), for loading inputs and reading results.
#include <cstddef>
#include <span>

#include "doppler/einsum/einsum_graph.hpp"
#include "kernels.hpp"

namespace doppler::hw {

ElemType elem_type(einsum::DType dtype);
std::size_t elem_bytes(ElemType type);

// values -> `values.size()` elements of `type` at `out`.
void encode(std::span<const float> values, ElemType type, std::byte* out);
// `out.size()` elements of `type` at `in` -> floats.
void decode(const std::byte* in, ElemType type, std::span<float> out);

}  // namespace doppler::hw
