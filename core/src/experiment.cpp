#include "doppler/experiment.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <filesystem>

#include "doppler/config_fields.hpp"
#include "doppler/error.hpp"
#include "doppler/file_io.hpp"
#include "doppler/yaml_util.hpp"

namespace doppler {
namespace {

namespace fs = std::filesystem;

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

std::vector<PlacementSpec> read_placements(const YAML::Node& node, const ConfigFields& in,
                                           const ExperimentNames& names) {
  std::vector<YAML::Node> items;
  if (node.IsScalar()) {
    items.push_back(node);
  } else if (node.IsSequence()) {
    for (const YAML::Node& item : node) items.push_back(item);
  } else {
    in.fail(node, "placements", "expected a list of method names and/or plan files");
  }
  if (items.empty()) in.fail(node, "placements", "the list is empty (omit the key to use every method)");
  std::vector<PlacementSpec> placements;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const std::string field = "placements[" + std::to_string(i) + "]";
    PlacementSpec spec;
    spec.label = in.scalar(items[i], field);
    if (is_plan_file_name(spec.label)) {
      spec.path = in.input_path(items[i], field);
    } else if (std::find(names.methods.begin(), names.methods.end(), spec.label) == names.methods.end()) {
      in.fail(items[i], field,
              "unknown placement method '" + spec.label + "' (known: " + join(names.methods) +
                  "; or a plan file ending in .yaml, .yml or .json)");
    }
    for (const PlacementSpec& earlier : placements) {
      if (earlier.label == spec.label) in.fail(items[i], field, "'" + spec.label + "' is listed twice");
    }
    placements.push_back(spec);
  }
  return placements;
}

void read_output(const YAML::Node& node, const ConfigFields& in, Experiment& e) {
  if (!node.IsMap()) in.fail(node, "output", "expected a mapping with any of plan, csv, plot");
  for (auto it = node.begin(); it != node.end(); ++it) {
    const std::string key = it->first.Scalar();
    const std::string field = "output." + key;
    if (key == "plan") {
      e.plan_output = in.scalar(it->second, field);
    } else if (key == "csv") {
      e.csv_output = in.scalar(it->second, field);
    } else if (key == "plot") {
      e.plot_output = in.scalar(it->second, field);
    } else {
      in.fail(it->first, field, "unknown key (known: plan, csv, plot)");
    }
  }
}

}  // namespace

bool is_plan_file_name(const std::string& placement) {
  const std::string extension = fs::path(placement).extension().string();
  return extension == ".yaml" || extension == ".yml" || extension == ".json";
}

std::optional<std::size_t> random_graph_size(const std::string& graph_spec) {
  static const std::string prefix = "random:";
  if (graph_spec.rfind(prefix, 0) != 0) return std::nullopt;
  const std::string digits = graph_spec.substr(prefix.size());
  std::size_t n = 0;
  const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (digits.empty() || ec != std::errc() || ptr != digits.data() + digits.size() || n == 0) {
    throw Error("expected random:N with N a positive integer (ops to generate), got '" + graph_spec + "'");
  }
  return n;
}

Experiment parse_experiment(const std::string& text, const std::string& source_name,
                            const ExperimentNames& names) {
  const YAML::Node root = parse_yaml_document(text, source_name);
  if (!root.IsMap())
    throw_at(source_name, yaml_line(root), "an experiment config must be a mapping (graph, devices, ...)");
  const ConfigFields in(source_name);
  Experiment e;
  e.source = source_name;
  e.name = fs::path(source_name).stem().string();
  bool has_graph = false;
  std::size_t einsum_line = 0, decompose_line = 0;
  std::size_t machine_line = 0, devices_line = 0;  // 0 = not given
  for (auto it = root.begin(); it != root.end(); ++it) {
    const YAML::Node value = it->second;
    const std::string key = it->first.IsScalar() ? it->first.Scalar() : std::string();
    if (key == "name") {
      e.name = in.scalar(value, key);
    } else if (key == "graph") {
      const std::string spec = in.scalar(value, key);
      if (spec.rfind("random:", 0) == 0) {
        try {
          random_graph_size(spec);
        } catch (const Error& error) {
          in.fail(value, key, error.what());
        }
        e.graph = spec;
      } else {
        e.graph = in.input_path(value, key);
      }
      has_graph = true;
    } else if (key == "einsum") {
      e.einsum = einsum::read_einsum_workload(value, in);
      einsum_line = std::max<std::size_t>(yaml_line(it->first), 1);
    } else if (key == "decompose") {
      e.decompose = einsum::read_decompose(value, in);
      decompose_line = std::max<std::size_t>(yaml_line(it->first), 1);
    } else if (key == "machine") {
      e.machine = in.input_path(value, key);
      machine_line = std::max<std::size_t>(yaml_line(value), 1);
    } else if (key == "devices") {
      const std::uint64_t n = in.unsigned_integer(value, key);
      if (n < 1) in.fail(value, key, "must be at least 1");
      e.devices = static_cast<std::size_t>(n);
      devices_line = std::max<std::size_t>(yaml_line(value), 1);
    } else if (key == "model") {
      e.model = in.scalar(value, key);
      if (std::find(names.models.begin(), names.models.end(), e.model) == names.models.end()) {
        in.fail(value, key, "unknown cost model '" + e.model + "' (known: " + join(names.models) + ")");
      }
    } else if (key == "placements") {
      e.placements = read_placements(value, in, names);
    } else if (key == "seed") {
      e.seed = in.unsigned_integer(value, key);
    } else if (key == "trace") {
      e.trace = in.scalar(value, key);
    } else if (key == "output") {
      read_output(value, in, e);
    } else if (std::find(names.sections.begin(), names.sections.end(), key) != names.sections.end()) {
      if (!value.IsMap()) in.fail(value, key, "expected a mapping");
      e.sections[key] = std::make_shared<const YAML::Node>(value);
    } else {
      std::string known =
          "name, graph, einsum, decompose, machine, devices, model, placements, seed, trace, output";
      for (const std::string& section : names.sections) known += ", " + section;
      throw_at(source_name, yaml_line(it->first), "unknown key '" + key + "' (known: " + known + ")");
    }
  }
  if (has_graph && einsum_line > 0) {
    throw_at(source_name, einsum_line, "'einsum': give either 'graph' or 'einsum', not both");
  }
  if (!has_graph && einsum_line == 0) {
    throw_at(source_name, yaml_line(root),
             "missing 'graph' (a graph file or random:N) or 'einsum' (an einsum workload)");
  }
  if (decompose_line > 0 && einsum_line == 0) {
    throw_at(source_name, decompose_line, "'decompose': only an 'einsum' workload is decomposed");
  }
  if (machine_line > 0 && devices_line > 0) {
    throw_at(source_name, devices_line,
             "'devices': give either 'machine' (a machine file) or 'devices', not both");
  }
  if (machine_line == 0 && devices_line == 0) {
    throw_at(source_name, yaml_line(root),
             "missing 'machine' (a machine file) or 'devices' (N abstract devices)");
  }
  return e;
}

Experiment load_experiment(const std::string& path, const ExperimentNames& names) {
  return parse_experiment(read_text_file(path), path, names);
}

}  // namespace doppler
