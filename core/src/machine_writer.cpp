#include <nlohmann/json.hpp>
#include <sstream>

#include "doppler/machine.hpp"
#include "doppler/number_format.hpp"

namespace doppler {
namespace {

// A JSON string is a valid YAML double-quoted scalar.
std::string quoted(const std::string& text) {
  return nlohmann::json(text).dump();
}

std::string link_yaml(const LinkSpec& link) {
  return "bandwidth: " + format_number(link.bandwidth) + ", latency: " + format_number(link.latency);
}

bool finite_link(const LinkSpec& link) {
  return link.bandwidth < 1e300;
}

void write_shape_table(std::ostream& out, const char* key, const std::vector<ShapeTime>& rows) {
  if (rows.empty()) return;
  out << "      " << key << ":  # [flops, bytes, seconds (median), samples]\n";
  for (const ShapeTime& row : rows)
    out << "        - [" << format_number(row.flops) << ", " << format_number(row.bytes) << ", "
        << format_number(row.time) << ", " << row.samples << "]\n";
}

void write_calibration(std::ostream& out, const Calibration& c) {
  out << "calibration:\n";
  out << "  format: " << c.format << "\n";
  if (!c.source.empty()) out << "  source: " << quoted(c.source) << "\n";
  out << "  concurrency_slowdown: " << format_number(c.concurrency_slowdown) << "\n";
  out << "  dispatch_gap: " << format_number(c.dispatch_gap) << "\n";
  out << "  arrival_latency: " << format_number(c.arrival_latency) << "\n";
  out << "  copy_dispatch: " << format_number(c.copy_dispatch) << "\n";
  out << "  copy_gap: " << format_number(c.copy_gap) << "\n";
  out << "  start_latency: " << format_number(c.start_latency) << "\n";
  if (c.issue_depth > 0) out << "  issue_depth: " << c.issue_depth << "\n";
  if (c.host_load > 0 || c.host_copy > 0 || c.launch_latency > 0) {
    out << "  host_load: " << format_number(c.host_load) << "\n";
    out << "  host_copy: " << format_number(c.host_copy) << "\n";
    out << "  launch_latency: " << format_number(c.launch_latency) << "\n";
  }
  if (!c.held_out.empty()) {
    out << "  held_out:\n";
    for (const HeldOutRun& run : c.held_out)
      out << "    - {workload: " << quoted(run.workload) << ", placement: " << quoted(run.placement) << "}\n";
  }
  out << "  kinds:\n";
  for (const auto& [kind, k] : c.kinds) {
    out << "    " << quoted(kind) << ":\n"
        << "      flop_rate: " << format_number(k.flop_rate) << "\n"
        << "      bandwidth: " << format_number(k.bandwidth) << "\n"
        << "      overhead: " << format_number(k.overhead) << "\n"
        << (k.host_launch > 0 ? "      host_launch: " + format_number(k.host_launch) + "\n" : std::string())
        << "      samples: " << k.samples << "\n";
    write_shape_table(out, "table", k.table);
    write_shape_table(out, "host_table", k.host_table);
  }
}

}  // namespace

std::string machine_to_yaml(const Machine& m) {
  std::ostringstream out;
  const std::size_t n = m.num_devices();
  out << "name: " << quoted(m.name) << "\n"
      << "time_unit: " << quoted(m.time_unit) << "\n"
      << "devices:\n";
  for (const DeviceSpec& d : m.devices) {
    out << "  - {name: " << quoted(d.name) << ", kind: " << quoted(d.kind)
        << ", flops: " << format_number(d.flops)
        << ", memory_bandwidth: " << format_number(d.memory_bandwidth)
        << ", memory: " << format_number(d.memory_capacity) << ", streams: " << d.streams
        << ", launch_overhead: " << format_number(d.launch_overhead)
        << (d.copy_engines > 0 ? ", copy_engines: " + std::to_string(d.copy_engines) : std::string())
        << (d.shared_ingress ? ", shared_ingress: true" : "") << "}\n";
  }
  out << "interconnect:\n"
      << "  default: {" << link_yaml(n > 1 ? m.link(0, 1) : LinkSpec{}) << "}\n";
  if (n > 1) {
    out << "  links:\n";
    for (DeviceId s = 0; s < n; ++s)
      for (DeviceId t = 0; t < n; ++t)
        if (s != t)
          out << "    - {src: " << s << ", dst: " << t << ", " << link_yaml(m.link(s, t))
              << ", one_way: true}\n";
  }
  const bool to_device = !m.host_to_device.empty() && finite_link(m.host_to_device[0]);
  const bool from_device = !m.device_to_host.empty() && finite_link(m.device_to_host[0]);
  if (to_device || from_device || m.host_memory > 0) {
    out << "host:\n";
    if (to_device) out << "  to_device: {" << link_yaml(m.host_to_device[0]) << "}\n";
    if (from_device) out << "  from_device: {" << link_yaml(m.device_to_host[0]) << "}\n";
    if (m.host_memory > 0) out << "  memory: " << format_number(m.host_memory) << "\n";
  }
  if (m.calibration) write_calibration(out, *m.calibration);
  return out.str();
}

}  // namespace doppler
