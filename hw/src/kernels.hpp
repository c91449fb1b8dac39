#pragma once
// Contract: the CUDA kernels of the backend, launched asynchronously on a given stream; each
// returns the launch's cudaError_t (the caller checks it and names the task). Elements are f32,
// f16 or bf16 (ElemType); arithmetic is in f32. Parameter structs are passed by value (< 4 KB).
//  join       a JoinLaunch: per output element of a block, the join program over the operands,
//             then the aggregation over the aggregated loop dims (none: a plain elementwise join),
//             by launch.group threads together
//  copy       a StridedCopy between buffers, converting the element type
//  aggregate  out = agg(parts[0..count)) elementwise; with `accumulate`, out is combined in too
#include <cuda_runtime_api.h>

#include <cstdint>

#include "join_launch.hpp"
#include "strided_copy.hpp"

namespace doppler::hw {

inline constexpr int kMaxAggregateParts = 16;

struct AggregateParams {
  const void* part[kMaxAggregateParts] = {};
  int count = 0;
  bool accumulate = false;
  void* out = nullptr;
  ElemType type = ElemType::kF32;
  AggKind agg = AggKind::kSum;
  std::int64_t elements = 0;
};

cudaError_t launch_join(const JoinLaunch& params, cudaStream_t stream);
// One thread that spins until *flag (mapped pinned host memory) is non-zero: holds its stream.
cudaError_t launch_wait_for_flag(const volatile int* flag, cudaStream_t stream);
cudaError_t launch_copy(const StridedCopy& copy, const void* src, ElemType src_type, void* dst,
                        ElemType dst_type, cudaStream_t stream);
cudaError_t launch_aggregate(const AggregateParams& params, cudaStream_t stream);

}  // namespace doppler::hw
