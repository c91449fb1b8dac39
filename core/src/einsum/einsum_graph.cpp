#include "doppler/einsum/einsum_graph.hpp"

#include <algorithm>

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

}  // namespace

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

TensorId EinsumGraph::add_parameter(const std::string& name, std::vector<std::int64_t> dims, DType dtype) {
  return add_tensor(Tensor{name, std::move(dims), dtype, TensorKind::kParameter, kNoProducer});
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
  std::vector<std::vector<std::int64_t>> input_dims;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i] >= tensors_.size()) {
      throw Error(where + ": input " + std::to_string(i) + " is tensor id " + std::to_string(inputs[i]) +
                  ", which does not exist");
    }
    input_dims.push_back(tensors_[inputs[i]].dims);
  }
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
    try {
      op.spec.validate();
    } catch (const Error& e) {
      throw Error(where + ": " + e.what());
    }
    std::vector<std::vector<std::int64_t>> input_dims;
    for (const TensorId t : op.inputs) {
      if (t >= tensors_.size()) throw Error(where + ": unknown input tensor id " + std::to_string(t));
      if (tensors_[t].producer != kNoProducer && tensors_[t].producer >= o) {
        throw Error(where + ": input '" + tensors_[t].name + "' is produced by a later op");
      }
      input_dims.push_back(tensors_[t].dims);
    }
    const IndexSizes sizes = infer_index_sizes(op.spec, input_dims, where);
    if (op.output >= tensors_.size() || tensors_[op.output].producer != o) {
      throw Error(where + ": output tensor is not linked to the op");
    }
    if (!op.spec.inputs.empty() && dims_of(op.spec.output, sizes) != tensors_[op.output].dims) {
      throw Error(where + ": output dims do not match the inferred shape");
    }
  }
  topological_order();
}

double EinsumGraph::flops(EinsumOpId id) const {
  const EinsumOp& o = op(id);
  double n = 1;
  for (const char c : o.spec.all_indices()) n *= static_cast<double>(index_size(o.sizes, c));
  return n * std::max(1, o.spec.join.cost());
}

double EinsumGraph::bytes_read(EinsumOpId id) const {
  double b = 0;
  for (const TensorId t : op(id).inputs) b += tensor(t).bytes();
  return b;
}

}  // namespace doppler::einsum
