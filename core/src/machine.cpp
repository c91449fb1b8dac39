#include "doppler/machine.hpp"

#include <algorithm>

#include "doppler/error.hpp"
#include "doppler/file_io.hpp"
#include "doppler/yaml_util.hpp"

namespace doppler {
namespace {

LinkSpec read_link(const YAML::Node& node, const std::string& source, const std::string& where) {
  if (!node.IsMap()) throw_at(source, yaml_line(node), where + " must be a mapping {bandwidth, latency}");
  LinkSpec link;
  link.bandwidth = yaml_positive(node, "bandwidth", source, where);
  link.latency = node["latency"] ? yaml_non_negative(node, "latency", source, where) : 0.0;
  return link;
}

DeviceSpec read_device(const YAML::Node& node, const std::string& source, const std::string& where) {
  if (!node.IsMap()) throw_at(source, yaml_line(node), where + " must be a mapping");
  DeviceSpec d;
  d.name = yaml_string(node, "name", source, "");
  d.kind = yaml_string(node, "kind", source, "device");
  d.flops = yaml_positive(node, "flops", source, where);
  if (node["memory_bandwidth"])
    d.memory_bandwidth = yaml_non_negative(node, "memory_bandwidth", source, where);
  if (node["memory"]) d.memory_capacity = yaml_non_negative(node, "memory", source, where);
  if (node["streams"]) {
    const long long streams = yaml_integer(node, "streams", source, where);
    if (streams < 1 || streams > 64)
      throw_at(source, yaml_line(node["streams"]), where + ": 'streams' must be 1..64");
    d.streams = static_cast<int>(streams);
  }
  if (node["launch_overhead"]) d.launch_overhead = yaml_non_negative(node, "launch_overhead", source, where);
  if (node["copy_engines"]) {
    const long long engines = yaml_integer(node, "copy_engines", source, where);
    if (engines < 0 || engines > 64)
      throw_at(source, yaml_line(node["copy_engines"]), where + ": 'copy_engines' must be 0..64");
    d.copy_engines = static_cast<int>(engines);
  }
  if (node["shared_ingress"]) d.shared_ingress = yaml_bool(node, "shared_ingress", source, where);
  return d;
}

double table_number(const YAML::Node& row, std::size_t i, const std::string& source,
                    const std::string& where) {
  const std::string text = row[i].IsScalar() ? row[i].Scalar() : std::string();
  char* end = nullptr;
  const double value = text.empty() ? -1 : std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !(value >= 0) || value > 1e300)
    throw_at(source, yaml_line(row),
             where + ": table entry " + std::to_string(i) + " '" + text + "' is not a non-negative number");
  return value;
}

// Rows [flops, bytes, seconds] or [flops, bytes, seconds, samples], sorted by shape; none when absent.
std::vector<ShapeTime> read_shape_table(const YAML::Node& table, const char* key, const std::string& source,
                                        const std::string& where) {
  std::vector<ShapeTime> rows;
  if (!table) return rows;
  if (!table.IsSequence()) throw_at(source, yaml_line(table), where + ": '" + key + "' must be a list");
  for (const YAML::Node& row : table) {
    if (!row.IsSequence() || row.size() < 3 || row.size() > 4)
      throw_at(source, yaml_line(row),
               where + ": a " + key + " row is [flops, bytes, time] or [flops, bytes, time, samples]");
    ShapeTime entry{table_number(row, 0, source, where), table_number(row, 1, source, where),
                    table_number(row, 2, source, where), 1};
    if (row.size() == 4) entry.samples = static_cast<std::size_t>(table_number(row, 3, source, where));
    rows.push_back(entry);
  }
  std::sort(rows.begin(), rows.end(), [](const ShapeTime& a, const ShapeTime& b) {
    return a.flops != b.flops ? a.flops < b.flops : a.bytes < b.bytes;
  });
  return rows;
}

KindCalibration read_kind(const YAML::Node& node, const std::string& source, const std::string& where) {
  if (!node.IsMap()) throw_at(source, yaml_line(node), where + " must be a mapping");
  KindCalibration k;
  if (node["flop_rate"]) k.flop_rate = yaml_non_negative(node, "flop_rate", source, where);
  if (node["bandwidth"]) k.bandwidth = yaml_non_negative(node, "bandwidth", source, where);
  if (node["overhead"]) k.overhead = yaml_non_negative(node, "overhead", source, where);
  if (node["host_launch"]) k.host_launch = yaml_non_negative(node, "host_launch", source, where);
  if (node["samples"]) k.samples = static_cast<std::size_t>(yaml_integer(node, "samples", source, where));
  k.table = read_shape_table(node["table"], "table", source, where);
  k.host_table = read_shape_table(node["host_table"], "host_table", source, where);
  return k;
}

Calibration read_calibration(const YAML::Node& node, const std::string& source) {
  if (!node.IsMap()) throw_at(source, yaml_line(node), "'calibration' must be a mapping");
  Calibration c;
  c.source = yaml_string(node, "source", source, "");
  c.format = 1;
  if (node["format"]) {
    const long long format = yaml_integer(node, "format", source, "calibration");
    if (format != 1 && format != 2)
      throw_at(source, yaml_line(node["format"]), "calibration: 'format' must be 1 or 2");
    c.format = static_cast<int>(format);
  }
  if (node["concurrency_slowdown"]) {
    c.concurrency_slowdown = yaml_positive(node, "concurrency_slowdown", source, "calibration");
    if (c.concurrency_slowdown < 1)
      throw_at(source, yaml_line(node["concurrency_slowdown"]),
               "calibration: 'concurrency_slowdown' must be >= 1");
  }
  if (node["dispatch_gap"]) c.dispatch_gap = yaml_non_negative(node, "dispatch_gap", source, "calibration");
  if (node["start_latency"])
    c.start_latency = yaml_non_negative(node, "start_latency", source, "calibration");
  if (node["copy_dispatch"])
    c.copy_dispatch = yaml_non_negative(node, "copy_dispatch", source, "calibration");
  // Files from before copy_gap charged the dispatch to every copy: the same as a gap of that size.
  c.copy_gap =
      node["copy_gap"] ? yaml_non_negative(node, "copy_gap", source, "calibration") : c.copy_dispatch;
  if (node["issue_depth"]) {
    const long long depth = yaml_integer(node, "issue_depth", source, "calibration");
    if (depth < 0 || depth > 1024)
      throw_at(source, yaml_line(node["issue_depth"]), "calibration: 'issue_depth' must be in 0..1024");
    c.issue_depth = static_cast<int>(depth);
  }
  if (node["arrival_latency"])
    c.arrival_latency = yaml_non_negative(node, "arrival_latency", source, "calibration");
  if (node["host_load"]) c.host_load = yaml_non_negative(node, "host_load", source, "calibration");
  if (node["host_copy"]) c.host_copy = yaml_non_negative(node, "host_copy", source, "calibration");
  if (node["launch_latency"])
    c.launch_latency = yaml_non_negative(node, "launch_latency", source, "calibration");
  if (const YAML::Node held = node["held_out"]) {
    if (!held.IsSequence()) throw_at(source, yaml_line(held), "calibration: 'held_out' must be a list");
    for (const YAML::Node& run : held) {
      if (!run.IsMap())
        throw_at(source, yaml_line(run), "calibration.held_out: entries are {workload, placement}");
      c.held_out.push_back(
          {yaml_string(run, "workload", source, ""), yaml_string(run, "placement", source, "")});
    }
  }
  if (const YAML::Node kinds = node["kinds"]) {
    if (!kinds.IsMap())
      throw_at(source, yaml_line(kinds), "calibration: 'kinds' must be a mapping KIND: {...}");
    for (const auto& entry : kinds) {
      const std::string kind = entry.first.Scalar();
      c.kinds[kind] = read_kind(entry.second, source, "calibration.kinds." + kind);
    }
  }
  return c;
}

}  // namespace

namespace {

const ShapeTime* find_shape(const std::vector<ShapeTime>& table, double flops, double bytes) {
  const auto it = std::lower_bound(table.begin(), table.end(), std::pair{flops, bytes},
                                   [](const ShapeTime& a, const std::pair<double, double>& key) {
                                     return a.flops != key.first ? a.flops < key.first : a.bytes < key.second;
                                   });
  return it != table.end() && it->flops == flops && it->bytes == bytes ? &*it : nullptr;
}

}  // namespace

const ShapeTime* KindCalibration::find(double flops, double bytes) const {
  return find_shape(table, flops, bytes);
}

const ShapeTime* KindCalibration::find_host(double flops, double bytes) const {
  return find_shape(host_table, flops, bytes);
}

double KindCalibration::roofline(double flops, double bytes) const {
  double t = 0;
  if (flop_rate > 0) t = flops / flop_rate;
  if (bandwidth > 0) t = std::max(t, bytes / bandwidth);
  return overhead + t;
}

Machine parse_machine_yaml(const std::string& text, const std::string& source) {
  const YAML::Node root = parse_yaml_document(text, source);
  if (!root.IsMap()) throw_at(source, yaml_line(root), "a machine file must be a mapping with 'devices'");
  Machine m;
  m.name = yaml_string(root, "name", source, source);
  m.time_unit = yaml_string(root, "time_unit", source, "s");
  const YAML::Node devices = root["devices"];
  if (!devices) throw_at(source, yaml_line(root), "missing 'devices'");
  if (devices.IsSequence()) {
    for (std::size_t i = 0; i < devices.size(); ++i)
      m.devices.push_back(read_device(devices[i], source, "device " + std::to_string(i)));
  } else if (devices.IsMap() && devices["count"]) {
    const long long count = yaml_integer(devices, "count", source, "devices");
    if (count < 1 || count > 4096)
      throw_at(source, yaml_line(devices["count"]), "devices: 'count' must be 1..4096");
    const DeviceSpec spec = read_device(devices["template"], source, "devices.template");
    for (long long i = 0; i < count; ++i) m.devices.push_back(spec);
  } else {
    throw_at(source, yaml_line(devices), "'devices' must be a list or {count, template}");
  }
  if (m.devices.empty()) throw_at(source, yaml_line(devices), "the machine has no devices");
  const std::size_t n = m.devices.size();
  for (std::size_t i = 0; i < n; ++i)
    if (m.devices[i].name.empty()) m.devices[i].name = "dev" + std::to_string(i);

  const YAML::Node interconnect = root["interconnect"];
  if (!interconnect)
    throw_at(source, yaml_line(root), "missing 'interconnect' (at least 'default: {bandwidth, latency}')");
  std::vector<bool> set(n * n, false);
  m.links.assign(n * n, LinkSpec{});
  if (interconnect["default"]) {
    const LinkSpec fallback = read_link(interconnect["default"], source, "interconnect.default");
    m.links.assign(n * n, fallback);
    set.assign(n * n, true);
  }
  if (const YAML::Node links = interconnect["links"]) {
    if (!links.IsSequence()) throw_at(source, yaml_line(links), "interconnect.links must be a list");
    for (const YAML::Node& link : links) {
      const long long src = yaml_integer(link, "src", source, "link");
      const long long dst = yaml_integer(link, "dst", source, "link");
      if (src < 0 || dst < 0 || src >= static_cast<long long>(n) || dst >= static_cast<long long>(n) ||
          src == dst) {
        throw_at(source, yaml_line(link),
                 "link " + std::to_string(src) + "->" + std::to_string(dst) +
                     " must join two different devices in 0.." + std::to_string(n - 1));
      }
      const auto index = static_cast<std::size_t>(src) * n + static_cast<std::size_t>(dst);
      m.links[index] = read_link(link, source, "link " + std::to_string(src) + "->" + std::to_string(dst));
      set[index] = true;
      if (!link["one_way"] || !link["one_way"].as<bool>()) {
        const auto back = static_cast<std::size_t>(dst) * n + static_cast<std::size_t>(src);
        if (!set[back] || !interconnect["default"]) m.links[back] = m.links[index], set[back] = true;
      }
    }
  }
  for (std::size_t s = 0; s < n; ++s)
    for (std::size_t d = 0; d < n; ++d)
      if (s != d && !set[s * n + d]) {
        throw_at(source, yaml_line(interconnect),
                 "no link from device " + std::to_string(s) + " to device " + std::to_string(d) +
                     " (add interconnect.default or a link)");
      }

  const YAML::Node host = root["host"];
  LinkSpec to_device{1e300, 0}, from_device{1e300, 0};
  if (host) {
    if (host["to_device"]) to_device = read_link(host["to_device"], source, "host.to_device");
    if (host["from_device"]) from_device = read_link(host["from_device"], source, "host.from_device");
    if (host["memory"]) m.host_memory = yaml_non_negative(host, "memory", source, "host");
  }
  m.host_to_device.assign(n, to_device);
  m.device_to_host.assign(n, from_device);
  if (const YAML::Node calibration = root["calibration"])
    m.calibration = read_calibration(calibration, source);
  return m;
}

Machine load_machine(const std::string& path) {
  return parse_machine_yaml(read_text_file(path), path);
}

Machine abstract_machine(std::size_t num_devices) {
  if (num_devices < 1) throw Error("--devices must be at least 1");
  Machine m;
  m.name = "abstract-" + std::to_string(num_devices);
  m.time_unit = "units";
  for (std::size_t i = 0; i < num_devices; ++i) {
    DeviceSpec d;
    d.name = "dev" + std::to_string(i);
    d.kind = "abstract";
    m.devices.push_back(d);
  }
  m.links.assign(num_devices * num_devices, LinkSpec{1, 0});
  m.host_to_device.assign(num_devices, LinkSpec{1, 0});
  m.device_to_host.assign(num_devices, LinkSpec{1, 0});
  return m;
}

}  // namespace doppler
