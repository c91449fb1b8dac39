#include "report.hpp"

#include <cstdio>

#include "doppler/sim/cost_model.hpp"

namespace doppler::cli {

nlohmann::ordered_json inputs_json(const Experiment& experiment, const Workload& workload) {
  nlohmann::ordered_json j;
  j["name"] = experiment.name;
  j["graph"] = workload.graph_label;
  j["ops"] = workload.graph.num_ops();
  j["edges"] = workload.graph.num_edges();
  j["machine"] = workload.machine.name;
  j["num_devices"] = workload.machine.num_devices();
  j["model"] = sim::to_string(workload.model);
  j["seed"] = experiment.seed;
  j["time_unit"] = workload.machine.time_unit;
  return j;
}

std::string inputs_line(const Experiment& experiment, const Workload& workload) {
  return experiment.name + ": " + workload.graph_label + " (" + std::to_string(workload.graph.num_ops()) +
         " ops) on " + workload.machine_label + ", model " + sim::to_string(workload.model) + ", seed " +
         std::to_string(experiment.seed) + ", times in " + workload.machine.time_unit;
}

std::string ratio_text(double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.3f", value);
  return buffer;
}

std::string percent_text(double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.1f%%", value * 100);
  return buffer;
}

std::string g4(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.4g", value);
  return text;
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

}  // namespace doppler::cli
