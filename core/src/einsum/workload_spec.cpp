#include "doppler/einsum/workload_spec.hpp"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <utility>

#include "doppler/einsum/einsum_yaml.hpp"
#include "doppler/einsum/fusion.hpp"
#include "doppler/error.hpp"
#include "doppler/yaml_util.hpp"

namespace doppler::einsum {
namespace {

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

bool is_training_step(const std::string& generator) {
  return generator == "mlp_training_step" || generator == "llama_layer_training_step";
}

using Setter = std::function<void(const YAML::Node&, const std::string&)>;

// The keys generator `g` takes, each writing into `spec`.
std::map<std::string, Setter> keys_of(const std::string& g, EinsumWorkloadSpec& spec,
                                      const ConfigFields& in) {
  const auto size = [&in](std::int64_t& target) {
    return [&in, &target](const YAML::Node& node, const std::string& field) {
      const std::uint64_t v = in.unsigned_integer(node, field);
      if (v < 1) in.fail(node, field, "must be at least 1");
      target = static_cast<std::int64_t>(v);
    };
  };
  const auto count = [&in](int& target) {
    return [&in, &target](const YAML::Node& node, const std::string& field) {
      const std::uint64_t v = in.unsigned_integer(node, field);
      if (v < 1 || v > 1'000'000) in.fail(node, field, "must be between 1 and 1000000");
      target = static_cast<int>(v);
    };
  };
  const auto dtype = [&in](DType& target) {
    return [&in, &target](const YAML::Node& node, const std::string& field) {
      try {
        target = parse_dtype(in.scalar(node, field));
      } catch (const Error& error) {
        in.fail(node, field, error.what());
      }
    };
  };
  std::map<std::string, Setter> keys;
  if (g == "chain_mm") {
    keys = {{"n", size(spec.chain_mm.n)},
            {"length", count(spec.chain_mm.length)},
            {"dtype", dtype(spec.chain_mm.dtype)}};
  } else if (g == "ffnn" || g == "mlp_training_step") {
    FfnnOptions& o = spec.ffnn;
    keys = {{"batch", size(o.batch)}, {"in", size(o.in)},          {"hidden", size(o.hidden)},
            {"out", size(o.out)},     {"layers", count(o.layers)}, {"dtype", dtype(o.dtype)}};
  } else {
    LlamaOptions& o = spec.llama;
    keys = {{"batch", size(o.batch)}, {"seq", size(o.seq)}, {"hidden", size(o.hidden)},
            {"heads", size(o.heads)}, {"ffn", size(o.ffn)}, {"dtype", dtype(o.dtype)}};
    if (g != "llama_block") keys["layers"] = count(o.layers);
  }
  if (is_training_step(g)) {
    keys["optimizer"] = [&in, &spec](const YAML::Node& node, const std::string& field) {
      const std::string name = in.scalar(node, field);
      if (name == "sgd") {
        spec.optimizer = Sgd{};
      } else if (name == "adam") {
        spec.optimizer = Adam{};
      } else {
        in.fail(node, field, "unknown optimizer '" + name + "' (known: sgd, adam)");
      }
    };
  }
  return keys;
}

EinsumGraph build_unfused(const EinsumWorkloadSpec& spec) {
  if (!spec.file.empty()) return load_einsum_graph(spec.file);
  const std::string& g = spec.generator;
  if (g == "chain_mm") return chain_mm(spec.chain_mm);
  if (g == "ffnn") return ffnn(spec.ffnn);
  if (g == "llama_block") return llama_block(spec.llama);
  if (g == "llama_layer") return llama_layer(spec.llama);
  if (g == "mlp_training_step") return mlp_training_step(spec.ffnn, spec.optimizer);
  if (g == "llama_layer_training_step") return llama_layer_training_step(spec.llama, spec.optimizer);
  throw Error("unknown einsum workload '" + g + "' (known: " + join(workload_generator_names()) + ")");
}

}  // namespace

const std::vector<std::string>& workload_generator_names() {
  static const std::vector<std::string> names{
      "chain_mm", "ffnn", "llama_block", "llama_layer", "mlp_training_step", "llama_layer_training_step"};
  return names;
}

EinsumWorkloadSpec read_einsum_workload(const YAML::Node& node, const ConfigFields& in) {
  if (!node.IsMap()) {
    in.fail(node, "einsum", "expected a mapping: {workload: NAME, sizes...} or {file: GRAPH.yaml}");
  }
  EinsumWorkloadSpec spec;
  if (const YAML::Node fuse = node["fuse"]) spec.fuse = in.boolean(fuse, "einsum.fuse");
  const YAML::Node workload = node["workload"];
  const YAML::Node file = node["file"];
  if (workload && file) in.fail(file, "einsum.file", "give either 'workload' or 'file', not both");
  if (!workload && !file) {
    in.fail(node, "einsum",
            "missing 'workload' (" + join(workload_generator_names()) + ") or 'file' (an einsum graph)");
  }
  if (file) {
    spec.file = in.input_path(file, "einsum.file");
    for (auto it = node.begin(); it != node.end(); ++it) {
      const std::string key = it->first.Scalar();
      if (key != "file" && key != "fuse")
        in.fail(it->first, "einsum." + key, "unknown key (a graph file takes no sizes; known: file, fuse)");
    }
    return spec;
  }
  spec.generator = in.scalar(workload, "einsum.workload");
  const auto& names = workload_generator_names();
  if (std::find(names.begin(), names.end(), spec.generator) == names.end()) {
    in.fail(workload, "einsum.workload",
            "unknown workload '" + spec.generator + "' (known: " + join(names) + ")");
  }
  double lr = -1;
  YAML::Node lr_node;
  std::map<std::string, Setter> keys = keys_of(spec.generator, spec, in);
  for (auto it = node.begin(); it != node.end(); ++it) {
    const std::string key = it->first.Scalar();
    const std::string field = "einsum." + key;
    if (key == "workload" || key == "fuse") continue;
    if (key == "lr" && is_training_step(spec.generator)) {
      lr = in.number(it->second, field);
      lr_node = it->second;
      if (!(lr > 0)) in.fail(it->second, field, "must be positive");
      continue;
    }
    const auto setter = keys.find(key);
    if (setter == keys.end()) {
      std::vector<std::string> known;
      for (const auto& [name, set] : keys) known.push_back(name);
      if (is_training_step(spec.generator)) known.push_back("lr");
      known.push_back("fuse");
      in.fail(it->first, field, "unknown key for " + spec.generator + " (known: " + join(known) + ")");
    }
    setter->second(it->second, field);
  }
  if (lr > 0) std::visit([lr](auto& optimizer) { optimizer.lr = lr; }, spec.optimizer);
  try {
    build_einsum_workload(spec);
  } catch (const Error& error) {
    in.fail(node, "einsum", error.what());
  }
  return spec;
}

DecomposeSpec read_decompose(const YAML::Node& node, const ConfigFields& in, const std::string& name) {
  if (!node.IsMap())
    in.fail(node, name, "expected a mapping: {method, devices, wide, max_candidates, aggregate_fan_in}");
  DecomposeSpec spec;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const std::string key = it->first.Scalar();
    const std::string field = name + "." + key;
    const YAML::Node value = it->second;
    if (key == "method") {
      try {
        spec.options.method = parse_decompose_method(in.scalar(value, field));
      } catch (const Error& error) {
        in.fail(value, field, error.what());
      }
    } else if (key == "devices") {
      const std::uint64_t n = in.unsigned_integer(value, field);
      if (n < 1 || n > 4096) in.fail(value, field, "must be between 1 and 4096");
      spec.options.devices = static_cast<int>(n);
      spec.devices_given = true;
    } else if (key == "wide") {
      spec.options.wide_search = in.boolean(value, field);
    } else if (key == "max_candidates") {
      const std::uint64_t n = in.unsigned_integer(value, field);
      if (n < 1 || n > 1'000'000) in.fail(value, field, "must be between 1 and 1000000");
      spec.options.max_candidates = static_cast<int>(n);
    } else if (key == "aggregate_fan_in") {
      const std::uint64_t n = in.unsigned_integer(value, field);
      if (n == 1 || n > 1'000'000) in.fail(value, field, "must be 0 (unlimited) or between 2 and 1000000");
      spec.options.aggregate_fan_in = static_cast<int>(n);
    } else {
      in.fail(it->first, field,
              "unknown key (known: method, devices, wide, max_candidates, aggregate_fan_in)");
    }
  }
  return spec;
}

std::string einsum_workload_yaml(const EinsumWorkloadSpec& spec, const std::string& file_as_written) {
  const std::string fuse = spec.fuse ? ", fuse: true" : "";
  if (!spec.file.empty())
    return "{file: " + (file_as_written.empty() ? spec.file : file_as_written) + fuse + "}";
  const std::string& g = spec.generator;
  const auto n = [](std::int64_t v) { return std::to_string(v); };
  std::string out = "{workload: " + g;
  if (g == "chain_mm") {
    const ChainMmOptions& o = spec.chain_mm;
    out += ", n: " + n(o.n) + ", length: " + n(o.length) + ", dtype: " + std::string(dtype_name(o.dtype));
  } else if (g == "ffnn" || g == "mlp_training_step") {
    const FfnnOptions& o = spec.ffnn;
    out += ", batch: " + n(o.batch) + ", in: " + n(o.in) + ", hidden: " + n(o.hidden) + ", out: " + n(o.out) +
           ", layers: " + n(o.layers) + ", dtype: " + std::string(dtype_name(o.dtype));
  } else {
    const LlamaOptions& o = spec.llama;
    out += ", batch: " + n(o.batch) + ", seq: " + n(o.seq) + ", hidden: " + n(o.hidden) +
           ", heads: " + n(o.heads);
    if (g != "llama_block")
      out += ", ffn: " + n(o.ffn == 0 ? 4 * o.hidden : o.ffn) + ", layers: " + n(o.layers);
    out += ", dtype: " + std::string(dtype_name(o.dtype));
  }
  if (is_training_step(g)) {
    const bool adam = std::holds_alternative<Adam>(spec.optimizer);
    const double lr = std::visit([](const auto& optimizer) { return optimizer.lr; }, spec.optimizer);
    char text[32];
    std::snprintf(text, sizeof text, "%.17g", lr);
    out += std::string(", optimizer: ") + (adam ? "adam" : "sgd") + ", lr: " + text;
  }
  return out + fuse + "}";
}

std::string decompose_yaml(const DecomposeOptions& options) {
  return "{method: " + std::string(decompose_method_name(options.method)) +
         ", devices: " + std::to_string(options.devices) +
         ", wide: " + (options.wide_search ? "true" : "false") +
         ", max_candidates: " + std::to_string(options.max_candidates) +
         (options.aggregate_fan_in > 0 ? ", aggregate_fan_in: " + std::to_string(options.aggregate_fan_in)
                                       : "") +
         "}";
}

EinsumGraph build_einsum_workload(const EinsumWorkloadSpec& spec) {
  EinsumGraph graph = build_unfused(spec);
  if (!spec.fuse) return graph;
  return fuse_elementwise(fuse_row_ops(graph));
}

}  // namespace doppler::einsum
