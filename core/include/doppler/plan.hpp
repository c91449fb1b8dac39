#pragma once
// Contract: a plan = a device per op and, optionally, a priority per op (LOWER value runs first
// among ready ops of one device; without priorities a device runs its ready ops in the order they
// became ready). YAML and JSON share one schema (docs/FORMATS.md). validate_plan() checks a plan
// against its graph and machine and throws an Error naming the plan file and the offending op.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "doppler/machine.hpp"
#include "doppler/task_graph.hpp"

namespace doppler {

struct Plan {
  std::vector<DeviceId> device;                    // one per op
  std::vector<double> priority;                    // empty, or one per op
  std::optional<std::uint64_t> graph_fingerprint;  // ties the plan to its graph when present
  std::string method;                              // who made it (informational)
  std::string source = "<plan>";                   // file it came from, for messages

  bool has_priority() const { return !priority.empty(); }
};

Plan load_plan(const std::string& path);  // .yaml/.yml/.json
Plan parse_plan(const std::string& text, const std::string& source_name);
std::string plan_to_yaml(const Plan& plan);
std::string plan_to_json(const Plan& plan);
void save_plan(const Plan& plan, const std::string& path);  // by extension, atomically

// "0,1,3,2" -> devices (one placement per line of the reference files). Errors name source:line.
Plan parse_placement_line(const std::string& line, const std::string& source, std::size_t line_number);

void validate_plan(const Plan& plan, const TaskGraph& graph, std::size_t num_devices);

}  // namespace doppler
