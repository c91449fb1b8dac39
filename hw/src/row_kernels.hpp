#pragma once
// Contract: the fused kernels of the row ops (core einsum_graph.hpp) on one block whose axis is
// whole. The block is [outer, n, inner] around the axis (n = the axis' size); a row is (o, i), its
// elements o * n * inner + j * inner + i for j < n. Arithmetic in f32; every buffer of its own
// ElemType. Launched asynchronously; returns the launch's cudaError_t.
//  softmax   out = softmax along the row of (param * x)
//  rms_norm  out = x * rsqrt(mean of the row's x^2 + param) * aux0[j]
//  rotary    out[j] = x[j] * aux0[s, j] + rotate_half(x)[j] * aux1[s, j] with the tables aux0 = cos,
//            aux1 = sin [seq_count, n] and s = (element / seq_stride) % seq_count;
//            rotate_half(x)[j] = -x[j + n/2] below n/2, x[j - n/2] from there (n even)
// Rows laid out contiguously (inner 1) with n a multiple of 8 and 16-byte aligned buffers take a
// vectorised path (a warp per row, or 8 elements per thread for rotary); others a plain one.
#include <cuda_runtime_api.h>

#include <cstdint>

#include "join_launch.hpp"

namespace doppler::hw {

enum class RowKind : std::uint8_t { kSoftmax, kRmsNorm, kRotary };

struct RowParams {
  RowKind kind = RowKind::kSoftmax;
  std::int64_t outer = 1, n = 1, inner = 1;
  std::int64_t seq_stride = 1, seq_count = 1;  // rotary
  float param = 0;                             // softmax: scale, rms_norm: eps
  const void* x = nullptr;
  const void* aux0 = nullptr;  // rms_norm: weight [n]; rotary: cos
  const void* aux1 = nullptr;  // rotary: sin
  void* out = nullptr;
  ElemType x_type = ElemType::kF32, aux0_type = ElemType::kF32, aux1_type = ElemType::kF32,
           out_type = ElemType::kF32;
};

cudaError_t launch_row(const RowParams& params, cudaStream_t stream);

}  // namespace doppler::hw
