// einsum_graph_to_yaml(): every op as a plain `einsum` entry, structural and row ops with their
// exact index letters, so any graph can be saved and read back equal.
#include <algorithm>
#include <cctype>
#include <iomanip>
#include <sstream>

#include "doppler/einsum/einsum_yaml.hpp"

namespace doppler::einsum {
namespace {

// A name or text as a YAML scalar: plain when that reads back as the same string, else quoted.
std::string yaml_scalar(const std::string& text) {
  const bool plain = !text.empty() && text != "null" && text != "Null" && text != "NULL" && text != "~" &&
                     (std::isalpha(static_cast<unsigned char>(text[0])) || text[0] == '_') &&
                     std::all_of(text.begin(), text.end(), [](char c) {
                       return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
                     });
  if (plain) return text;
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string dims_text(const std::vector<std::int64_t>& dims) {
  std::string out = "[";
  for (std::size_t d = 0; d < dims.size(); ++d) out += (d ? ", " : "") + std::to_string(dims[d]);
  return out + "]";
}

std::string names_text(const EinsumGraph& graph, const std::vector<TensorId>& tensors) {
  std::string out = "[";
  for (std::size_t i = 0; i < tensors.size(); ++i)
    out += (i ? ", " : "") + yaml_scalar(graph.tensor(tensors[i]).name);
  return out + "]";
}

// A structural op's letters, "abc,abd->abe".
std::string indices_text(const EinsumSpec& spec) {
  std::string out;
  for (const std::string& input : spec.inputs) out += (out.empty() ? "" : ",") + input;
  return out + "->" + spec.output;
}

}  // namespace

std::string einsum_graph_to_yaml(const EinsumGraph& graph, const std::string& name) {
  DType common = DType::kF32;
  for (const Tensor& t : graph.tensors()) {
    if (t.producer == kNoProducer) {
      common = t.dtype;
      break;
    }
  }
  std::ostringstream out;
  out << "einsum_graph: " << yaml_scalar(name) << "\ndtype: " << dtype_name(common) << "\n";
  for (const TensorKind kind : {TensorKind::kInput, TensorKind::kParameter}) {
    out << (kind == TensorKind::kInput ? "inputs:" : "parameters:");
    bool any = false;
    for (const Tensor& t : graph.tensors()) {
      if (t.producer != kNoProducer || t.kind != kind) continue;
      out << "\n  " << yaml_scalar(t.name) << ": ";
      if (t.dtype == common && t.init_scale == 1.0) {
        out << dims_text(t.dims);
      } else {
        out << "{dims: " << dims_text(t.dims);
        if (t.dtype != common) out << ", dtype: " << dtype_name(t.dtype);
        if (t.init_scale != 1.0) out << ", init_scale: " << std::setprecision(17) << t.init_scale;
        out << "}";
      }
      any = true;
    }
    out << (any ? "\n" : " {}\n");
  }
  out << "ops:\n";
  for (const EinsumOp& op : graph.ops()) {
    const Tensor& result = graph.tensor(op.output);
    out << "  - " << yaml_scalar(op.name) << ": {" << op_kind_name(op.kind) << ": ";
    if (op.is_einsum()) {
      out << yaml_scalar(op.spec.to_string());
      if (!op.inputs.empty()) out << ", inputs: " << names_text(graph, op.inputs);
    } else if (op.is_row_op()) {
      out << yaml_scalar(graph.tensor(op.inputs[0]).name);
      if (op.kind == OpKind::kRmsNorm) out << ", weight: " << yaml_scalar(graph.tensor(op.inputs[1]).name);
      if (op.kind == OpKind::kRotary) {
        out << ", cos: " << yaml_scalar(graph.tensor(op.inputs[1]).name)
            << ", sin: " << yaml_scalar(graph.tensor(op.inputs[2]).name);
      }
      out << ", indices: " << yaml_scalar(indices_text(op.spec)) << ", axis: " << op.axis;
      if (op.kind != OpKind::kRotary)
        out << (op.kind == OpKind::kSoftmax ? ", input_scale: " : ", eps: ") << std::setprecision(17)
            << op.param;
    } else {
      out << (op.kind == OpKind::kConcat ? names_text(graph, op.inputs)
                                         : yaml_scalar(graph.tensor(op.inputs[0]).name))
          << ", indices: " << yaml_scalar(indices_text(op.spec));
      if (op.kind == OpKind::kSlice) out << ", begin: " << op.begin << ", end: " << op.end;
    }
    if (op.inputs.empty() || op.kind == OpKind::kReshape) out << ", dims: " << dims_text(result.dims);
    const bool inherited = !op.inputs.empty() && graph.tensor(op.inputs[0]).dtype == result.dtype;
    if (!inherited) out << ", dtype: " << dtype_name(result.dtype);
    out << "}\n";
  }
  out << "outputs: [";
  bool first = true;
  for (const Tensor& t : graph.tensors()) {
    if (t.kind != TensorKind::kOutput) continue;
    out << (first ? "" : ", ") << yaml_scalar(t.name);
    first = false;
  }
  out << "]\n";
  return out.str();
}

}  // namespace doppler::einsum
