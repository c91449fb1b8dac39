#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cfloat>
#include <type_traits>

#include "device_elements.cuh"
#include "kernels.hpp"

namespace doppler::hw {
namespace {

constexpr int kThreads = 256;
constexpr int kVec = 4;  // elements per thread of the map and copy kernels

__device__ inline float identity(AggKind agg) {
  switch (agg) {
    case AggKind::kMax:
      return -INFINITY;
    case AggKind::kMin:
      return INFINITY;
    case AggKind::kProd:
      return 1.0f;
    default:
      return 0.0f;
  }
}

__device__ inline float combine(AggKind agg, float x, float y) {
  switch (agg) {
    case AggKind::kMax:
      return y > x ? y : x;
    case AggKind::kMin:
      return y < x ? y : x;
    case AggKind::kProd:
      return x * y;
    default:
      return x + y;
  }
}

// Combines `acc` over the GROUP threads that share one output element (a warp, or a block of
// kGroup threads made of warps); lane 0 of the group gets the result.
template <int kGroup>
__device__ inline float group_combine(AggKind agg, float acc) {
  for (int offset = (kGroup < 32 ? kGroup : 32) / 2; offset > 0; offset /= 2)
    acc = combine(agg, acc, __shfl_down_sync(0xffffffffu, acc, offset));
  if constexpr (kGroup > 32) {
    __shared__ float warp_acc[kGroup / 32];
    const int warp = threadIdx.x / 32;
    if (threadIdx.x % 32 == 0) warp_acc[warp] = acc;
    __syncthreads();
    if (threadIdx.x < 32) {
      acc = threadIdx.x < kGroup / 32 ? warp_acc[threadIdx.x] : identity(agg);
      for (int offset = 16; offset > 0; offset /= 2)
        acc = combine(agg, acc, __shfl_down_sync(0xffffffffu, acc, offset));
    }
  }
  return acc;
}

// Holds its stream until the host sets *flag (mapped pinned memory; DeviceSet::close_gate).
__global__ void wait_for_flag_kernel(const volatile int* flag) {
  while (*flag == 0) __nanosleep(256);
}

// kGroup threads per output element (kGroup divides kThreads, so a group never straddles blocks
// and every thread of a group agrees on whether its element exists).
// Elementwise joins (no aggregation): a block covers kThreads * kVec outputs; each thread loads
// its kVec elements (coalesced across the warp at every step) before computing any, so that
// enough bytes are in flight to keep HBM busy.
template <JoinForm kForm>
__global__ void map_kernel(const JoinLaunch p) {
  constexpr int kInputs = form_inputs(kForm);
  const std::uint32_t first = blockIdx.x * (kThreads * kVec) + threadIdx.x;
  float vals[kVec][kMaxJoinInputs] = {};
#pragma unroll
  for (int j = 0; j < kVec; ++j) {
    const std::uint32_t o = first + j * kThreads;
    if (o >= p.out_elements) break;
    std::uint32_t base[kInputs];
    join_base_offsets<kInputs>(p, o, base);
#pragma unroll
    for (int k = 0; k < kInputs; ++k)
      if (k < p.inputs) vals[j][k] = load_elem(p.in[k], p.in_type[k], base[k]);
  }
#pragma unroll
  for (int j = 0; j < kVec; ++j) {
    const std::uint32_t o = first + j * kThreads;
    if (o >= p.out_elements) break;
    store_elem(p.out, p.out_type, o, form_value<kForm>(p.program, p.constant, vals[j]));
  }
}

// Aggregating joins: kGroup threads per output element (kGroup divides kThreads, so a group
// never straddles blocks and every thread of a group agrees on whether its element exists).
template <int kGroup, JoinForm kForm>
__global__ void join_kernel(const JoinLaunch p) {
  constexpr int kInputs = form_inputs(kForm);
  const std::uint32_t thread = blockIdx.x * kThreads + threadIdx.x;
  const std::uint32_t o = thread / kGroup;
  const std::uint32_t lane = thread % kGroup;
  if (o >= p.out_elements) return;
  std::uint32_t base[kInputs];
  join_base_offsets<kInputs>(p, o, base);
  float vals[kMaxJoinInputs] = {};
  float acc = identity(p.agg);
#pragma unroll 4
  for (std::uint32_t t = lane; t < p.agg_elements; t += kGroup) {
    std::uint32_t off[kInputs];
    join_agg_offsets<kInputs>(p, t, base, off);
#pragma unroll
    for (int k = 0; k < kInputs; ++k)
      if (k < p.inputs) vals[k] = load_elem(p.in[k], p.in_type[k], off[k]);
    acc = combine(p.agg, acc, form_value<kForm>(p.program, p.constant, vals));
  }
  if constexpr (kGroup > 1) acc = group_combine<kGroup>(p.agg, acc);
  if (lane == 0) store_elem(p.out, p.out_type, o, acc);
}

// The vectorised path (launch.vector == kJoinVector): operand k's kJoinVector elements at `at`
// along the innermost loop dim: one 16-byte load where it runs along that dim, else one element
// repeated (stride 0).
__device__ inline void load_operand(const JoinLaunch& p, int k, std::uint32_t at, float* v) {
  if (p.in_stride[k][p.loop_dims - 1] == 1) {
    load_vec(p.in[k], p.in_type[k], at, v);
    return;
  }
  const float x = load_elem(p.in[k], p.in_type[k], at);
#pragma unroll
  for (int j = 0; j < kJoinVector; ++j) v[j] = x;
}

// Elementwise joins, vectorised: a thread computes kJoinVector consecutive outputs (one row of
// the innermost dim, so one set of base offsets) and stores them with one 16-byte store.
template <JoinForm kForm>
__global__ void map_vec_kernel(const JoinLaunch p) {
  constexpr int kInputs = form_inputs(kForm);
  const std::uint32_t o = (blockIdx.x * kThreads + threadIdx.x) * kJoinVector;
  if (o >= p.out_elements) return;
  std::uint32_t base[kInputs];
  join_base_offsets<kInputs>(p, o, base);
  float in[kInputs][kJoinVector];
#pragma unroll
  for (int k = 0; k < kInputs; ++k)
    if (k < p.inputs) load_operand(p, k, base[k], in[k]);
  float out[kJoinVector];
  if constexpr (kForm == JoinForm::kDiv) {
    // One divisor for the run (softmax's row sum): one reciprocal, then products (within an ulp
    // of the quotients; a subnormal or zero divisor keeps the division).
    if (p.in_stride[1][p.loop_dims - 1] == 0 && fabsf(in[1][0]) >= FLT_MIN && isfinite(in[1][0])) {
      const float reciprocal = 1.0f / in[1][0];
#pragma unroll
      for (int j = 0; j < kJoinVector; ++j) out[j] = in[0][j] * reciprocal;
      store_vec(p.out, p.out_type, o, out);
      return;
    }
  }
#pragma unroll
  for (int j = 0; j < kJoinVector; ++j) {
    float vals[kMaxJoinInputs] = {};
#pragma unroll
    for (int k = 0; k < kInputs; ++k) vals[k] = k < p.inputs ? in[k][j] : 0.0f;
    out[j] = form_value<kForm>(p.program, p.constant, vals);
  }
  store_vec(p.out, p.out_type, o, out);
}

// Aggregating joins over one innermost aggregated dim, vectorised: each of the kGroup threads of
// an output element takes kJoinVector consecutive aggregated elements per step.
template <int kGroup, JoinForm kForm>
__global__ void join_vec_kernel(const JoinLaunch p) {
  constexpr int kInputs = form_inputs(kForm);
  const std::uint32_t thread = blockIdx.x * kThreads + threadIdx.x;
  const std::uint32_t o = thread / kGroup;
  const std::uint32_t lane = thread % kGroup;
  if (o >= p.out_elements) return;
  std::uint32_t base[kInputs];
  join_base_offsets<kInputs>(p, o, base);
  const int inner = p.loop_dims - 1;
  float acc = identity(p.agg);
#pragma unroll 4
  for (std::uint32_t t = lane * kJoinVector; t < p.agg_elements; t += kGroup * kJoinVector) {
    float in[kInputs][kJoinVector];
#pragma unroll
    for (int k = 0; k < kInputs; ++k)
      if (k < p.inputs) load_operand(p, k, base[k] + t * p.in_stride[k][inner], in[k]);
#pragma unroll
    for (int j = 0; j < kJoinVector; ++j) {
      float vals[kMaxJoinInputs] = {};
#pragma unroll
      for (int k = 0; k < kInputs; ++k) vals[k] = k < p.inputs ? in[k][j] : 0.0f;
      acc = combine(p.agg, acc, form_value<kForm>(p.program, p.constant, vals));
    }
  }
  if constexpr (kGroup > 1) acc = group_combine<kGroup>(p.agg, acc);
  if (lane == 0) store_elem(p.out, p.out_type, o, acc);
}

// A copy whose elements and offsets fit 31 bits: index arithmetic by FastDivmod.
struct Copy32 {
  int rank = 0;
  FastDivmod dims[kMaxCopyRank];
  std::uint32_t src_stride[kMaxCopyRank] = {};
  std::uint32_t dst_stride[kMaxCopyRank] = {};
  std::uint32_t src_offset = 0;
  std::uint32_t dst_offset = 0;
};

bool to_copy32(const StridedCopy& c, Copy32& out) {
  constexpr std::int64_t kMax = 0x7fffffff;
  std::int64_t src_last = c.src_offset, dst_last = c.dst_offset;
  for (int k = 0; k < c.rank; ++k) {
    if (c.dims[k] > kMax || c.src_stride[k] < 0 || c.dst_stride[k] < 0) return false;
    src_last += (c.dims[k] - 1) * c.src_stride[k];
    dst_last += (c.dims[k] - 1) * c.dst_stride[k];
  }
  if (c.elements() > kMax || src_last > kMax || dst_last > kMax || c.src_offset < 0 || c.dst_offset < 0)
    return false;
  out.rank = c.rank;
  for (int k = 0; k < c.rank; ++k) {
    out.dims[k] = FastDivmod(static_cast<std::uint32_t>(c.dims[k]));
    out.src_stride[k] = static_cast<std::uint32_t>(c.src_stride[k]);
    out.dst_stride[k] = static_cast<std::uint32_t>(c.dst_stride[k]);
  }
  out.src_offset = static_cast<std::uint32_t>(c.src_offset);
  out.dst_offset = static_cast<std::uint32_t>(c.dst_offset);
  return true;
}

__global__ void copy32_kernel(const Copy32 c, const void* src, ElemType src_type, void* dst,
                              ElemType dst_type, std::uint32_t total) {
  const std::uint32_t first = blockIdx.x * (kThreads * kVec) + threadIdx.x;
  float vals[kVec];
  std::uint32_t to[kVec];
#pragma unroll
  for (int j = 0; j < kVec; ++j) {
    const std::uint32_t e = first + j * kThreads;
    if (e >= total) break;
    std::uint32_t rest = e, s = c.src_offset, d = c.dst_offset;
    for (int k = c.rank - 1; k >= 0; --k) {
      std::uint32_t at = rest;
      if (k > 0) c.dims[k].divmod(rest, rest, at);
      s += at * c.src_stride[k];
      d += at * c.dst_stride[k];
    }
    vals[j] = load_elem(src, src_type, s);
    to[j] = d;
  }
#pragma unroll
  for (int j = 0; j < kVec; ++j) {
    if (first + j * kThreads >= total) break;
    store_elem(dst, dst_type, to[j], vals[j]);
  }
}

// A Copy32 whose innermost dim runs in vectors on both sides (runs_in_vectors, 16-byte aligned
// buffers): a thread copies kJoinVector consecutive elements with one load and one store.
__global__ void copy32_vec_kernel(const Copy32 c, const void* src, ElemType src_type, void* dst,
                                  ElemType dst_type, std::uint32_t total) {
  const std::uint32_t e = (blockIdx.x * kThreads + threadIdx.x) * kJoinVector;
  if (e >= total) return;
  std::uint32_t rest = e, s = c.src_offset, d = c.dst_offset;
  for (int k = c.rank - 1; k >= 0; --k) {
    std::uint32_t at = rest;
    if (k > 0) c.dims[k].divmod(rest, rest, at);
    s += at * c.src_stride[k];
    d += at * c.dst_stride[k];
  }
  float vals[kJoinVector];
  load_vec(src, src_type, s, vals);
  store_vec(dst, dst_type, d, vals);
}

__global__ void copy_kernel(const StridedCopy c, const void* src, ElemType src_type, void* dst,
                            ElemType dst_type, std::int64_t total) {
  const std::int64_t e = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  if (e >= total) return;
  std::int64_t rest = e, s = c.src_offset, d = c.dst_offset;
  for (int k = c.rank - 1; k >= 0; --k) {
    const std::int64_t at = rest % c.dims[k];
    rest /= c.dims[k];
    s += at * c.src_stride[k];
    d += at * c.dst_stride[k];
  }
  store_elem(dst, dst_type, d, load_elem(src, src_type, s));
}

__global__ void aggregate_kernel(const AggregateParams p) {
  const std::int64_t e = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  if (e >= p.elements) return;
  float acc = p.accumulate ? load_elem(p.out, p.type, e) : load_elem(p.part[0], p.type, e);
  for (int k = p.accumulate ? 0 : 1; k < p.count; ++k)
    acc = combine(p.agg, acc, load_elem(p.part[k], p.type, e));
  store_elem(p.out, p.type, e, acc);
}

unsigned grid_for(std::int64_t elements) {
  return static_cast<unsigned>((elements + kThreads - 1) / kThreads);
}

// kGroup 0: the elementwise map kernel; kVector: the vectorised kernels.
template <int kGroup, bool kVector, int kForm = 0>
void launch_form(const JoinLaunch& p, unsigned grid, cudaStream_t stream) {
  if constexpr (kForm < kJoinForms) {
    constexpr JoinForm form = static_cast<JoinForm>(kForm);
    if (static_cast<int>(p.form) != kForm) {
      launch_form<kGroup, kVector, kForm + 1>(p, grid, stream);
    } else if constexpr (kGroup == 0 && kVector) {
      map_vec_kernel<form><<<grid, kThreads, 0, stream>>>(p);
    } else if constexpr (kGroup == 0) {
      map_kernel<form><<<grid, kThreads, 0, stream>>>(p);
    } else if constexpr (kVector) {
      join_vec_kernel<kGroup, form><<<grid, kThreads, 0, stream>>>(p);
    } else {
      join_kernel<kGroup, form><<<grid, kThreads, 0, stream>>>(p);
    }
  }
}

template <bool kVector>
cudaError_t launch_join_as(const JoinLaunch& params, cudaStream_t stream) {
  const std::int64_t threads = static_cast<std::int64_t>(params.out_elements) * params.group;
  if (params.agg == AggKind::kNone) {
    const int per_thread = kVector ? kJoinVector : kVec;
    launch_form<0, kVector>(params, grid_for((threads + per_thread - 1) / per_thread), stream);
    return cudaGetLastError();
  }
  const unsigned grid = grid_for(threads);
  switch (params.group) {
    case 1:
      launch_form<1, kVector>(params, grid, stream);
      break;
    case 32:
      launch_form<32, kVector>(params, grid, stream);
      break;
    case kThreads:
      launch_form<kThreads, kVector>(params, grid, stream);
      break;
    default:
      return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

}  // namespace

cudaError_t launch_wait_for_flag(const volatile int* flag, cudaStream_t stream) {
  wait_for_flag_kernel<<<1, 1, 0, stream>>>(flag);
  return cudaGetLastError();
}

cudaError_t launch_join(const JoinLaunch& params, cudaStream_t stream) {
  if (params.out_elements == 0) return cudaSuccess;
  if (static_cast<int>(params.form) >= kJoinForms) return cudaErrorInvalidValue;
  if (params.vector != 1 && !vector_pointers_aligned(params)) return launch_join_as<false>(params, stream);
  switch (params.vector) {
    case 1:
      return launch_join_as<false>(params, stream);
    case kJoinVector:
      return launch_join_as<true>(params, stream);
    default:
      return cudaErrorInvalidValue;
  }
}

cudaError_t launch_copy(const StridedCopy& copy, const void* src, ElemType src_type, void* dst,
                        ElemType dst_type, cudaStream_t stream) {
  const std::int64_t total = copy.elements();
  if (total == 0) return cudaSuccess;
  Copy32 narrow;
  if (to_copy32(copy, narrow)) {
    const auto aligned = [](const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; };
    if (runs_in_vectors(copy, kJoinVector) && aligned(src) && aligned(dst)) {
      copy32_vec_kernel<<<grid_for(total / kJoinVector), kThreads, 0, stream>>>(
          narrow, src, src_type, dst, dst_type, static_cast<std::uint32_t>(total));
      return cudaGetLastError();
    }
    copy32_kernel<<<grid_for((total + kVec - 1) / kVec), kThreads, 0, stream>>>(
        narrow, src, src_type, dst, dst_type, static_cast<std::uint32_t>(total));
    return cudaGetLastError();
  }
  copy_kernel<<<grid_for(total), kThreads, 0, stream>>>(copy, src, src_type, dst, dst_type, total);
  return cudaGetLastError();
}

cudaError_t launch_aggregate(const AggregateParams& params, cudaStream_t stream) {
  if (params.elements == 0) return cudaSuccess;
  aggregate_kernel<<<grid_for(params.elements), kThreads, 0, stream>>>(params);
  return cudaGetLastError();
}

}  // namespace doppler::hw
