#include "doppler/plan.hpp"

#include <charconv>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "doppler/error.hpp"
#include "doppler/file_io.hpp"
#include "doppler/number_format.hpp"
#include "doppler/yaml_util.hpp"

namespace doppler {
namespace {

std::string hex(std::uint64_t value) {
  std::ostringstream out;
  out << "0x" << std::hex << value;
  return out.str();
}

}  // namespace

Plan parse_plan(const std::string& text, const std::string& source) {
  const YAML::Node root = parse_yaml_document(text, source);
  if (!root.IsMap()) throw_at(source, yaml_line(root), "a plan must be a mapping with 'devices'");
  Plan plan;
  plan.source = source;
  plan.method = yaml_string(root, "method", source, "");
  const YAML::Node devices = root["devices"];
  if (!devices || !devices.IsSequence())
    throw_at(source, yaml_line(root), "missing 'devices' list (one device per op)");
  plan.device.reserve(devices.size());
  for (std::size_t i = 0; i < devices.size(); ++i) {
    const YAML::Node& d = devices[i];
    long long value = -1;
    const std::string& s = d.IsScalar() ? d.Scalar() : std::string();
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (s.empty() || ec != std::errc() || ptr != s.data() + s.size() || value < 0) {
      throw_at(source, yaml_line(d),
               "devices[" + std::to_string(i) + "] = '" + s + "' is not a device index");
    }
    plan.device.push_back(static_cast<DeviceId>(value));
  }
  if (const YAML::Node priority = root["priority"]) {
    if (!priority.IsSequence())
      throw_at(source, yaml_line(priority), "'priority' must be a list (one number per op)");
    for (std::size_t i = 0; i < priority.size(); ++i) {
      const std::string& s = priority[i].IsScalar() ? priority[i].Scalar() : std::string();
      char* end = nullptr;
      const double value = s.empty() ? NAN : std::strtod(s.c_str(), &end);
      if (s.empty() || *end != '\0' || !std::isfinite(value)) {
        throw_at(source, yaml_line(priority[i]),
                 "priority[" + std::to_string(i) + "] = '" + s + "' is not a number");
      }
      plan.priority.push_back(value);
    }
  }
  if (const YAML::Node fp = root["graph_fingerprint"]) {
    const std::string s = fp.Scalar();
    char* end = nullptr;
    const unsigned long long value = std::strtoull(s.c_str(), &end, 0);
    if (s.empty() || *end != '\0')
      throw_at(source, yaml_line(fp), "graph_fingerprint '" + s + "' is not a number");
    plan.graph_fingerprint = value;
  }
  return plan;
}

Plan load_plan(const std::string& path) {
  return parse_plan(read_text_file(path), path);
}

std::string plan_to_yaml(const Plan& plan) {
  std::ostringstream out;
  if (!plan.method.empty()) out << "method: " << plan.method << "\n";
  if (plan.graph_fingerprint) out << "graph_fingerprint: " << hex(*plan.graph_fingerprint) << "\n";
  out << "devices: [";
  for (std::size_t i = 0; i < plan.device.size(); ++i) out << (i ? ", " : "") << plan.device[i];
  out << "]\n";
  if (plan.has_priority()) {
    out << "priority: [";
    for (std::size_t i = 0; i < plan.priority.size(); ++i)
      out << (i ? ", " : "") << format_number(plan.priority[i]);
    out << "]\n";
  }
  return out.str();
}

std::string plan_to_json(const Plan& plan) {
  nlohmann::ordered_json j;
  if (!plan.method.empty()) j["method"] = plan.method;
  if (plan.graph_fingerprint) j["graph_fingerprint"] = hex(*plan.graph_fingerprint);
  j["devices"] = plan.device;
  if (plan.has_priority()) j["priority"] = plan.priority;
  return j.dump(1) + "\n";
}

void save_plan(const Plan& plan, const std::string& path) {
  const auto extension = std::filesystem::path(path).extension().string();
  if (extension == ".json") return write_file_atomically(path, plan_to_json(plan));
  if (extension == ".yaml" || extension == ".yml") return write_file_atomically(path, plan_to_yaml(plan));
  throw Error(path + ": a plan file must end in .yaml, .yml or .json");
}

Plan parse_placement_line(const std::string& line, const std::string& source, std::size_t line_number) {
  Plan plan;
  plan.source = source + ":" + std::to_string(line_number);
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\r')) ++i;
    std::size_t j = i;
    while (j < line.size() && line[j] != ',') ++j;
    std::size_t k = j;
    while (k > i && (line[k - 1] == ' ' || line[k - 1] == '\r')) --k;
    long long value = -1;
    auto [ptr, ec] = std::from_chars(line.data() + i, line.data() + k, value);
    if (k == i || ec != std::errc() || ptr != line.data() + k || value < 0) {
      throw_at(source, line_number,
               "placement entry " + std::to_string(plan.device.size()) + " '" + line.substr(i, k - i) +
                   "' is not a device index");
    }
    plan.device.push_back(static_cast<DeviceId>(value));
    i = j + 1;
  }
  return plan;
}

void validate_plan(const Plan& plan, const TaskGraph& graph, std::size_t num_devices) {
  if (plan.device.size() != graph.num_ops()) {
    throw Error(plan.source + ": plan places " + std::to_string(plan.device.size()) + " ops but graph " +
                graph.source() + " has " + std::to_string(graph.num_ops()) + " (a plan for another graph?)");
  }
  if (plan.graph_fingerprint && *plan.graph_fingerprint != graph.fingerprint()) {
    throw Error(plan.source + ": plan was made for another graph (fingerprint " +
                hex(*plan.graph_fingerprint) + ", " + graph.source() + " has " + hex(graph.fingerprint()) +
                ")");
  }
  for (std::size_t i = 0; i < plan.device.size(); ++i) {
    if (plan.device[i] >= num_devices) {
      throw Error(plan.source + ": op '" + graph.op(static_cast<OpId>(i)).name + "' (index " +
                  std::to_string(i) + ") is placed on device " + std::to_string(plan.device[i]) +
                  " but the machine has " + std::to_string(num_devices) + " devices (0.." +
                  std::to_string(num_devices - 1) + ")");
    }
  }
  if (plan.has_priority() && plan.priority.size() != graph.num_ops()) {
    throw Error(plan.source + ": plan has " + std::to_string(plan.priority.size()) + " priorities for " +
                std::to_string(graph.num_ops()) + " ops");
  }
}

}  // namespace doppler
