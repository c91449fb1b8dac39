#include "doppler/einsum/einsum_graph.hpp"

#include <algorithm>
#include <cmath>

#include "doppler/error.hpp"

namespace doppler::einsum {
namespace {

std::string quoted_op(const std::string& name) {
  return "op '" + name + "'";
}

void check_dims(const std::string& where, const std::vector<std::int64_t>& dims) {
  for (std::size_t d = 0; d < dims.size(); ++d) {
    if (dims[d] <= 0) {
      throw Error(where + ": dim " + std::to_string(d) + " is " + std::to_string(dims[d]) +
                  " (must be positive)");
    }
  }
}

std::string dims_text(const std::vector<std::int64_t>& dims) {
  std::string text = "[";
  for (std::size_t d = 0; d < dims.size(); ++d) text += (d ? ", " : "") + std::to_string(dims[d]);
  return text + "]";
}

std::int64_t product(const std::vector<std::int64_t>& dims, std::size_t count) {
  std::int64_t n = 1;
  for (std::size_t d = 0; d < count; ++d) n *= dims[d];
  return n;
}

std::vector<std::vector<std::int64_t>> dims_of_inputs(const std::vector<Tensor>& tensors,
                                                      const std::vector<TensorId>& inputs,
                                                      const std::string& where) {
  std::vector<std::vector<std::int64_t>> dims;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i] >= tensors.size()) {
      throw Error(where + ": input " + std::to_string(i) + " is tensor id " + std::to_string(inputs[i]) +
                  ", which does not exist");
    }
    dims.push_back(tensors[inputs[i]].dims);
  }
  return dims;
}

// A reshape keeps each shared letter's dim: the same size and the same element count before it.
void check_reshape(const EinsumOp& op, IndexSizes& sizes, const std::vector<std::int64_t>& in_dims,
                   const std::vector<std::int64_t>& out_dims, const std::string& where) {
  const std::string& in = op.spec.inputs[0];
  const std::string& out = op.spec.output;
  if (out_dims.size() != out.size()) {
    throw Error(where + ": reshape '" + op.spec.to_string() + "' has " + std::to_string(out.size()) +
                " output letters but " + std::to_string(out_dims.size()) + " output dims");
  }
  check_dims(where + " output", out_dims);
  const std::int64_t n_in = product(in_dims, in_dims.size()), n_out = product(out_dims, out_dims.size());
  if (n_in != n_out) {
    throw Error(where + ": reshape of " + dims_text(in_dims) + " (" + std::to_string(n_in) +
                " elements) into " + dims_text(out_dims) + " (" + std::to_string(n_out) + " elements)");
  }
  for (std::size_t d = 0; d < out.size(); ++d) {
    const std::size_t pos = in.find(out[d]);
    const std::string index = "index " + std::string(1, out[d]);
    if (pos == std::string::npos) {
      index_size(sizes, out[d]) = out_dims[d];
    } else if (in_dims[pos] != out_dims[d]) {
      throw Error(where + ": reshape keeps " + index + " but its size changes from " +
                  std::to_string(in_dims[pos]) + " to " + std::to_string(out_dims[d]));
    } else if (product(in_dims, pos) != product(out_dims, d)) {
      throw Error(where + ": reshape keeps " + index + " but not as the same dim (" +
                  std::to_string(product(in_dims, pos)) + " elements before it in the input, " +
                  std::to_string(product(out_dims, d)) + " in the output)");
    }
  }
}

// The axis of a slice or concat: the one output letter absent from every input. Every other
// position keeps its letter in every input; an input's axis letter is absent from the output.
int structural_axis(const EinsumOp& op, const std::string& where) {
  const EinsumSpec& spec = op.spec;
  const std::string what = where + ": " + std::string(op_kind_name(op.kind)) + " '" + spec.to_string() + "'";
  int axis = -1;
  for (std::size_t d = 0; d < spec.output.size(); ++d) {
    bool found = false;
    for (const std::string& in : spec.inputs) found = found || in.find(spec.output[d]) != std::string::npos;
    if (found) continue;
    if (axis >= 0) throw Error(what + " has more than one output letter absent from the inputs");
    axis = static_cast<int>(d);
  }
  if (axis < 0) throw Error(what + " has no output letter absent from the inputs (the axis)");
  const auto a = static_cast<std::size_t>(axis);
  for (std::size_t k = 0; k < spec.inputs.size(); ++k) {
    const std::string& in = spec.inputs[k];
    bool same = in.size() == spec.output.size() && spec.output.find(in[a]) == std::string::npos;
    for (std::size_t d = 0; same && d < in.size(); ++d) same = d == a || in[d] == spec.output[d];
    if (!same) {
      throw Error(what + ": input " + std::to_string(k) + " must have the output's letters except at axis " +
                  std::to_string(axis));
    }
  }
  return axis;
}

// Checks a structural op against its inputs' dims (and a reshape's output dims), sets its axis and
// returns every index size.
IndexSizes structural_sizes(EinsumOp& op, const std::vector<std::vector<std::int64_t>>& input_dims,
                            const std::vector<std::int64_t>& output_dims, const std::string& where) {
  try {
    op.spec.validate_indices();
  } catch (const Error& e) {
    throw Error(where + ": " + e.what());
  }
  const std::string kind(op_kind_name(op.kind));
  const bool single = op.kind != OpKind::kConcat;
  if (op.inputs.empty() || (single && op.inputs.size() != 1)) {
    throw Error(where + ": " + kind + " takes " + (single ? "1 input" : "at least 1 input") + ", got " +
                std::to_string(op.inputs.size()));
  }
  IndexSizes sizes = infer_index_sizes(op.spec, input_dims, where);
  if (op.kind == OpKind::kReshape) {
    op.axis = -1;
    check_reshape(op, sizes, input_dims[0], output_dims, where);
    return sizes;
  }
  op.axis = structural_axis(op, where);
  const auto a = static_cast<std::size_t>(op.axis);
  std::int64_t& out_size = index_size(sizes, op.spec.output[a]);
  if (op.kind == OpKind::kSlice) {
    const std::int64_t n = input_dims[0][a];
    if (op.begin < 0 || op.begin >= op.end || op.end > n) {
      throw Error(where + ": slice [" + std::to_string(op.begin) + ", " + std::to_string(op.end) +
                  ") is out of range for axis " + std::to_string(op.axis) + " of size " + std::to_string(n));
    }
    out_size = op.end - op.begin;
  } else {
    out_size = 0;
    for (const auto& dims : input_dims) out_size += dims[a];
  }
  return sizes;
}

// Checks a row op against its inputs' dims (einsum_graph.hpp) and returns every index size.
IndexSizes row_op_sizes(const EinsumOp& op, const std::vector<std::vector<std::int64_t>>& input_dims,
                        const std::string& where) {
  try {
    op.spec.validate_indices();
  } catch (const Error& e) {
    throw Error(where + ": " + e.what());
  }
  const std::string kind(op_kind_name(op.kind));
  const std::size_t want = op.kind == OpKind::kSoftmax ? 1 : op.kind == OpKind::kRmsNorm ? 2 : 3;
  const std::string what = where + ": " + kind + " '" + op.spec.to_string() + "'";
  if (op.inputs.size() != want || op.spec.inputs.size() != want) {
    throw Error(what + " takes " + std::to_string(want) + (want == 1 ? " input" : " inputs") + ", got " +
                std::to_string(op.inputs.size()));
  }
  const std::string& out = op.spec.output;
  if (op.spec.inputs[0] != out) throw Error(what + ": input 0 must have the output's letters");
  if (op.axis < 0 || op.axis >= static_cast<int>(out.size())) {
    throw Error(what + ": axis " + std::to_string(op.axis) + " is out of range for " +
                std::to_string(out.size()) + " dims");
  }
  const char a = out[static_cast<std::size_t>(op.axis)];
  if (op.kind == OpKind::kRmsNorm && op.spec.inputs[1] != std::string(1, a))
    throw Error(what + ": the weight (input 1) must have the axis letter '" + std::string(1, a) + "' only");
  if (op.kind == OpKind::kRotary) {
    const std::string& table = op.spec.inputs[1];
    if (op.spec.inputs[2] != table || table.size() != 2 || table[1] != a || table[0] == a ||
        out.find(table[0]) == std::string::npos) {
      throw Error(what + ": the tables (inputs 1 and 2) must have letters [seq, '" + std::string(1, a) +
                  "'], seq another output letter");
    }
  }
  if (!std::isfinite(op.param) || (op.kind == OpKind::kRmsNorm && op.param < 0))
    throw Error(what + ": bad " + (op.kind == OpKind::kRmsNorm ? "eps " : "scale ") +
                std::to_string(op.param));
  IndexSizes sizes = infer_index_sizes(op.spec, input_dims, where);
  if (op.kind == OpKind::kRotary && index_size(sizes, a) % 2 != 0)
    throw Error(what + ": head dim " + std::to_string(index_size(sizes, a)) + " is odd");
  return sizes;
}

EinsumSpec indices_of(const std::string& name, std::string_view text) {
  try {
    return parse_indices(text);
  } catch (const Error& e) {
    throw Error(quoted_op(name) + ": " + e.what());
  }
}

}  // namespace

int row_op_cost(OpKind kind) {
  switch (kind) {
    case OpKind::kSoftmax:
      return 5;
    case OpKind::kRmsNorm:
      return 4;
    case OpKind::kRotary:
      return 3;
    default:
      return 0;
  }
}

int dtype_bytes(DType dtype) {
  return dtype == DType::kF32 ? 4 : 2;
}

std::string_view dtype_name(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return "f32";
    case DType::kF16:
      return "f16";
    case DType::kBF16:
      return "bf16";
  }
  return "f32";
}

DType parse_dtype(std::string_view name) {
  for (const DType d : {DType::kF32, DType::kF16, DType::kBF16}) {
    if (dtype_name(d) == name) return d;
  }
  throw Error("unknown dtype '" + std::string(name) + "' (expected f32, f16 or bf16)");
}

std::string_view tensor_kind_name(TensorKind kind) {
  switch (kind) {
    case TensorKind::kInput:
      return "input";
    case TensorKind::kParameter:
      return "parameter";
    case TensorKind::kIntermediate:
      return "intermediate";
    case TensorKind::kOutput:
      return "output";
  }
  return "input";
}

std::int64_t Tensor::elements() const {
  std::int64_t n = 1;
  for (const std::int64_t d : dims) n *= d;
  return n;
}

TensorId EinsumGraph::add_tensor(Tensor tensor) {
  if (tensor.name.empty()) throw Error("einsum graph: empty tensor name");
  if (by_name_.count(tensor.name)) throw Error("einsum graph: tensor '" + tensor.name + "' already exists");
  check_dims("tensor '" + tensor.name + "'", tensor.dims);
  const auto id = static_cast<TensorId>(tensors_.size());
  by_name_.emplace(tensor.name, id);
  tensors_.push_back(std::move(tensor));
  return id;
}

TensorId EinsumGraph::add_input(const std::string& name, std::vector<std::int64_t> dims, DType dtype) {
  return add_tensor(Tensor{name, std::move(dims), dtype, TensorKind::kInput, kNoProducer});
}

TensorId EinsumGraph::add_parameter(const std::string& name, std::vector<std::int64_t> dims, DType dtype,
                                    double init_scale) {
  if (!(init_scale > 0) || !std::isfinite(init_scale))
    throw Error("einsum graph: parameter '" + name + "': init_scale must be a positive number");
  return add_tensor(Tensor{name, std::move(dims), dtype, TensorKind::kParameter, kNoProducer, init_scale});
}

TensorId EinsumGraph::add_source_like(const Tensor& source) {
  if (source.kind == TensorKind::kInput) return add_input(source.name, source.dims, source.dtype);
  if (source.kind == TensorKind::kParameter)
    return add_parameter(source.name, source.dims, source.dtype, source.init_scale);
  throw Error("einsum graph: tensor '" + source.name + "' is produced by an op, not an input or parameter");
}

TensorId EinsumGraph::add_einsum(const std::string& name, const EinsumSpec& spec,
                                 const std::vector<TensorId>& inputs, std::vector<std::int64_t> output_dims) {
  DType dtype = DType::kF32;
  if (!inputs.empty() && inputs[0] < tensors_.size()) dtype = tensors_[inputs[0]].dtype;
  return add_einsum_as(name, spec, inputs, dtype, std::move(output_dims));
}

TensorId EinsumGraph::add_einsum(const std::string& name, std::string_view spec_text,
                                 const std::vector<TensorId>& inputs, std::vector<std::int64_t> output_dims) {
  EinsumSpec spec;
  try {
    spec = parse_einsum(spec_text);
  } catch (const Error& e) {
    throw Error(quoted_op(name) + ": " + e.what());
  }
  return add_einsum(name, spec, inputs, std::move(output_dims));
}

TensorId EinsumGraph::add_einsum_as(const std::string& name, const EinsumSpec& spec,
                                    const std::vector<TensorId>& inputs, DType dtype,
                                    std::vector<std::int64_t> output_dims) {
  const std::string where = quoted_op(name);
  try {
    spec.validate();
  } catch (const Error& e) {
    throw Error(where + ": " + e.what());
  }
  const std::vector<std::vector<std::int64_t>> input_dims = dims_of_inputs(tensors_, inputs, where);
  IndexSizes sizes = infer_index_sizes(spec, input_dims, where);
  if (spec.inputs.empty()) {
    if (output_dims.size() != spec.output.size()) {
      throw Error(where + ": a fill '" + spec.to_string() + "' needs " + std::to_string(spec.output.size()) +
                  " output dims, got " + std::to_string(output_dims.size()));
    }
    check_dims(where + " output", output_dims);
    for (std::size_t d = 0; d < output_dims.size(); ++d) index_size(sizes, spec.output[d]) = output_dims[d];
  } else if (!output_dims.empty()) {
    throw Error(where + ": output dims are inferred from the inputs; give them only for a fill");
  }
  const auto op_id = static_cast<EinsumOpId>(ops_.size());
  const TensorId out =
      add_tensor(Tensor{name, dims_of(spec.output, sizes), dtype, TensorKind::kIntermediate, op_id});
  ops_.push_back(EinsumOp{name, spec, inputs, out, sizes});
  return out;
}

TensorId EinsumGraph::add_structural(EinsumOp op, DType dtype, const std::vector<std::int64_t>& output_dims) {
  const std::string where = quoted_op(op.name);
  op.sizes = structural_sizes(op, dims_of_inputs(tensors_, op.inputs, where), output_dims, where);
  const auto op_id = static_cast<EinsumOpId>(ops_.size());
  op.output =
      add_tensor(Tensor{op.name, dims_of(op.spec.output, op.sizes), dtype, TensorKind::kIntermediate, op_id});
  ops_.push_back(std::move(op));
  return ops_.back().output;
}

TensorId EinsumGraph::add_checked_row_op(EinsumOp op, DType dtype) {
  const std::string where = quoted_op(op.name);
  op.sizes = row_op_sizes(op, dims_of_inputs(tensors_, op.inputs, where), where);
  const auto op_id = static_cast<EinsumOpId>(ops_.size());
  op.output =
      add_tensor(Tensor{op.name, dims_of(op.spec.output, op.sizes), dtype, TensorKind::kIntermediate, op_id});
  ops_.push_back(std::move(op));
  return ops_.back().output;
}

TensorId EinsumGraph::add_row_op(const std::string& name, OpKind kind, std::string_view indices,
                                 const std::vector<TensorId>& inputs, int axis, double param) {
  EinsumOp op{name, indices_of(name, indices), inputs, 0, {}, kind, axis, 0, 0, param};
  if (!op.is_row_op())
    throw Error(quoted_op(name) + ": " + std::string(op_kind_name(kind)) + " is not a row op");
  const DType dtype =
      !inputs.empty() && inputs[0] < tensors_.size() ? tensors_[inputs[0]].dtype : DType::kF32;
  return add_checked_row_op(std::move(op), dtype);
}

TensorId EinsumGraph::add_reshape(const std::string& name, std::string_view indices, TensorId x,
                                  std::vector<std::int64_t> output_dims) {
  EinsumOp op{name, indices_of(name, indices), {x}, 0, {}, OpKind::kReshape};
  return add_op_as(op, {x}, x < tensors_.size() ? tensors_[x].dtype : DType::kF32, std::move(output_dims));
}

TensorId EinsumGraph::add_slice(const std::string& name, std::string_view indices, TensorId x,
                                std::int64_t begin, std::int64_t end) {
  EinsumOp op{name, indices_of(name, indices), {x}, 0, {}, OpKind::kSlice, -1, begin, end};
  return add_op_as(op, {x}, x < tensors_.size() ? tensors_[x].dtype : DType::kF32);
}

TensorId EinsumGraph::add_concat(const std::string& name, std::string_view indices,
                                 const std::vector<TensorId>& inputs) {
  EinsumOp op{name, indices_of(name, indices), inputs, 0, {}, OpKind::kConcat};
  const DType dtype =
      !inputs.empty() && inputs[0] < tensors_.size() ? tensors_[inputs[0]].dtype : DType::kF32;
  return add_op_as(op, inputs, dtype);
}

TensorId EinsumGraph::add_op_as(const EinsumOp& like, const std::vector<TensorId>& inputs, DType dtype,
                                std::vector<std::int64_t> output_dims) {
  if (like.is_einsum()) {
    if (!like.spec.inputs.empty()) output_dims.clear();
    return add_einsum_as(like.name, like.spec, inputs, dtype, std::move(output_dims));
  }
  if (like.is_row_op())
    return add_checked_row_op(
        EinsumOp{like.name, like.spec, inputs, 0, {}, like.kind, like.axis, 0, 0, like.param}, dtype);
  EinsumOp op{like.name, like.spec, inputs, 0, {}, like.kind, -1, like.begin, like.end};
  if (like.kind != OpKind::kReshape) output_dims.clear();
  return add_structural(std::move(op), dtype, output_dims);
}

void EinsumGraph::mark_output(TensorId id) {
  if (id >= tensors_.size())
    throw Error("einsum graph: mark_output of unknown tensor id " + std::to_string(id));
  Tensor& t = tensors_[id];
  if (t.producer == kNoProducer) {
    throw Error("tensor '" + t.name + "' is " + std::string(tensor_kind_name(t.kind)) +
                "; only op results can be outputs");
  }
  t.kind = TensorKind::kOutput;
}

TensorId EinsumGraph::find_tensor(std::string_view name) const {
  const auto it = by_name_.find(std::string(name));
  if (it == by_name_.end()) throw Error("einsum graph: no tensor '" + std::string(name) + "'");
  return it->second;
}

std::vector<EinsumOpId> EinsumGraph::consumers(TensorId id) const {
  std::vector<EinsumOpId> result;
  for (EinsumOpId o = 0; o < ops_.size(); ++o) {
    if (std::find(ops_[o].inputs.begin(), ops_[o].inputs.end(), id) != ops_[o].inputs.end())
      result.push_back(o);
  }
  return result;
}

std::vector<EinsumOpId> EinsumGraph::topological_order() const {
  std::vector<std::uint32_t> pending(ops_.size(), 0);
  std::vector<std::vector<EinsumOpId>> successors(ops_.size());
  for (EinsumOpId o = 0; o < ops_.size(); ++o) {
    for (const TensorId t : ops_[o].inputs) {
      const EinsumOpId p = tensors_[t].producer;
      if (p != kNoProducer) {
        ++pending[o];
        successors[p].push_back(o);
      }
    }
  }
  std::vector<EinsumOpId> order;
  for (EinsumOpId o = 0; o < ops_.size(); ++o) {
    if (pending[o] == 0) order.push_back(o);
  }
  for (std::size_t head = 0; head < order.size(); ++head) {
    for (const EinsumOpId s : successors[order[head]]) {
      if (--pending[s] == 0) order.push_back(s);
    }
  }
  if (order.size() != ops_.size()) throw Error("einsum graph: cycle among ops");
  return order;
}

void EinsumGraph::validate() const {
  for (EinsumOpId o = 0; o < ops_.size(); ++o) {
    const EinsumOp& op = ops_[o];
    const std::string where = quoted_op(op.name);
    if (op.is_einsum()) {
      try {
        op.spec.validate();
      } catch (const Error& e) {
        throw Error(where + ": " + e.what());
      }
    }
    std::vector<std::vector<std::int64_t>> input_dims;
    for (const TensorId t : op.inputs) {
      if (t >= tensors_.size()) throw Error(where + ": unknown input tensor id " + std::to_string(t));
      if (tensors_[t].producer != kNoProducer && tensors_[t].producer >= o) {
        throw Error(where + ": input '" + tensors_[t].name + "' is produced by a later op");
      }
      input_dims.push_back(tensors_[t].dims);
    }
    if (op.output >= tensors_.size() || tensors_[op.output].producer != o) {
      throw Error(where + ": output tensor is not linked to the op");
    }
    EinsumOp checked = op;
    const IndexSizes sizes = op.is_structural()
                                 ? structural_sizes(checked, input_dims, tensors_[op.output].dims, where)
                             : op.is_row_op() ? row_op_sizes(op, input_dims, where)
                                              : infer_index_sizes(op.spec, input_dims, where);
    if (checked.axis != op.axis ||
        (!op.spec.inputs.empty() && dims_of(op.spec.output, sizes) != tensors_[op.output].dims)) {
      throw Error(where + ": output dims do not match the inferred shape");
    }
  }
  topological_order();
}

double EinsumGraph::flops(EinsumOpId id) const {
  const EinsumOp& o = op(id);
  if (o.is_structural()) return 0;
  double n = 1;
  for (const char c : o.spec.all_indices()) n *= static_cast<double>(index_size(o.sizes, c));
  return n * (o.is_row_op() ? row_op_cost(o.kind) : std::max(1, o.spec.join.cost()));
}

double EinsumGraph::bytes_read(EinsumOpId id) const {
  if (op(id).is_structural()) return bytes_written(id);
  double b = 0;
  for (const TensorId t : op(id).inputs) b += tensor(t).bytes();
  return b;
}

}  // namespace doppler::einsum
