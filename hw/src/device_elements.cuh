#pragma once
// Contract: device-side element access shared by the .cu files: one element of an ElemType as a
// float and back (round to nearest even), and kJoinVector consecutive elements at once (16-byte
// aligned: 8 f16/bf16 as 4 pairs, or 8 f32 as two float4).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

#include "join_launch.hpp"

namespace doppler::hw {

__device__ inline float load_elem(const void* p, ElemType t, std::int64_t i) {
  switch (t) {
    case ElemType::kF16:
      return __half2float(static_cast<const __half*>(p)[i]);
    case ElemType::kBF16:
      return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
    default:
      return static_cast<const float*>(p)[i];
  }
}

__device__ inline void store_elem(void* p, ElemType t, std::int64_t i, float v) {
  switch (t) {
    case ElemType::kF16:
      static_cast<__half*>(p)[i] = __float2half_rn(v);
      break;
    case ElemType::kBF16:
      static_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16_rn(v);
      break;
    default:
      static_cast<float*>(p)[i] = v;
  }
}

// kJoinVector 16-bit elements (Half2 = __half2 or __nv_bfloat162, as 4 pairs in 16 bytes) from
// and to floats.
template <typename Half2>
__device__ inline float2 to_float2(Half2 h) {
  if constexpr (std::is_same_v<Half2, __half2>) {
    return __half22float2(h);
  } else {
    return __bfloat1622float2(h);
  }
}

template <typename Half2>
__device__ inline Half2 from_float2(float x, float y) {
  if constexpr (std::is_same_v<Half2, __half2>) {
    return __floats2half2_rn(x, y);
  } else {
    return __floats2bfloat162_rn(x, y);
  }
}

template <typename Half2>
__device__ inline void load_halves(const void* p, std::uint32_t i, float* v) {
  const uint4 raw = *reinterpret_cast<const uint4*>(static_cast<const std::uint16_t*>(p) + i);
  const Half2* h = reinterpret_cast<const Half2*>(&raw);
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    const float2 f = to_float2(h[j]);
    v[2 * j] = f.x;
    v[2 * j + 1] = f.y;
  }
}

template <typename Half2>
__device__ inline void store_halves(void* p, std::uint32_t i, const float* v) {
  uint4 raw;
  Half2* h = reinterpret_cast<Half2*>(&raw);
#pragma unroll
  for (int j = 0; j < 4; ++j) h[j] = from_float2<Half2>(v[2 * j], v[2 * j + 1]);
  *reinterpret_cast<uint4*>(static_cast<std::uint16_t*>(p) + i) = raw;
}

// kJoinVector consecutive elements at element offset i (16-byte aligned), as floats.
__device__ inline void load_vec(const void* p, ElemType t, std::uint32_t i, float* v) {
  switch (t) {
    case ElemType::kF16:
      return load_halves<__half2>(p, i, v);
    case ElemType::kBF16:
      return load_halves<__nv_bfloat162>(p, i, v);
    default: {
      const float4* f = reinterpret_cast<const float4*>(static_cast<const float*>(p) + i);
      const float4 a = f[0], b = f[1];
      v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w;
      v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
    }
  }
}

__device__ inline void store_vec(void* p, ElemType t, std::uint32_t i, const float* v) {
  switch (t) {
    case ElemType::kF16:
      return store_halves<__half2>(p, i, v);
    case ElemType::kBF16:
      return store_halves<__nv_bfloat162>(p, i, v);
    default: {
      float4* f = reinterpret_cast<float4*>(static_cast<float*>(p) + i);
      f[0] = make_float4(v[0], v[1], v[2], v[3]);
      f[1] = make_float4(v[4], v[5], v[6], v[7]);
    }
  }
}

}  // namespace doppler::hw
