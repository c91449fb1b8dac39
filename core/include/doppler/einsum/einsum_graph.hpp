#pragma once
// Contract: a graph of named tensors and einsum ops. Tensors are inputs, parameters (both given
// from outside), intermediates (produced by an op) or outputs (produced, marked by mark_output).
// Every op produces exactly one new tensor of the same name; ops can only consume tensors that
// already exist, so op ids are a topological order. Shapes are inferred from the inputs' dims per
// index letter; bad input throws doppler::Error naming the op or tensor. Owns its data; a value type.
// STRUCTURAL ops (reshape, slice, concat) are ops too, with index letters: a letter shared by the
// output and every input names the same dim (same size; a partition may split it); a letter on one
// side only (the sliced or concatenated axis, the axes a reshape merges or splits) must stay whole.
// They do no arithmetic: zero flops, bytes read = bytes written = the output's bytes.
// ROW ops are fused kernels, each output row along `axis` computed from the input rows along it;
// input 0 has the output's letters, `param` is a number of the kind:
//   softmax  "X->X"         softmax along the axis of (param * x); param = the scale
//   rms_norm "X,a->X"       x * rsqrt(mean along the axis of x^2 + param) * w; w [axis], param = eps
//   rotary   "X,sa,sa->X"   x * cos + rotate_half(x) * sin along the head axis a (even size), with
//                           the tables cos, sin [seq, head], s another letter of X; rotate_half(x) =
//                           (-x[d/2:], x[:d/2]). param unused.
// The axis letter must stay whole in a partition; the others may split. flops = output elements
// x row_op_cost(kind); bytes read = the inputs' bytes.
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "doppler/einsum/einsum_op.hpp"

namespace doppler::einsum {

using TensorId = std::uint32_t;
using EinsumOpId = std::uint32_t;
inline constexpr EinsumOpId kNoProducer = static_cast<EinsumOpId>(-1);

enum class DType { kF32, kF16, kBF16 };
int dtype_bytes(DType dtype);
std::string_view dtype_name(DType dtype);  // "f32", "f16", "bf16"
DType parse_dtype(std::string_view name);  // throws on an unknown name

enum class TensorKind { kInput, kParameter, kIntermediate, kOutput };
std::string_view tensor_kind_name(TensorKind kind);

struct Tensor {
  std::string name;
  std::vector<std::int64_t> dims;  // row-major, in the order of the producing op's output indices
  DType dtype = DType::kF32;
  TensorKind kind = TensorKind::kInput;
  EinsumOpId producer = kNoProducer;
  // Seeded reference values (no producer) are uniform in [low, high) times this; workloads give
  // weights 1/sqrt(fan-in), as common initialisations do, so that f16/bf16 runs stay well-conditioned.
  double init_scale = 1.0;

  std::int64_t elements() const;
  double bytes() const { return static_cast<double>(elements()) * dtype_bytes(dtype); }
};

struct EinsumOp {
  std::string name;
  EinsumSpec spec;
  std::vector<TensorId> inputs;
  TensorId output = 0;
  IndexSizes sizes{};  // size of every index the op uses
  OpKind kind = OpKind::kEinsum;
  int axis = -1;           // slice, concat, row ops: the axis' position (the same in the output and inputs)
  std::int64_t begin = 0;  // slice: the input's range [begin, end) along the axis
  std::int64_t end = 0;
  double param = 0;  // row ops: softmax's scale, rms_norm's eps

  bool is_structural() const {
    return kind == OpKind::kReshape || kind == OpKind::kSlice || kind == OpKind::kConcat;
  }
  bool is_row_op() const {
    return kind == OpKind::kSoftmax || kind == OpKind::kRmsNorm || kind == OpKind::kRotary;
  }
  bool is_einsum() const { return kind == OpKind::kEinsum; }
};

// Arithmetic per output element of a row op (softmax 5, rms_norm 4, rotary 3); 0 otherwise.
int row_op_cost(OpKind kind);

class EinsumGraph {
 public:
  TensorId add_input(const std::string& name, std::vector<std::int64_t> dims, DType dtype = DType::kF32);
  TensorId add_parameter(const std::string& name, std::vector<std::int64_t> dims, DType dtype = DType::kF32,
                         double init_scale = 1.0);
  // Adds an op and its output tensor `name`; the output's dtype is the first input's (f32 without
  // inputs). `output_dims` is required exactly when the spec has no inputs (a fill).
  TensorId add_einsum(const std::string& name, const EinsumSpec& spec, const std::vector<TensorId>& inputs,
                      std::vector<std::int64_t> output_dims = {});
  TensorId add_einsum(const std::string& name, std::string_view spec_text,
                      const std::vector<TensorId>& inputs, std::vector<std::int64_t> output_dims = {});
  // Same with an explicit output dtype.
  TensorId add_einsum_as(const std::string& name, const EinsumSpec& spec, const std::vector<TensorId>& inputs,
                         DType dtype, std::vector<std::int64_t> output_dims = {});
  // Structural ops; `indices` holds index letters only and the output's dtype is input 0's.
  // reshape "abc->abde": the same elements in row-major order, the output's dims given; a shared
  // letter must be the same dim on both sides (same size, same element count before it).
  TensorId add_reshape(const std::string& name, std::string_view indices, TensorId x,
                       std::vector<std::int64_t> output_dims);
  // slice "abc->abd": output = x[begin, end) along the axis where the letters differ (every other
  // position keeps its letter); needs 0 <= begin < end <= the axis size.
  TensorId add_slice(const std::string& name, std::string_view indices, TensorId x, std::int64_t begin,
                     std::int64_t end);
  // concat "abc,abd->abe": the inputs one after another along the axis where the letters differ.
  TensorId add_concat(const std::string& name, std::string_view indices, const std::vector<TensorId>& inputs);
  // A row op (see above) of `kind` with index letters `indices` ("bnst->bnst"); the output's dtype
  // is input 0's.
  TensorId add_row_op(const std::string& name, OpKind kind, std::string_view indices,
                      const std::vector<TensorId>& inputs, int axis, double param = 0);
  // A copy of `like` (name, kind, spec, slice range, axis and param) reading `inputs`, its output of `dtype`.
  // `output_dims` is used by fills and reshapes (which cannot infer it) and ignored otherwise.
  TensorId add_op_as(const EinsumOp& like, const std::vector<TensorId>& inputs, DType dtype,
                     std::vector<std::int64_t> output_dims = {});
  // An input or parameter like `source` (name, dims, dtype, init scale), e.g. when a pass copies a
  // graph; throws for a tensor that an op produces.
  TensorId add_source_like(const Tensor& source);
  void mark_output(TensorId id);

  std::size_t num_tensors() const { return tensors_.size(); }
  std::size_t num_ops() const { return ops_.size(); }
  const Tensor& tensor(TensorId id) const { return tensors_.at(id); }
  const EinsumOp& op(EinsumOpId id) const { return ops_.at(id); }
  const std::vector<Tensor>& tensors() const { return tensors_; }
  const std::vector<EinsumOp>& ops() const { return ops_; }
  // Throws an Error naming `name` when there is no such tensor.
  TensorId find_tensor(std::string_view name) const;
  bool has_tensor(std::string_view name) const { return by_name_.count(std::string(name)) > 0; }
  // Ops consuming the tensor, in op order.
  std::vector<EinsumOpId> consumers(TensorId id) const;

  // Kahn order of the ops (ids are already topological; kept as the stable API).
  std::vector<EinsumOpId> topological_order() const;
  // Re-checks every op: spec, producer links, shapes. Throws an Error naming the op.
  void validate() const;

  // Product of all index sizes x join cost (at least 1); 0 for a structural op; a row op's above.
  double flops(EinsumOpId id) const;
  // The inputs' bytes; for a structural op, the bytes it copies (= bytes_written).
  double bytes_read(EinsumOpId id) const;
  double bytes_written(EinsumOpId id) const { return tensor(op(id).output).bytes(); }

 private:
  TensorId add_tensor(Tensor tensor);
  // Checks `op` (kind, spec, inputs, slice range set; reshape: `output_dims`), sets its sizes and
  // axis, adds it and its output tensor.
  TensorId add_structural(EinsumOp op, DType dtype, const std::vector<std::int64_t>& output_dims);
  // The same for a row op.
  TensorId add_checked_row_op(EinsumOp op, DType dtype);
  std::vector<Tensor> tensors_;
  std::vector<EinsumOp> ops_;
  std::unordered_map<std::string, TensorId> by_name_;
};

}  // namespace doppler::einsum
