#include "doppler/traced_run.hpp"

#include <algorithm>
#include <filesystem>

#include "doppler/error.hpp"
#include "doppler/file_io.hpp"
#include "doppler/yaml_util.hpp"

namespace doppler {
namespace {

namespace fs = std::filesystem;

constexpr const char* kRunFile = "run.yaml";
constexpr const char* kLaunchesFile = "launches.csv";

void check_keys(const YAML::Node& map, const std::vector<std::string>& known, const std::string& source,
                const std::string& where) {
  for (const auto& entry : map) {
    const std::string key = entry.first.Scalar();
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    std::string list;
    for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
    throw_at(source, yaml_line(entry.first), where + "unknown key '" + key + "' (known: " + list + ")");
  }
}

GpuInfo read_gpu(const YAML::Node& node, const std::string& source) {
  if (!node.IsMap())
    throw_at(source, yaml_line(node), "'gpu' must be a mapping {name, names, driver, cuda, cublas, clocks}");
  check_keys(node, {"name", "names", "driver", "cuda", "cublas", "clocks"}, source, "gpu: ");
  GpuInfo gpu{yaml_string(node, "name", source, ""),   yaml_string(node, "driver", source, ""),
              yaml_string(node, "cuda", source, ""),   yaml_string(node, "cublas", source, ""),
              yaml_string(node, "clocks", source, ""), {}};
  if (const YAML::Node names = node["names"]) {
    if (!names.IsSequence()) throw_at(source, yaml_line(names), "gpu: 'names' must be a list of strings");
    for (const YAML::Node& name : names) {
      if (!name.IsScalar()) throw_at(source, yaml_line(name), "gpu: 'names' must be a list of strings");
      gpu.names.push_back(name.Scalar());
    }
  }
  return gpu;
}

std::string existing(const fs::path& dir, const std::string& name, const std::string& source,
                     const YAML::Node& at, const char* key) {
  const fs::path path = dir / name;
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    throw_at(source, at ? yaml_line(at) : 0, std::string("'") + key + "': no file '" + path.string() + "'");
  return path.string();
}

}  // namespace

TracedRun load_traced_run(const std::string& dir) {
  const fs::path root(dir);
  const std::string source = (root / kRunFile).string();
  std::error_code ec;
  if (!fs::is_regular_file(source, ec))
    throw Error(source + ": missing (a traced run directory needs run.yaml)");
  const YAML::Node node = parse_yaml_document(read_text_file(source), source);
  if (!node.IsMap())
    throw_at(source, yaml_line(node), "run.yaml must be a mapping (workload, config, makespan, ...)");
  check_keys(
      node, {"workload", "placement", "config", "plan", "trace", "makespan", "devices", "queue_depth", "gpu"},
      source, "");
  TracedRun run;
  run.dir = dir;
  for (const char* key : {"workload", "config", "makespan", "devices"})
    if (!node[key]) throw_at(source, yaml_line(node), std::string("missing '") + key + "'");
  run.workload = yaml_string(node, "workload", source, "");
  if (run.workload.empty()) throw_at(source, yaml_line(node["workload"]), "'workload' must not be empty");
  run.config = existing(root, yaml_string(node, "config", source, ""), source, node["config"], "config");
  run.makespan = yaml_positive(node, "makespan", source, "run");
  const long long devices = yaml_integer(node, "devices", source, "run");
  if (devices < 1 || devices > 4096)
    throw_at(source, yaml_line(node["devices"]), "'devices' must be 1..4096");
  run.devices = static_cast<std::size_t>(devices);
  if (node["queue_depth"]) {
    const long long depth = yaml_integer(node, "queue_depth", source, "run");
    if (depth < 1 || depth > 1024)
      throw_at(source, yaml_line(node["queue_depth"]), "'queue_depth' must be 1..1024");
    run.queue_depth = static_cast<int>(depth);
  }
  if (node["gpu"]) run.gpu = read_gpu(node["gpu"], source);
  run.plan =
      load_plan(existing(root, yaml_string(node, "plan", source, "plan.yaml"), source, node["plan"], "plan"));
  run.placement = yaml_string(node, "placement", source, run.plan.method);
  if (run.placement.empty()) run.placement = root.filename().string();
  run.trace = load_trace_csv(
      existing(root, yaml_string(node, "trace", source, "trace.csv"), source, node["trace"], "trace"));
  if (fs::is_regular_file(root / kLaunchesFile, ec))
    run.launches = load_launches_csv((root / kLaunchesFile).string());
  return run;
}

std::vector<std::string> find_traced_runs(const std::string& root) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) throw Error(root + ": not a directory of traced runs");
  std::vector<std::string> dirs;
  if (fs::is_regular_file(fs::path(root) / kRunFile, ec)) dirs.push_back(root);
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->is_directory(ec) && fs::is_regular_file(it->path() / kRunFile, ec))
      dirs.push_back(it->path().string());
  }
  if (ec) throw Error(root + ": cannot list: " + ec.message());
  if (dirs.empty()) throw Error(root + ": no traced runs (directories holding run.yaml)");
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

void check_traced_run(const TracedRun& run, const TaskGraph& graph) {
  validate_plan(run.plan, graph, run.devices);
  const TraceCsv& t = run.trace;
  for (std::size_t i = 0; i < t.trace.records.size(); ++i) {
    const TraceRecord& r = t.trace.records[i];
    const std::size_t line = t.lines[i];
    if (r.op >= graph.num_ops())
      throw_at(t.source, line,
               "op " + std::to_string(r.op) + " is not in the graph of " + run.config + " (" +
                   std::to_string(graph.num_ops()) + " ops)");
    if (t.names[i] != graph.op(r.op).name)
      throw_at(t.source, line,
               "op " + std::to_string(r.op) + " is '" + t.names[i] + "' here but '" + graph.op(r.op).name +
                   "' in the graph of " + run.config);
    for (const DeviceId d : {r.device, r.src})
      if (d != kHostDevice && d >= run.devices)
        throw_at(t.source, line,
                 "device " + std::to_string(d) + " is not one of the run's " + std::to_string(run.devices) +
                     " devices");
    if (r.kind == TraceRecord::Kind::compute && r.device != run.plan.device[r.op])
      throw_at(t.source, line,
               "op '" + graph.op(r.op).name + "' ran on device " + std::to_string(r.device) + " but " +
                   run.plan.source + " places it on device " + std::to_string(run.plan.device[r.op]));
  }
  const std::string launches = (fs::path(run.dir) / kLaunchesFile).string();
  for (const HostLaunch& l : run.launches) {
    if (l.op >= graph.num_ops())
      throw_at(launches, l.line, "op " + std::to_string(l.op) + " is not in the graph of " + run.config);
    for (const DeviceId d : {l.device, l.src})
      if (d >= run.devices)
        throw_at(launches, l.line,
                 "device " + std::to_string(d) + " is not one of the run's " + std::to_string(run.devices) +
                     " devices");
    if (l.kind == TraceRecord::Kind::compute && l.device != run.plan.device[l.op])
      throw_at(launches, l.line,
               "op '" + graph.op(l.op).name + "' was launched on device " + std::to_string(l.device) +
                   " but " + run.plan.source + " places it on device " +
                   std::to_string(run.plan.device[l.op]));
    if (l.kind == TraceRecord::Kind::transfer && l.src == l.device)
      throw_at(launches, l.line, "a transfer's src and device must differ");
  }
}

}  // namespace doppler
