#include <cfloat>
#include <cstdint>

#include "device_elements.cuh"
#include "row_kernels.hpp"

namespace doppler::hw {
namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;

__device__ inline std::int64_t type_bytes(ElemType t) {
  return t == ElemType::kF32 ? 4 : 2;
}

// A running softmax denominator: the max seen and the sum of exp(v - max).
struct Online {
  float m;
  float s;
};

__device__ inline Online merge(Online a, Online b) {
  const float m = fmaxf(a.m, b.m);
  if (m == -INFINITY) return {m, 0.0f};
  return {m, a.s * expf(a.m - m) + b.s * expf(b.m - m)};
}

__device__ inline Online warp_merge(Online v) {
  for (int offset = 16; offset > 0; offset /= 2)
    v = merge(v, {__shfl_xor_sync(0xffffffffu, v.m, offset), __shfl_xor_sync(0xffffffffu, v.s, offset)});
  return v;
}

__device__ inline float warp_sum(float v) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// Vectorised paths: a warp per contiguous row, kJoinVector elements per lane and step.
// This warp's row: its lane's first element, the step between a lane's vectors, the row's length,
// input and output; not valid past the last row.
struct WarpRow {
  bool valid = false;
  std::uint32_t first = 0, step = 0, n = 0;
  const char* x = nullptr;
  char* out = nullptr;
};

__device__ inline WarpRow warp_row(const RowParams& p) {
  const std::int64_t row = blockIdx.x * static_cast<std::int64_t>(kWarps) + threadIdx.x / 32;
  if (row >= p.outer) return {};
  return {true,
          static_cast<std::uint32_t>(threadIdx.x % 32 * kJoinVector),
          static_cast<std::uint32_t>(32 * kJoinVector),
          static_cast<std::uint32_t>(p.n),
          static_cast<const char*>(p.x) + row * p.n * type_bytes(p.x_type),
          static_cast<char*>(p.out) + row * p.n * type_bytes(p.out_type)};
}

__global__ void softmax_vec_kernel(const RowParams p) {
  const WarpRow row = warp_row(p);
  if (!row.valid) return;
  const std::uint32_t first = row.first, step = row.step, n = row.n;
  const char* x = row.x;
  char* out = row.out;
  float v[kJoinVector];
  Online acc{-INFINITY, 0.0f};
  for (std::uint32_t j = first; j < n; j += step) {
    load_vec(x, p.x_type, j, v);
    float m = -INFINITY;
#pragma unroll
    for (int k = 0; k < kJoinVector; ++k) m = fmaxf(m, v[k] *= p.param);
    float s = 0;
#pragma unroll
    for (int k = 0; k < kJoinVector; ++k) s += expf(v[k] - m);
    acc = merge(acc, {m, s});
  }
  acc = warp_merge(acc);
  const float inverse = 1.0f / acc.s;
  for (std::uint32_t j = first; j < n; j += step) {
    load_vec(x, p.x_type, j, v);
#pragma unroll
    for (int k = 0; k < kJoinVector; ++k) v[k] = expf(v[k] * p.param - acc.m) * inverse;
    store_vec(out, p.out_type, j, v);
  }
}

__global__ void rms_norm_vec_kernel(const RowParams p) {
  const WarpRow row = warp_row(p);
  if (!row.valid) return;
  const std::uint32_t first = row.first, step = row.step, n = row.n;
  const char* x = row.x;
  char* out = row.out;
  float v[kJoinVector], w[kJoinVector];
  float squares = 0;
  for (std::uint32_t j = first; j < n; j += step) {
    load_vec(x, p.x_type, j, v);
#pragma unroll
    for (int k = 0; k < kJoinVector; ++k) squares += v[k] * v[k];
  }
  const float r = rsqrtf(warp_sum(squares) / static_cast<float>(p.n) + p.param);
  for (std::uint32_t j = first; j < n; j += step) {
    load_vec(x, p.x_type, j, v);
    load_vec(p.aux0, p.aux0_type, j, w);
#pragma unroll
    for (int k = 0; k < kJoinVector; ++k) v[k] = v[k] * r * w[k];
    store_vec(out, p.out_type, j, v);
  }
}

// kJoinVector consecutive elements per thread, all in one half of one row.
__global__ void rotary_vec_kernel(const RowParams p, std::int64_t vectors) {
  const std::int64_t t = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  if (t >= vectors) return;
  const std::int64_t e = t * kJoinVector, j = e % p.n, half = p.n / 2;
  const bool low = j < half;
  const std::int64_t partner = low ? e + half : e - half;
  const std::int64_t table = (e / p.seq_stride) % p.seq_count * p.n + j;
  const std::int64_t xb = type_bytes(p.x_type);
  float x[kJoinVector], other[kJoinVector], c[kJoinVector], s[kJoinVector];
  load_vec(static_cast<const char*>(p.x) + e * xb, p.x_type, 0, x);
  load_vec(static_cast<const char*>(p.x) + partner * xb, p.x_type, 0, other);
  load_vec(static_cast<const char*>(p.aux0) + table * type_bytes(p.aux0_type), p.aux0_type, 0, c);
  load_vec(static_cast<const char*>(p.aux1) + table * type_bytes(p.aux1_type), p.aux1_type, 0, s);
#pragma unroll
  for (int k = 0; k < kJoinVector; ++k) x[k] = x[k] * c[k] + (low ? -other[k] : other[k]) * s[k];
  store_vec(static_cast<char*>(p.out) + e * type_bytes(p.out_type), p.out_type, 0, x);
}

// Plain paths: a thread per row (softmax, rms_norm) or per element (rotary).
__global__ void row_kernel(const RowParams p) {
  const std::int64_t r = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  if (r >= p.outer * p.inner) return;
  const std::int64_t base = r / p.inner * p.n * p.inner + r % p.inner;
  const auto at = [&](std::int64_t j) { return base + j * p.inner; };
  if (p.kind == RowKind::kSoftmax) {
    Online acc{-INFINITY, 0.0f};
    for (std::int64_t j = 0; j < p.n; ++j)
      acc = merge(acc, {load_elem(p.x, p.x_type, at(j)) * p.param, 1.0f});
    for (std::int64_t j = 0; j < p.n; ++j)
      store_elem(p.out, p.out_type, at(j), expf(load_elem(p.x, p.x_type, at(j)) * p.param - acc.m) / acc.s);
    return;
  }
  float squares = 0;
  for (std::int64_t j = 0; j < p.n; ++j) {
    const float v = load_elem(p.x, p.x_type, at(j));
    squares += v * v;
  }
  const float r_norm = rsqrtf(squares / static_cast<float>(p.n) + p.param);
  for (std::int64_t j = 0; j < p.n; ++j)
    store_elem(p.out, p.out_type, at(j),
               load_elem(p.x, p.x_type, at(j)) * r_norm * load_elem(p.aux0, p.aux0_type, j));
}

__global__ void rotary_kernel(const RowParams p, std::int64_t total) {
  const std::int64_t e = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  if (e >= total) return;
  const std::int64_t j = e / p.inner % p.n, half = p.n / 2;
  const bool low = j < half;
  const float other = load_elem(p.x, p.x_type, e + (low ? half : -half) * p.inner);
  const std::int64_t table = (e / p.seq_stride) % p.seq_count * p.n + j;
  store_elem(p.out, p.out_type, e,
             load_elem(p.x, p.x_type, e) * load_elem(p.aux0, p.aux0_type, table) +
                 (low ? -other : other) * load_elem(p.aux1, p.aux1_type, table));
}

unsigned blocks_for(std::int64_t threads) {
  return static_cast<unsigned>((threads + kThreads - 1) / kThreads);
}

bool aligned(const void* p) {
  return reinterpret_cast<std::uintptr_t>(p) % 16 == 0;
}

}  // namespace

cudaError_t launch_row(const RowParams& p, cudaStream_t stream) {
  const std::int64_t rows = p.outer * p.inner;
  if (rows == 0 || p.n == 0) return cudaSuccess;
  const bool rotary = p.kind == RowKind::kRotary;
  const bool vector = p.inner == 1 && (rotary ? (p.n / 2) : p.n) % kJoinVector == 0 && aligned(p.x) &&
                      aligned(p.out) && (p.kind == RowKind::kSoftmax || aligned(p.aux0)) &&
                      (!rotary || aligned(p.aux1)) && p.n <= UINT32_MAX;
  if (rotary) {
    const std::int64_t total = rows * p.n;
    if (vector) {
      rotary_vec_kernel<<<blocks_for(total / kJoinVector), kThreads, 0, stream>>>(p, total / kJoinVector);
    } else {
      rotary_kernel<<<blocks_for(total), kThreads, 0, stream>>>(p, total);
    }
  } else if (!vector) {
    row_kernel<<<blocks_for(rows), kThreads, 0, stream>>>(p);
  } else if (p.kind == RowKind::kSoftmax) {
    softmax_vec_kernel<<<static_cast<unsigned>((rows + kWarps - 1) / kWarps), kThreads, 0, stream>>>(p);
  } else {
    rms_norm_vec_kernel<<<static_cast<unsigned>((rows + kWarps - 1) / kWarps), kThreads, 0, stream>>>(p);
  }
  return cudaGetLastError();
}

}  // namespace doppler::hw
