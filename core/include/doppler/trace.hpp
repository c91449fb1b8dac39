#pragma once
// Contract: an execution trace, the same value type for the simulator and the CUDA backend: one
// record per op run (device, stream, start, end) and per transfer (source, destination, start,
// end, bytes; either end may be the host, kHostDevice). Writers produce Chrome trace-event JSON (Perfetto /
// chrome://tracing; one row per device compute stream and per directed link) and CSV, both written
// atomically.
#include <cstdint>
#include <string>
#include <vector>

#include "doppler/machine.hpp"
#include "doppler/task_graph.hpp"

namespace doppler {

// A transfer's end in host memory (src or device of a transfer record).
inline constexpr DeviceId kHostDevice = static_cast<DeviceId>(-1);

struct TraceRecord {
  enum class Kind : std::uint8_t { compute, transfer };
  Kind kind = Kind::compute;
  OpId op = kNoOp;      // the op run, or the producer of the tensor moved
  DeviceId device = 0;  // compute: device; transfer: destination
  DeviceId src = 0;     // transfer: source device
  int stream = 0;       // compute stream index on its device
  double start = 0;
  double end = 0;
  double bytes = 0;  // transfer: bytes moved
};

struct Trace {
  std::string time_unit = "s";
  std::vector<std::string> device_names;
  std::vector<TraceRecord> records;
};

// Chrome trace-event JSON. Seconds map to microseconds; abstract units map 1:1 to microseconds.
std::string trace_to_chrome_json(const Trace& trace, const TaskGraph& graph);
std::string trace_to_csv(const Trace& trace, const TaskGraph& graph);
// Writes by extension: .json -> Chrome trace, .csv -> CSV.
void save_trace(const Trace& trace, const TaskGraph& graph, const std::string& path);

}  // namespace doppler
