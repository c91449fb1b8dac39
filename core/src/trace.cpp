#include "doppler/trace.hpp"

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "doppler/error.hpp"
#include "doppler/file_io.hpp"
#include "doppler/number_format.hpp"

namespace doppler {

std::string trace_to_chrome_json(const Trace& trace, const TaskGraph& graph) {
  const double scale = trace.time_unit == "s" ? 1e6 : 1.0;
  const auto num_devices = trace.device_names.size();
  nlohmann::json events = nlohmann::json::array();
  std::map<std::pair<DeviceId, int>, bool> streams;
  std::map<std::pair<DeviceId, DeviceId>, bool> links;
  for (const TraceRecord& r : trace.records) {
    if (r.kind == TraceRecord::Kind::transfer)
      for (const DeviceId d : {r.device, r.src})
        if (d != kHostDevice && d >= num_devices)
          throw Error("trace: a transfer of op " + std::to_string(r.op) + " names device " +
                      std::to_string(d) + ", but the trace names " + std::to_string(num_devices) +
                      " device(s)");
    nlohmann::json e;
    e["ph"] = "X";
    e["ts"] = r.start * scale;
    e["dur"] = (r.end - r.start) * scale;
    const std::string& op = graph.op(r.op).name;
    if (r.kind == TraceRecord::Kind::compute) {
      e["name"] = op;
      e["cat"] = "compute";
      e["pid"] = r.device;
      e["tid"] = r.stream;
      e["args"] = {{"op", r.op}, {"kind", graph.op(r.op).kind}};
      streams[{r.device, r.stream}] = true;
    } else {
      e["name"] =
          op + " -> " + (r.device == kHostDevice ? std::string("host") : "dev" + std::to_string(r.device));
      e["cat"] = "transfer";
      e["pid"] = r.src == kHostDevice ? 2 * num_devices : num_devices + r.src;
      e["tid"] = r.device == kHostDevice ? num_devices : r.device;
      e["args"] = {{"tensor_of", r.op}, {"bytes", r.bytes}};
      links[{r.src, r.device}] = true;
    }
    events.push_back(std::move(e));
  }
  auto meta = [&events](const char* what, std::size_t pid, long tid, const std::string& name) {
    nlohmann::json m{{"ph", "M"}, {"name", what}, {"pid", pid}, {"args", {{"name", name}}}};
    if (tid >= 0) m["tid"] = tid;
    events.push_back(std::move(m));
  };
  for (std::size_t d = 0; d < num_devices; ++d)
    meta("process_name", d, -1, trace.device_names[d] + " compute");
  for (const auto& [key, unused] : streams)
    meta("thread_name", key.first, key.second, "stream " + std::to_string(key.second));
  const auto end_name = [&trace](DeviceId d) {
    return d == kHostDevice ? std::string("host") : trace.device_names[d];
  };
  for (const auto& [key, unused] : links) {
    const std::size_t pid = key.first == kHostDevice ? 2 * num_devices : num_devices + key.first;
    const long tid =
        key.second == kHostDevice ? static_cast<long>(num_devices) : static_cast<long>(key.second);
    meta("process_name", pid, -1, end_name(key.first) + " links out");
    meta("thread_name", pid, tid, end_name(key.first) + " -> " + end_name(key.second));
  }
  nlohmann::json root{{"traceEvents", std::move(events)},
                      {"displayTimeUnit", "ns"},
                      {"otherData", {{"time_unit", trace.time_unit}, {"graph", graph.source()}}}};
  return root.dump() + "\n";
}

namespace {

// An RFC 4180 field: quoted (quotes doubled) when it holds a comma, a quote or a line break.
std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (const char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + '"';
}

}  // namespace

std::string trace_to_csv(const Trace& trace, const TaskGraph& graph) {
  const auto end_text = [](DeviceId d) { return d == kHostDevice ? std::string("host") : std::to_string(d); };
  std::ostringstream out;
  out << "kind,op,name,device,src,stream,start,end,bytes\n";
  for (const TraceRecord& r : trace.records) {
    const bool compute = r.kind == TraceRecord::Kind::compute;
    out << (compute ? "compute" : "transfer") << ',' << r.op << ',' << csv_field(graph.op(r.op).name) << ','
        << end_text(r.device) << ',' << (compute ? std::string() : end_text(r.src)) << ','
        << (compute ? std::to_string(r.stream) : std::string()) << ',' << format_number(r.start) << ','
        << format_number(r.end) << ',' << format_number(r.bytes) << '\n';
  }
  return out.str();
}

void save_trace(const Trace& trace, const TaskGraph& graph, const std::string& path) {
  const auto extension = std::filesystem::path(path).extension().string();
  if (extension == ".json") return write_file_atomically(path, trace_to_chrome_json(trace, graph));
  if (extension == ".csv") return write_file_atomically(path, trace_to_csv(trace, graph));
  throw Error(path + ": a trace file must end in .json (Chrome trace) or .csv");
}

}  // namespace doppler
