#pragma once
// Contract: reads the CSV form of a trace (trace_to_csv: kind,op,name,device,src,stream,start,end,
// bytes) back into a Trace. Fields follow RFC 4180 (trace_to_csv quotes names with commas); an
// unquoted name may contain commas too (older files: the name is everything between the op id and
// the last six columns). A transfer's `src` or `device` may be `host` (kHostDevice): copies
// between host memory and a device. Every malformed row is an Error naming FILE:LINE.
#include <limits>
#include <string>
#include <vector>

#include "doppler/trace.hpp"

namespace doppler {

struct TraceCsv {
  Trace trace;
  std::vector<std::string> names;  // per record: the op name as written
  std::vector<std::size_t> lines;  // per record: its line in the file (1-based)
  std::string source;
};

TraceCsv parse_trace_csv(const std::string& text, const std::string& source_name);
TraceCsv load_trace_csv(const std::string& path);

// launches.csv beside a CUDA backend trace (docs/FORMATS.md): `kind,op,device,src,launched` and,
// in files written since 2026-11-28, `submitted`: when the host began and ended the launch call of
// each op (compute: op, its device) and transfer (transfer: its producer, destination and source),
// in seconds after the base events. Errors name FILE:LINE.
struct HostLaunch {
  TraceRecord::Kind kind = TraceRecord::Kind::compute;
  OpId op = kNoOp;
  DeviceId device = 0;
  DeviceId src = 0;  // transfer: its source; compute: the device
  double launched = 0;
  std::size_t line = 0;
  double submitted = std::numeric_limits<double>::quiet_NaN();  // NaN: not recorded, or nothing launched
};
std::vector<HostLaunch> parse_launches_csv(const std::string& text, const std::string& source_name);
std::vector<HostLaunch> load_launches_csv(const std::string& path);

}  // namespace doppler
