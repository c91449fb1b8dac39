#include "task_kernels.hpp"

#include <map>
#include <utility>

#include "cuda_check.hpp"
#include "elements.hpp"

namespace doppler::hw {
namespace {

using einsum::index_size;
using einsum::IndexSizes;
using einsum::Range;

constexpr std::size_t kWorkspaceAlign = 256;

AggKind agg_kind(einsum::Agg agg) {
  switch (agg) {
    case einsum::Agg::kMax:
      return AggKind::kMax;
    case einsum::Agg::kMin:
      return AggKind::kMin;
    case einsum::Agg::kProd:
      return AggKind::kProd;
    case einsum::Agg::kSum:
      break;
  }
  return AggKind::kSum;
}

// Sizes of the op's letters in one join block (ranges follow all_indices()).
IndexSizes block_sizes(const einsum::EinsumOp& op, const einsum::TaskInfo& info) {
  IndexSizes sizes{};
  const std::string all = op.spec.all_indices();
  for (std::size_t d = 0; d < all.size(); ++d) index_size(sizes, all[d]) = info.ranges[d].size();
  return sizes;
}

std::vector<std::int64_t> dims_of(const std::string& letters, const IndexSizes& sizes) {
  std::vector<std::int64_t> dims;
  for (const char c : letters) dims.push_back(index_size(sizes, c));
  return dims;
}

std::int64_t product(const std::vector<std::int64_t>& dims) {
  std::int64_t n = 1;
  for (const std::int64_t d : dims) n *= d;
  return n;
}

JoinParams generic_join(const einsum::EinsumOp& op, const IndexSizes& sizes) {
  const std::string loop = op.spec.all_indices();
  const std::string where = "op '" + op.name + "'";
  if (loop.size() > static_cast<std::size_t>(kMaxLoopDims) || op.spec.inputs.size() > kMaxJoinInputs) {
    throw Error("hw: " + where + ": the join kernel takes at most " + std::to_string(kMaxLoopDims) +
                " indices and " + std::to_string(kMaxJoinInputs) + " inputs");
  }
  JoinParams p;
  p.out_dims = static_cast<int>(op.spec.output.size());
  p.loop_dims = static_cast<int>(loop.size());
  for (std::size_t d = 0; d < loop.size(); ++d) p.size[d] = index_size(sizes, loop[d]);
  p.inputs = static_cast<int>(op.spec.inputs.size());
  for (std::size_t k = 0; k < op.spec.inputs.size(); ++k) {
    const std::string& operand = op.spec.inputs[k];
    std::int64_t stride = 1;
    for (std::size_t d = operand.size(); d-- > 0;) {
      p.in_stride[k][loop.find(operand[d])] = stride;
      stride *= index_size(sizes, operand[d]);
    }
  }
  p.agg = op.spec.aggregated_indices().empty() ? AggKind::kNone : agg_kind(op.spec.agg);
  for (int d = 0; d < p.loop_dims; ++d) (d < p.out_dims ? p.out_elements : p.agg_elements) *= p.size[d];
  p.program = compile_join(op.spec.join, where);
  return p;
}

}  // namespace

TaskKernels::TaskKernels(const einsum::EinsumGraph& graph, const einsum::LoweredGraph& lowered,
                         bool use_cublas)
    : graph_(graph), lowered_(lowered), tasks_(lowered.tasks.size()) {
  std::map<std::pair<einsum::EinsumOpId, std::vector<std::int64_t>>, std::pair<Kind, std::size_t>> shared;
  for (OpId id = 0; id < lowered.tasks.size(); ++id) {
    const einsum::TaskInfo& info = lowered.tasks[id];
    const einsum::Tensor& tensor = graph.tensor(info.tensor);
    Task& task = tasks_[id];
    task.type = elem_type(tensor.dtype);
    std::int64_t elements = einsum::elements_of(info.ranges);
    switch (info.role) {
      case einsum::TaskRole::kLoad:
        task.kind = Kind::kLoad;
        break;
      case einsum::TaskRole::kAggregate:
        task.kind = Kind::kAggregate;
        task.count = static_cast<std::size_t>(elements);
        task.agg = graph.op(info.op).spec.agg;
        break;
      case einsum::TaskRole::kRepartition:
        task.kind = Kind::kCopies;
        task.index = copies_.size();
        for (std::size_t k = 0; k < info.inputs.size(); ++k) {
          const einsum::TaskInfo& from = lowered.tasks[info.inputs[k]];
          if (auto copy = box_copy(from.ranges, info.ranges))
            copies_.push_back({*copy, k, elem_type(graph.tensor(from.tensor).dtype)});
        }
        task.count = copies_.size() - task.index;
        break;
      case einsum::TaskRole::kJoin: {
        const einsum::EinsumOp& op = graph.op(info.op);
        elements = product(dims_of(op.spec.output, block_sizes(op, info)));
        if (op.is_structural()) {
          prepare_structural(info, task);
          break;
        }
        if (op.is_row_op()) {
          prepare_row(info, task);
          break;
        }
        std::vector<std::int64_t> key;
        for (const Range& r : info.ranges) key.push_back(r.size());
        const auto found = shared.find({info.op, key});
        if (found != shared.end()) {
          task.kind = found->second.first;
          task.index = found->second.second;
          break;
        }
        prepare_join(id, info, use_cublas);
        shared[{info.op, key}] = {task.kind, task.index};
        break;
      }
    }
    task.output_bytes = static_cast<std::size_t>(elements) * elem_bytes(task.type);
  }
}

void TaskKernels::prepare_join(OpId id, const einsum::TaskInfo& info, bool use_cublas) {
  const einsum::EinsumOp& op = graph_.op(info.op);
  const IndexSizes sizes = block_sizes(op, info);
  Task& task = tasks_[id];
  bool same_types = true;
  for (const einsum::TensorId t : op.inputs)
    same_types = same_types && graph_.tensor(t).dtype == graph_.tensor(op.output).dtype;
  if (use_cublas && same_types) {
    if (auto gemm = map_to_gemm(op.spec, sizes)) {
      task.kind = Kind::kGemm;
      task.index = gemms_.size();
      gemms_.push_back(*gemm);
      return;
    }
  }
  task.kind = Kind::kJoin;
  task.index = joins_.size();
  JoinParams params = generic_join(op, sizes);
  for (std::size_t k = 0; k < op.inputs.size(); ++k)
    params.in_type[k] = elem_type(graph_.tensor(op.inputs[k]).dtype);
  params.out_type = task.type;
  joins_.push_back(make_join_launch(params, "op '" + op.name + "'"));
}

void TaskKernels::prepare_structural(const einsum::TaskInfo& info, Task& task) {
  const einsum::EinsumOp& op = graph_.op(info.op);
  const IndexSizes sizes = block_sizes(op, info);
  task.kind = Kind::kCopies;
  task.index = copies_.size();
  const std::vector<std::int64_t> out_dims = dims_of(op.spec.output, sizes);
  const std::vector<std::int64_t> out_strides = row_major_strides(out_dims);
  const ElemType src_type = elem_type(graph_.tensor(op.inputs[0]).dtype);
  if (op.kind == einsum::OpKind::kReshape) {
    const std::int64_t n = product(out_dims);
    const std::int64_t one = 1;
    copies_.push_back({make_copy(std::span(&n, 1), std::span(&one, 1), std::span(&one, 1)), 0, src_type});
  } else if (op.kind == einsum::OpKind::kSlice) {
    const std::vector<std::int64_t> in_strides = row_major_strides(dims_of(op.spec.inputs[0], sizes));
    const auto axis = static_cast<std::size_t>(op.axis);
    copies_.push_back(
        {make_copy(out_dims, in_strides, out_strides, op.begin * in_strides[axis]), 0, src_type});
  } else {
    const auto axis = static_cast<std::size_t>(op.axis);
    std::int64_t at = 0;
    for (std::size_t k = 0; k < op.inputs.size(); ++k) {
      const std::vector<std::int64_t> in_dims = dims_of(op.spec.inputs[k], sizes);
      copies_.push_back(
          {make_copy(in_dims, row_major_strides(in_dims), out_strides, 0, at * out_strides[axis]), k,
           elem_type(graph_.tensor(op.inputs[k]).dtype)});
      at += in_dims[axis];
    }
  }
  task.count = copies_.size() - task.index;
}

void TaskKernels::prepare_row(const einsum::TaskInfo& info, Task& task) {
  const einsum::EinsumOp& op = graph_.op(info.op);
  const std::vector<std::int64_t> dims = dims_of(op.spec.output, block_sizes(op, info));
  const auto axis = static_cast<std::size_t>(op.axis);
  RowParams p;
  p.kind = op.kind == einsum::OpKind::kSoftmax   ? RowKind::kSoftmax
           : op.kind == einsum::OpKind::kRmsNorm ? RowKind::kRmsNorm
                                                 : RowKind::kRotary;
  p.n = dims[axis];
  for (std::size_t d = 0; d < dims.size(); ++d) {
    if (d < axis) p.outer *= dims[d];
    if (d > axis) p.inner *= dims[d];
  }
  p.param = static_cast<float>(op.param);
  if (p.kind == RowKind::kRotary) {
    const std::size_t seq = op.spec.output.find(op.spec.inputs[1][0]);
    p.seq_count = dims[seq];
    for (std::size_t d = seq + 1; d < dims.size(); ++d) p.seq_stride *= dims[d];
  }
  p.x_type = elem_type(graph_.tensor(op.inputs[0]).dtype);
  if (op.inputs.size() > 1) p.aux0_type = elem_type(graph_.tensor(op.inputs[1]).dtype);
  if (op.inputs.size() > 2) p.aux1_type = elem_type(graph_.tensor(op.inputs[2]).dtype);
  p.out_type = task.type;
  task.kind = Kind::kRow;
  task.index = rows_.size();
  rows_.push_back(p);
}

std::size_t TaskKernels::workspace_bytes(OpId task) const {
  const Task& t = tasks_[task];
  if (t.kind != Kind::kGemm) return 0;
  const std::size_t bytes = static_cast<std::size_t>(gemms_[t.index].workspace_elements) * elem_bytes(t.type);
  return (bytes + kWorkspaceAlign - 1) / kWorkspaceAlign * kWorkspaceAlign;
}

void TaskKernels::launch(OpId id, std::span<const void* const> inputs, void* out,
                         const LaunchContext& ctx) const {
  const Task& task = tasks_[id];
  const std::string& name = lowered_.graph.op(id).name;
  const Where where{"task", name, ctx.device};
  switch (task.kind) {
    case Kind::kLoad:
      fail(where, "launch", "a load task has no kernel");
    case Kind::kJoin: {
      JoinLaunch p = joins_[task.index];
      for (int k = 0; k < p.inputs; ++k) p.in[k] = inputs[static_cast<std::size_t>(k)];
      p.out = out;
      check(launch_join(p, ctx.stream), where, "join kernel");
      return;
    }
    case Kind::kGemm:
      launch_gemm(task, inputs, out, ctx, name);
      return;
    case Kind::kAggregate: {
      AggregateParams p;
      p.out = out;
      p.type = task.type;
      p.agg = agg_kind(task.agg);
      p.elements = static_cast<std::int64_t>(task.count);
      for (std::size_t first = 0; first < inputs.size();) {
        p.accumulate = first > 0;
        p.count = 0;
        for (; first < inputs.size() && p.count < kMaxAggregateParts; ++first)
          p.part[p.count++] = inputs[first];
        check(launch_aggregate(p, ctx.stream), where, "aggregate kernel");
      }
      return;
    }
    case Kind::kRow: {
      RowParams p = rows_[task.index];
      p.x = inputs[0];
      if (inputs.size() > 1) p.aux0 = inputs[1];
      if (inputs.size() > 2) p.aux1 = inputs[2];
      p.out = out;
      const std::string kernel(einsum::op_kind_name(graph_.op(lowered_.tasks[id].op).kind));
      check(launch_row(p, ctx.stream), where, kernel + " kernel");
      return;
    }
    case Kind::kCopies:
      for (std::size_t c = task.index; c < task.index + task.count; ++c) {
        const CopySpec& spec = copies_[c];
        check(launch_copy(spec.copy, inputs[spec.input], spec.src_type, out, task.type, ctx.stream), where,
              "copy kernel");
      }
      return;
  }
}

void TaskKernels::launch_gemm(const Task& task, std::span<const void* const> inputs, void* out,
                              const LaunchContext& ctx, const std::string& name) const {
  const Where where{"task", name, ctx.device};
  const GemmMapping& g = gemms_[task.index];
  const std::size_t esize = elem_bytes(task.type);
  const void* operand[2] = {inputs[0], inputs[1]};
  for (int i = 0; i < 2; ++i) {
    const GemmOperand& op = g.operand[i];
    if (!op.permute) continue;
    std::byte* to = ctx.workspace + static_cast<std::size_t>(op.workspace_offset) * esize;
    check(launch_copy(*op.permute, operand[i], task.type, to, task.type, ctx.stream), where,
          "permute kernel");
    operand[i] = to;
  }
  void* result = g.unpermute ? ctx.workspace + static_cast<std::size_t>(g.result_offset) * esize : out;
  const cudaDataType_t type = task.type == ElemType::kF32   ? CUDA_R_32F
                              : task.type == ElemType::kF16 ? CUDA_R_16F
                                                            : CUDA_R_16BF;
  const float alpha = 1.0f, beta = 0.0f;
  const auto i32 = [](std::int64_t v) { return static_cast<int>(v); };
  check(cublasGemmStridedBatchedEx(ctx.blas, g.transpose_x() ? CUBLAS_OP_T : CUBLAS_OP_N,
                                   g.transpose_y() ? CUBLAS_OP_T : CUBLAS_OP_N, i32(g.rows), i32(g.cols),
                                   i32(g.k), &alpha, operand[g.x_operand], type, i32(g.ldx()), g.rows * g.k,
                                   operand[1 - g.x_operand], type, i32(g.ldy()), g.cols * g.k, &beta, result,
                                   type, i32(g.rows), g.rows * g.cols, i32(g.batch), CUBLAS_COMPUTE_32F,
                                   CUBLAS_GEMM_DEFAULT),
        where, "cublasGemmStridedBatchedEx");
  if (g.unpermute) {
    check(launch_copy(*g.unpermute, result, task.type, out, task.type, ctx.stream), where,
          "unpermute kernel");
  }
}

}  // namespace doppler::hw
