#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "kernels.hpp"

namespace doppler::hw {
namespace {

constexpr int kThreads = 256;

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

__global__ void join_kernel(const JoinParams p) {
  const std::int64_t e = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  if (e >= p.out_elements) return;
  std::int64_t base[kMaxJoinInputs] = {};
  std::int64_t rest = e;
  for (int d = p.out_dims - 1; d >= 0; --d) {
    const std::int64_t at = rest % p.size[d];
    rest /= p.size[d];
    for (int k = 0; k < p.inputs; ++k) base[k] += at * p.in_stride[k][d];
  }
  float vals[kMaxJoinInputs];
  if (p.agg == AggKind::kNone) {
    for (int k = 0; k < p.inputs; ++k) vals[k] = load_elem(p.in[k], p.in_type[k], base[k]);
    store_elem(p.out, p.out_type, e, run_join(p.program, vals));
    return;
  }
  float acc = identity(p.agg);
  for (std::int64_t t = 0; t < p.agg_elements; ++t) {
    std::int64_t off[kMaxJoinInputs];
    for (int k = 0; k < p.inputs; ++k) off[k] = base[k];
    std::int64_t r = t;
    for (int d = p.loop_dims - 1; d >= p.out_dims; --d) {
      const std::int64_t at = r % p.size[d];
      r /= p.size[d];
      for (int k = 0; k < p.inputs; ++k) off[k] += at * p.in_stride[k][d];
    }
    for (int k = 0; k < p.inputs; ++k) vals[k] = load_elem(p.in[k], p.in_type[k], off[k]);
    acc = combine(p.agg, acc, run_join(p.program, vals));
  }
  store_elem(p.out, p.out_type, e, acc);
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

}  // namespace

cudaError_t launch_join(const JoinParams& params, cudaStream_t stream) {
  if (params.out_elements == 0) return cudaSuccess;
  join_kernel<<<grid_for(params.out_elements), kThreads, 0, stream>>>(params);
  return cudaGetLastError();
}

cudaError_t launch_copy(const StridedCopy& copy, const void* src, ElemType src_type, void* dst,
                        ElemType dst_type, cudaStream_t stream) {
  const std::int64_t total = copy.elements();
  if (total == 0) return cudaSuccess;
  copy_kernel<<<grid_for(total), kThreads, 0, stream>>>(copy, src, src_type, dst, dst_type, total);
  return cudaGetLastError();
}

cudaError_t launch_aggregate(const AggregateParams& params, cudaStream_t stream) {
  if (params.elements == 0) return cudaSuccess;
  aggregate_kernel<<<grid_for(params.elements), kThreads, 0, stream>>>(params);
  return cudaGetLastError();
}

}  // namespace doppler::hw
