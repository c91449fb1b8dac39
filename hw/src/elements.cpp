#include "elements.hpp"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstring>

namespace doppler::hw {

ElemType elem_type(einsum::DType dtype) {
  switch (dtype) {
    case einsum::DType::kF16:
      return ElemType::kF16;
    case einsum::DType::kBF16:
      return ElemType::kBF16;
    case einsum::DType::kF32:
      break;
  }
  return ElemType::kF32;
}

std::size_t elem_bytes(ElemType type) {
  return type == ElemType::kF32 ? 4 : 2;
}

void encode(std::span<const float> values, ElemType type, std::byte* out) {
  switch (type) {
    case ElemType::kF32:
      std::memcpy(out, values.data(), values.size_bytes());
      return;
    case ElemType::kF16:
      for (std::size_t i = 0; i < values.size(); ++i) {
        const __half h = __float2half_rn(values[i]);
        std::memcpy(out + 2 * i, &h, 2);
      }
      return;
    case ElemType::kBF16:
      for (std::size_t i = 0; i < values.size(); ++i) {
        const __nv_bfloat16 h = __float2bfloat16_rn(values[i]);
        std::memcpy(out + 2 * i, &h, 2);
      }
      return;
  }
}

void decode(const std::byte* in, ElemType type, std::span<float> out) {
  switch (type) {
    case ElemType::kF32:
      std::memcpy(out.data(), in, out.size_bytes());
      return;
    case ElemType::kF16:
      for (std::size_t i = 0; i < out.size(); ++i) {
        __half h;
        std::memcpy(&h, in + 2 * i, 2);
        out[i] = __half2float(h);
      }
      return;
    case ElemType::kBF16:
      for (std::size_t i = 0; i < out.size(); ++i) {
        __nv_bfloat16 h;
        std::memcpy(&h, in + 2 * i, 2);
        out[i] = __bfloat162float(h);
      }
      return;
  }
}

}  // namespace doppler::hw
