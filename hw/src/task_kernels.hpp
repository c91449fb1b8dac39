#pragma once
// Contract: the GPU work of every non-load task of a lowered graph, prepared once before the run
// (kernel parameters, GEMM mappings, copy descriptors; shared by the join blocks of one op that
// have equal sizes) and enqueued by launch() on a given stream:
//  join         a GEMM mapping (cuBLAS, when enabled and the block maps to one) or the generic
//               join kernel; structural ops (reshape/slice/concat) as strided copies; row ops
//               (softmax, rms_norm, rotary) as their fused row kernel (row_kernels.hpp)
//  aggregate    the aggregate kernel over the k partials, in chunks of kMaxAggregateParts
//  repartition  one strided copy per overlapping producer block
// Load tasks are the executor's (host data). Buffers: `inputs` one per task input (TaskInfo::inputs
// order), `out` the task's output block, `workspace` at least workspace_bytes(task).
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "doppler/einsum/lowering.hpp"
#include "gemm_mapping.hpp"
#include "kernels.hpp"
#include "row_kernels.hpp"

namespace doppler::hw {

struct LaunchContext {
  cudaStream_t stream = nullptr;
  cublasHandle_t blas = nullptr;
  std::byte* workspace = nullptr;
  int device = 0;  // plan device, for messages
};

class TaskKernels {
 public:
  TaskKernels(const einsum::EinsumGraph& graph, const einsum::LoweredGraph& lowered, bool use_cublas);

  std::size_t output_bytes(OpId task) const { return tasks_[task].output_bytes; }
  std::size_t workspace_bytes(OpId task) const;
  ElemType output_type(OpId task) const { return tasks_[task].type; }
  bool is_gemm(OpId task) const { return tasks_[task].kind == Kind::kGemm; }
  bool is_generic_join(OpId task) const { return tasks_[task].kind == Kind::kJoin; }

  void launch(OpId task, std::span<const void* const> inputs, void* out, const LaunchContext& ctx) const;

 private:
  enum class Kind { kLoad, kJoin, kGemm, kAggregate, kCopies, kRow };
  struct CopySpec {
    StridedCopy copy;
    std::size_t input;  // index into the task's inputs
    ElemType src_type;
  };
  struct Task {
    Kind kind = Kind::kLoad;
    ElemType type = ElemType::kF32;
    std::size_t output_bytes = 0;
    std::size_t index = 0;  // kJoin: joins_, kGemm: gemms_, kCopies: first of copies_, kRow: rows_
    std::size_t count = 0;  // kCopies: number of copies; kAggregate: elements
    einsum::Agg agg = einsum::Agg::kSum;
  };

  void prepare_join(OpId id, const einsum::TaskInfo& info, bool use_cublas);
  void prepare_row(const einsum::TaskInfo& info, Task& task);
  void prepare_structural(const einsum::TaskInfo& info, Task& task);
  void launch_gemm(const Task& task, std::span<const void* const> inputs, void* out, const LaunchContext& ctx,
                   const std::string& name) const;

  const einsum::EinsumGraph& graph_;
  const einsum::LoweredGraph& lowered_;
  std::vector<Task> tasks_;
  std::vector<JoinLaunch> joins_;
  std::vector<GemmMapping> gemms_;
  std::vector<CopySpec> copies_;
  std::vector<RowParams> rows_;  // buffers unset
};

}  // namespace doppler::hw
