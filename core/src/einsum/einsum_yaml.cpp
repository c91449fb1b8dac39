// parse_einsum_graph() / load_einsum_graph(): the reader of the YAML einsum-graph format. Each op
// form (a kind key and the keys its body may hold) has one build function that checks the YAML,
// then makes the EinsumGraph or builder call; errors of that call get the op's FILE:LINE.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <unordered_map>
#include <vector>

#include "doppler/einsum/einsum_builder.hpp"
#include "doppler/einsum/einsum_yaml.hpp"
#include "doppler/error.hpp"
#include "doppler/file_io.hpp"
#include "doppler/yaml_util.hpp"

namespace doppler::einsum {
namespace {

using Keys = std::vector<std::string>;

std::string joined(const Keys& keys) {
  std::string out;
  for (const std::string& key : keys) out += (out.empty() ? "" : ", ") + key;
  return out;
}

class Reader {
 public:
  explicit Reader(const std::string& source) : source_(source) {}
  EinsumGraph read(const YAML::Node& root);

 private:
  // The op being read: `key` is its name node (the line of graph and builder errors), `arg` the
  // value of its kind key.
  struct Site {
    YAML::Node key;
    std::string name;
    std::string where;  // "op 'NAME'"
    std::string kind;
    YAML::Node arg;
    YAML::Node body;
  };
  using Build = void (Reader::*)(const Site&);
  struct OpForm {
    std::string kind;
    Keys options;
    Build build;
  };
  static const std::vector<OpForm>& forms();
  static Keys kinds();

  [[noreturn]] void fail(const YAML::Node& node, const std::string& message) const {
    throw_at(source_, yaml_line(node), message);
  }
  // Runs a graph or builder call; its Error gets FILE:LINE of `node` in front.
  template <typename Call>
  void at(const YAML::Node& node, Call call) {
    try {
      call();
    } catch (const Error& e) {
      fail(node, e.what());
    }
  }

  void check_keys(const YAML::Node& map, const Keys& known, const std::string& where) const;
  std::string scalar(const YAML::Node& node, const std::string& what) const;
  std::int64_t integer(const YAML::Node& node, const std::string& where) const;
  std::int64_t integer(const Site& op, const char* key) const {
    return yaml_integer(op.body, key, source_, op.where);
  }
  std::vector<std::int64_t> dims(const YAML::Node& node, const std::string& where) const;
  DType dtype(const YAML::Node& node, const std::string& where) const;
  void claim(const YAML::Node& key, const std::string& name);
  void read_tensors(const YAML::Node& section, const char* section_name, TensorKind kind);
  TensorId tensor(const YAML::Node& node, const std::string& where) const;
  // `count` = 0: any number.
  std::vector<TensorId> tensors(const YAML::Node& node, const std::string& where, const std::string& key,
                                std::size_t count) const;
  YAML::Node required(const Site& op, const char* key) const;
  double number(const Site& op, const char* key) const {
    return yaml_number(op.body, key, source_, op.where);
  }
  int axis(const Site& op, const char* key) const;
  void read_op(const YAML::Node& entry);
  void read_outputs(const YAML::Node& root);

  void build_einsum(const Site& op);
  void build_binary(const Site& op);
  void build_unary(const Site& op);
  void build_transpose(const Site& op);
  void build_scale(const Site& op);
  void build_elementwise(const Site& op);
  void build_fill(const Site& op);
  void build_softmax(const Site& op);
  void build_rms_norm(const Site& op);
  void build_structural(const Site& op);
  void build_rotary(const Site& op);
  // softmax, rms_norm, rotary with `indices` (what the writer emits): one fused row op.
  void build_row_op(const Site& op, OpKind kind, const std::vector<TensorId>& inputs, double param);

  const std::string& source_;
  EinsumGraph graph_;
  DType default_dtype_ = DType::kF32;
  std::unordered_map<std::string, std::size_t> defined_at_;  // name -> line
  std::unordered_map<std::string, std::size_t> op_lines_;    // op name -> line, every op of the file
};

const std::vector<Reader::OpForm>& Reader::forms() {
  static const std::vector<OpForm> all = {
      {"einsum", {"inputs", "dims", "dtype"}, &Reader::build_einsum},
      {"matmul", {}, &Reader::build_binary},
      {"transpose", {"perm"}, &Reader::build_transpose},
      {"scale", {"factor"}, &Reader::build_scale},
      {"elementwise", {"inputs"}, &Reader::build_elementwise},
      {"add", {}, &Reader::build_binary},
      {"mul", {}, &Reader::build_binary},
      {"relu", {}, &Reader::build_unary},
      {"silu", {}, &Reader::build_unary},
      {"gelu", {}, &Reader::build_unary},
      {"fill", {"value", "dtype"}, &Reader::build_fill},
      {"softmax", {"axis", "input_scale", "indices", "dtype"}, &Reader::build_softmax},
      {"rms_norm", {"weight", "axis", "eps", "indices", "dtype"}, &Reader::build_rms_norm},
      {"reshape", {"dims", "indices", "dtype"}, &Reader::build_structural},
      {"slice", {"axis", "begin", "end", "indices", "dtype"}, &Reader::build_structural},
      {"concat", {"axis", "indices", "dtype"}, &Reader::build_structural},
      {"rotary", {"cos", "sin", "seq_axis", "head_axis", "axis", "indices", "dtype"}, &Reader::build_rotary},
  };
  return all;
}

Keys Reader::kinds() {
  Keys keys;
  for (const OpForm& form : forms()) keys.push_back(form.kind);
  return keys;
}

void Reader::check_keys(const YAML::Node& map, const Keys& known, const std::string& where) const {
  for (auto it = map.begin(); it != map.end(); ++it) {
    const std::string key = scalar(it->first, where + ": a key");
    if (std::find(known.begin(), known.end(), key) == known.end())
      fail(it->first, where + ": unknown key '" + key + "' (known: " + joined(known) + ")");
  }
}

std::string Reader::scalar(const YAML::Node& node, const std::string& what) const {
  if (!node.IsScalar()) fail(node, what + " must be a string");
  return node.Scalar();
}

std::int64_t Reader::integer(const YAML::Node& node, const std::string& where) const {
  const std::string text = node.IsScalar() ? node.Scalar() : std::string();
  char* end = nullptr;
  errno = 0;
  const long long value = text.empty() ? 0 : std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno == ERANGE)
    fail(node, where + ": '" + text + "' is not an integer");
  return value;
}

std::vector<std::int64_t> Reader::dims(const YAML::Node& node, const std::string& where) const {
  if (!node.IsSequence()) fail(node, where + ": dims must be a list of positive integers like [64, 256]");
  std::vector<std::int64_t> result;
  for (const YAML::Node& item : node) {
    const std::int64_t value = integer(item, where + ": dim");
    if (value <= 0) fail(item, where + ": dim " + std::to_string(value) + " must be positive");
    result.push_back(value);
  }
  return result;
}

DType Reader::dtype(const YAML::Node& node, const std::string& where) const {
  const std::string name = scalar(node, where + ": 'dtype'");
  try {
    return parse_dtype(name);
  } catch (const Error& e) {
    fail(node, where + ": " + e.what());
  }
}

void Reader::claim(const YAML::Node& key, const std::string& name) {
  const auto [it, fresh] = defined_at_.emplace(name, yaml_line(key));
  if (!fresh)
    fail(key, "duplicate name '" + name + "' (first defined at line " + std::to_string(it->second) + ")");
}

void Reader::read_tensors(const YAML::Node& section, const char* section_name, TensorKind kind) {
  if (!section || section.IsNull()) return;
  if (!section.IsMap())
    fail(section,
         std::string("'") + section_name + "' must be a mapping NAME: [dims] or NAME: {dims, dtype}");
  for (auto it = section.begin(); it != section.end(); ++it) {
    const std::string name = scalar(it->first, std::string("a name in '") + section_name + "'");
    const std::string where = std::string(tensor_kind_name(kind)) + " '" + name + "'";
    claim(it->first, name);
    const YAML::Node value = it->second;
    std::vector<std::int64_t> shape;
    DType type = default_dtype_;
    double init_scale = 1.0;
    if (value.IsMap()) {
      if (kind == TensorKind::kParameter)
        check_keys(value, {"dims", "dtype", "init_scale"}, where);
      else
        check_keys(value, {"dims", "dtype"}, where);
      if (!value["dims"]) fail(value, where + ": missing 'dims'");
      shape = dims(value["dims"], where);
      if (value["dtype"]) type = dtype(value["dtype"], where);
      if (value["init_scale"]) init_scale = yaml_positive(value, "init_scale", source_, where);
    } else {
      shape = dims(value, where);
    }
    at(it->first, [&] {
      if (kind == TensorKind::kInput)
        graph_.add_input(name, shape, type);
      else
        graph_.add_parameter(name, shape, type, init_scale);
    });
  }
}

TensorId Reader::tensor(const YAML::Node& node, const std::string& where) const {
  const std::string name = scalar(node, where + ": a tensor name");
  if (graph_.has_tensor(name)) return graph_.find_tensor(name);
  if (const auto it = op_lines_.find(name); it != op_lines_.end())
    fail(node,
         where + ": tensor '" + name + "' is used before its op (line " + std::to_string(it->second) + ")");
  fail(node, where + ": unknown tensor '" + name + "'");
}

std::vector<TensorId> Reader::tensors(const YAML::Node& node, const std::string& where,
                                      const std::string& key, std::size_t count) const {
  if (!node.IsSequence() || (count > 0 && node.size() != count)) {
    fail(node, where + ": '" + key + "' must be a list of " +
                   (count > 0 ? std::to_string(count) + " " : std::string()) + "tensor names");
  }
  std::vector<TensorId> result;
  for (const YAML::Node& item : node) result.push_back(tensor(item, where));
  return result;
}

YAML::Node Reader::required(const Site& op, const char* key) const {
  const YAML::Node node = op.body[key];
  if (!node) fail(op.body, op.where + ": missing '" + key + "'");
  return node;
}

int Reader::axis(const Site& op, const char* key) const {
  const long long value = yaml_integer(op.body, key, source_, op.where);
  if (value < INT_MIN || value > INT_MAX) fail(op.body[key], op.where + ": '" + key + "' out of range");
  return static_cast<int>(value);
}

void Reader::read_op(const YAML::Node& entry) {
  if (!entry.IsMap() || entry.size() != 1)
    fail(entry, "each op must be one entry 'NAME: {KIND: ARGUMENT, ...}'");
  Site op;
  op.key = entry.begin()->first;
  op.body = entry.begin()->second;
  op.name = scalar(op.key, "an op name");
  op.where = "op '" + op.name + "'";
  if (!op.body.IsMap()) fail(op.body, op.where + ": expected a mapping {KIND: ARGUMENT, ...}");
  const OpForm* form = nullptr;
  for (auto it = op.body.begin(); it != op.body.end(); ++it) {
    const std::string key = scalar(it->first, op.where + ": a key");
    for (const OpForm& candidate : forms()) {
      if (candidate.kind != key) continue;
      if (form != nullptr)
        fail(it->first, op.where + ": both '" + form->kind + "' and '" + key + "'; an op has one kind");
      form = &candidate;
    }
  }
  if (form == nullptr) {
    Keys any = kinds();
    for (const OpForm& candidate : forms())
      any.insert(any.end(), candidate.options.begin(), candidate.options.end());
    for (auto it = op.body.begin(); it != op.body.end(); ++it) {
      if (std::find(any.begin(), any.end(), it->first.Scalar()) == any.end())
        fail(it->first,
             op.where + ": unknown key '" + it->first.Scalar() + "' (op kinds: " + joined(kinds()) + ")");
    }
    fail(op.key, op.where + ": no op kind (one of " + joined(kinds()) + ")");
  }
  Keys known = form->options;
  known.insert(known.begin(), form->kind);
  check_keys(op.body, known, op.where);
  claim(op.key, op.name);
  op.kind = form->kind;
  op.arg = op.body[form->kind];
  const std::size_t before = graph_.num_tensors();
  (this->*form->build)(op);
  for (std::size_t t = before; t + 1 < graph_.num_tensors(); ++t)  // helper tensors (NAME.max, ...)
    defined_at_.emplace(graph_.tensor(static_cast<TensorId>(t)).name, yaml_line(op.key));
}

void Reader::build_einsum(const Site& op) {
  const std::string text = scalar(op.arg, op.where + ": 'einsum'");
  EinsumSpec spec;
  at(op.arg, [&] {
    try {
      spec = parse_einsum(text);
    } catch (const Error& e) {
      throw Error(op.where + ": " + e.what());
    }
  });
  const std::vector<TensorId> inputs =
      op.body["inputs"] ? tensors(op.body["inputs"], op.where, "inputs", 0) : std::vector<TensorId>{};
  const std::vector<std::int64_t> shape =
      op.body["dims"] ? dims(op.body["dims"], op.where) : std::vector<std::int64_t>{};
  const DType type = op.body["dtype"] ? dtype(op.body["dtype"], op.where)
                     : inputs.empty() ? default_dtype_
                                      : graph_.tensor(inputs[0]).dtype;
  at(op.key, [&] { graph_.add_einsum_as(op.name, spec, inputs, type, shape); });
}

void Reader::build_binary(const Site& op) {
  const std::vector<TensorId> xy = tensors(op.arg, op.where, op.kind, 2);
  at(op.key, [&] {
    if (op.kind == "matmul") matmul(graph_, op.name, xy[0], xy[1]);
    if (op.kind == "add") add(graph_, op.name, xy[0], xy[1]);
    if (op.kind == "mul") mul(graph_, op.name, xy[0], xy[1]);
  });
}

void Reader::build_unary(const Site& op) {
  const TensorId x = tensor(op.arg, op.where);
  at(op.key, [&] {
    if (op.kind == "relu") relu(graph_, op.name, x);
    if (op.kind == "silu") silu(graph_, op.name, x);
    if (op.kind == "gelu") gelu(graph_, op.name, x);
  });
}

void Reader::build_transpose(const Site& op) {
  const TensorId x = tensor(op.arg, op.where);
  const YAML::Node perm_node = required(op, "perm");
  if (!perm_node.IsSequence()) fail(perm_node, op.where + ": 'perm' must be a list like [1, 0]");
  std::vector<int> perm;
  for (const YAML::Node& item : perm_node)
    perm.push_back(static_cast<int>(integer(item, op.where + ": perm")));
  at(op.key, [&] { transpose(graph_, op.name, x, perm); });
}

void Reader::build_scale(const Site& op) {
  const TensorId x = tensor(op.arg, op.where);
  const double factor = number(op, "factor");
  at(op.key, [&] { scale(graph_, op.name, x, factor); });
}

void Reader::build_elementwise(const Site& op) {
  const std::string join = scalar(op.arg, op.where + ": 'elementwise'");
  const std::vector<TensorId> inputs = tensors(required(op, "inputs"), op.where, "inputs", 0);
  at(op.key, [&] { elementwise(graph_, op.name, join, inputs); });
}

void Reader::build_fill(const Site& op) {
  const std::vector<std::int64_t> shape = dims(op.arg, op.where);
  const double value = number(op, "value");
  const DType type = op.body["dtype"] ? dtype(op.body["dtype"], op.where) : default_dtype_;
  at(op.key, [&] { fill(graph_, op.name, shape, value, type); });
}

void Reader::build_softmax(const Site& op) {
  const TensorId x = tensor(op.arg, op.where);
  if (op.body["dtype"] && !op.body["indices"]) fail(op.body["dtype"], op.where + ": 'dtype' needs 'indices'");
  if (op.body["indices"])
    return build_row_op(op, OpKind::kSoftmax, {x}, op.body["input_scale"] ? number(op, "input_scale") : 1.0);
  if (op.body["input_scale"])
    fail(op.body["input_scale"], op.where + ": 'input_scale' needs 'indices' (a fused softmax)");
  const int a = axis(op, "axis");
  at(op.key, [&] { softmax(graph_, op.name, x, a); });
}

void Reader::build_row_op(const Site& op, OpKind kind, const std::vector<TensorId>& inputs, double param) {
  const std::string text = scalar(op.body["indices"], op.where + ": 'indices'");
  EinsumOp like;
  at(op.body["indices"], [&] {
    try {
      like.spec = parse_indices(text);
    } catch (const Error& e) {
      throw Error(op.where + ": " + e.what());
    }
  });
  like.name = op.name;
  like.kind = kind;
  like.axis = axis(op, "axis");
  like.param = param;
  const DType type = op.body["dtype"] ? dtype(op.body["dtype"], op.where) : graph_.tensor(inputs[0]).dtype;
  at(op.key, [&] { graph_.add_op_as(like, inputs, type); });
}

void Reader::build_rms_norm(const Site& op) {
  const TensorId x = tensor(op.arg, op.where);
  const TensorId weight = tensor(required(op, "weight"), op.where);
  if (op.body["dtype"] && !op.body["indices"]) fail(op.body["dtype"], op.where + ": 'dtype' needs 'indices'");
  const double eps = op.body["eps"] ? number(op, "eps") : 1e-6;
  if (op.body["indices"]) return build_row_op(op, OpKind::kRmsNorm, {x, weight}, eps);
  const int a = axis(op, "axis");
  at(op.key, [&] { rms_norm(graph_, op.name, x, weight, a, eps); });
}

// reshape, slice, concat: with `axis` (or only `dims` for reshape) through the builder, which
// picks the index letters; with `indices` (what the writer emits) exactly as given, `dtype`
// defaulting to input 0's.
void Reader::build_structural(const Site& op) {
  const std::vector<TensorId> inputs = op.kind == "concat" ? tensors(op.arg, op.where, op.kind, 0)
                                                           : std::vector<TensorId>{tensor(op.arg, op.where)};
  const std::vector<std::int64_t> shape =
      op.kind == "reshape" ? dims(required(op, "dims"), op.where) : std::vector<std::int64_t>{};
  const std::int64_t begin = op.kind == "slice" ? integer(op, "begin") : 0;
  const std::int64_t end = op.kind == "slice" ? integer(op, "end") : 0;
  const bool exact = static_cast<bool>(op.body["indices"]);
  if (op.body["axis"] && exact) fail(op.body["indices"], op.where + ": give 'axis' or 'indices', not both");
  if (op.body["dtype"] && !exact) fail(op.body["dtype"], op.where + ": 'dtype' needs 'indices'");
  if (!exact) {
    const int a = op.kind == "reshape" ? 0 : axis(op, "axis");
    at(op.key, [&] {
      if (op.kind == "reshape") reshape(graph_, op.name, inputs[0], shape);
      if (op.kind == "slice") slice(graph_, op.name, inputs[0], a, begin, end);
      if (op.kind == "concat") concat(graph_, op.name, inputs, a);
    });
    return;
  }
  const YAML::Node indices = op.body["indices"];
  const std::string text = scalar(indices, op.where + ": 'indices'");
  EinsumOp like;
  at(indices, [&] {
    try {
      like.spec = parse_indices(text);
    } catch (const Error& e) {
      throw Error(op.where + ": " + e.what());
    }
  });
  like.name = op.name;
  like.kind = op.kind == "reshape" ? OpKind::kReshape : op.kind == "slice" ? OpKind::kSlice : OpKind::kConcat;
  like.begin = begin;
  like.end = end;
  const DType type = op.body["dtype"] ? dtype(op.body["dtype"], op.where)
                     : inputs.empty() ? default_dtype_
                                      : graph_.tensor(inputs[0]).dtype;
  at(op.key, [&] { graph_.add_op_as(like, inputs, type, shape); });
}

void Reader::build_rotary(const Site& op) {
  const TensorId x = tensor(op.arg, op.where);
  const TensorId cos = tensor(required(op, "cos"), op.where);
  const TensorId sin = tensor(required(op, "sin"), op.where);
  if (op.body["indices"]) return build_row_op(op, OpKind::kRotary, {x, cos, sin}, 0);
  if (op.body["dtype"]) fail(op.body["dtype"], op.where + ": 'dtype' needs 'indices'");
  if (op.body["axis"])
    fail(op.body["axis"], op.where + ": rotary takes 'seq_axis' and 'head_axis' ('axis' needs 'indices')");
  const int seq_axis = axis(op, "seq_axis");
  const int head_axis = axis(op, "head_axis");
  at(op.key, [&] { rotary(graph_, op.name, x, cos, sin, seq_axis, head_axis); });
}

void Reader::read_outputs(const YAML::Node& root) {
  const YAML::Node outputs = root["outputs"];
  if (!outputs) fail(root, "missing 'outputs' (the list of tensors the graph computes)");
  if (!outputs.IsSequence() || outputs.size() == 0)
    fail(outputs, "'outputs' must be a non-empty list of tensor names");
  for (const YAML::Node& item : outputs) {
    const TensorId id = tensor(item, "outputs");
    at(item, [&] { graph_.mark_output(id); });
  }
}

EinsumGraph Reader::read(const YAML::Node& root) {
  if (!root.IsMap())
    fail(root, "an einsum graph file must be a mapping with 'einsum_graph', 'ops' and 'outputs'");
  check_keys(root, {"einsum_graph", "dtype", "inputs", "parameters", "ops", "outputs"}, "einsum graph");
  if (!root["einsum_graph"]) fail(root, "missing 'einsum_graph: NAME' (the key that marks this format)");
  scalar(root["einsum_graph"], "'einsum_graph'");
  if (root["dtype"]) default_dtype_ = dtype(root["dtype"], "einsum graph");
  read_tensors(root["inputs"], "inputs", TensorKind::kInput);
  read_tensors(root["parameters"], "parameters", TensorKind::kParameter);
  const YAML::Node ops = root["ops"];
  if (!ops) fail(root, "missing 'ops'");
  if (!ops.IsSequence()) fail(ops, "'ops' must be a list of 'NAME: {KIND: ARGUMENT, ...}' entries");
  for (const YAML::Node& entry : ops)
    if (entry.IsMap() && entry.size() == 1 && entry.begin()->first.IsScalar())
      op_lines_.emplace(entry.begin()->first.Scalar(), yaml_line(entry.begin()->first));
  for (const YAML::Node& entry : ops) read_op(entry);
  read_outputs(root);
  at(root, [&] { graph_.validate(); });
  return std::move(graph_);
}

}  // namespace

EinsumGraph parse_einsum_graph(const std::string& text, const std::string& source_name) {
  return Reader(source_name).read(parse_yaml_document(text, source_name));
}

EinsumGraph load_einsum_graph(const std::string& path) {
  return parse_einsum_graph(read_text_file(path), path);
}

}  // namespace doppler::einsum
