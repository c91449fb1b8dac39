#pragma once
// Contract: reads the CSV form of a trace (trace_to_csv: kind,op,name,device,src,stream,start,end,
// bytes) back into a Trace. Fields follow RFC 4180 (trace_to_csv quotes names with commas); an
// unquoted name may contain commas too (older files: the name is everything between the op id and
// the last six columns). A transfer's `src` or `device` may be `host` (kHostDevice): copies
// between host memory and a device. Every malformed row is an Error naming FILE:LINE.
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

}  // namespace doppler
