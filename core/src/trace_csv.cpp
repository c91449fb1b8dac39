#include "doppler/trace_csv.hpp"

#include <charconv>
#include <cmath>
#include <sstream>

#include "doppler/error.hpp"
#include "doppler/file_io.hpp"

namespace doppler {
namespace {

constexpr const char* kHeader = "kind,op,name,device,src,stream,start,end,bytes";

// RFC 4180 fields: a field in double quotes may hold commas, and "" stands for one quote.
std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> fields(1);
  bool in_quotes = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (in_quotes) {
      if (c != '"') {
        fields.back() += c;
      } else if (i + 1 < line.size() && line[i + 1] == '"') {
        fields.back() += '"';
        ++i;
      } else {
        in_quotes = false;
      }
    } else if (c == '"' && fields.back().empty()) {
      in_quotes = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  return fields;
}

class Row {
 public:
  Row(const std::string& source, std::size_t line) : source_(source), line_(line) {}

  std::uint64_t integer(const std::string& text, const char* column) const {
    std::uint64_t value = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || ptr != text.data() + text.size())
      fail(std::string("column '") + column + "' = '" + text + "' is not a non-negative integer");
    return value;
  }
  DeviceId device(const std::string& text, const char* column, bool host_allowed) const {
    if (text == "host") {
      if (!host_allowed) fail(std::string("column '") + column + "': only a transfer may name the host");
      return kHostDevice;
    }
    const std::uint64_t value = integer(text, column);
    if (value >= kHostDevice) fail(std::string("column '") + column + "' = '" + text + "' is out of range");
    return static_cast<DeviceId>(value);
  }
  double number(const std::string& text, const char* column) const {
    char* end = nullptr;
    const double value = text.empty() ? NAN : std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0' || !std::isfinite(value))
      fail(std::string("column '") + column + "' = '" + text + "' is not a finite number");
    return value;
  }
  TraceRecord::Kind kind(const std::string& text) const {
    if (text == "compute") return TraceRecord::Kind::compute;
    if (text != "transfer") fail("kind '" + text + "' must be compute or transfer");
    return TraceRecord::Kind::transfer;
  }
  [[noreturn]] void fail(const std::string& message) const { throw_at(source_, line_, message); }

 private:
  const std::string& source_;
  std::size_t line_;
};

// Calls each(row, fields, line) for every non-empty line after the header, which must be `header`
// (an empty text is an error too).
template <class Each>
void for_each_row(const std::string& text, const std::string& source, const char* header, Each each) {
  std::istringstream in(text);
  std::string line;
  std::size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (number == 1) {
      if (line != header) throw_at(source, 1, std::string("expected the header '") + header + "'");
      continue;
    }
    if (line.empty()) continue;
    each(Row(source, number), split(line), number);
  }
  if (number == 0) throw_at(source, 0, std::string("empty file (expected the header '") + header + "')");
}

}  // namespace

TraceCsv parse_trace_csv(const std::string& text, const std::string& source) {
  TraceCsv out;
  out.source = source;
  for_each_row(text, source, kHeader, [&](const Row& row, std::vector<std::string> f, std::size_t number) {
    if (f.size() < 9)
      row.fail("expected 9 columns (" + std::string(kHeader) + "), got " + std::to_string(f.size()));
    const std::size_t tail = f.size() - 6;  // device,src,stream,start,end,bytes
    std::string name = f[2];
    for (std::size_t i = 3; i < tail; ++i) name += "," + f[i];
    TraceRecord r;
    r.kind = row.kind(f[0]);
    const bool compute = r.kind == TraceRecord::Kind::compute;
    const std::uint64_t op = row.integer(f[1], "op");
    if (op >= kNoOp) row.fail("column 'op' = '" + f[1] + "' is out of range");
    r.op = static_cast<OpId>(op);
    r.device = row.device(f[tail], "device", !compute);
    if (compute) {
      r.src = r.device;
      const std::uint64_t stream = row.integer(f[tail + 2], "stream");
      if (stream > 1024) row.fail("column 'stream' = '" + f[tail + 2] + "' is out of range");
      r.stream = static_cast<int>(stream);
    } else {
      r.src = row.device(f[tail + 1], "src", true);
      if (r.src == r.device) row.fail("a transfer's src and device must differ");
    }
    r.start = row.number(f[tail + 3], "start");
    r.end = row.number(f[tail + 4], "end");
    if (r.end < r.start) row.fail("end " + f[tail + 4] + " is before start " + f[tail + 3]);
    r.bytes = row.number(f[tail + 5], "bytes");
    if (r.bytes < 0) row.fail("column 'bytes' must be non-negative");
    out.trace.records.push_back(r);
    out.names.push_back(std::move(name));
    out.lines.push_back(number);
  });
  return out;
}

TraceCsv load_trace_csv(const std::string& path) {
  return parse_trace_csv(read_text_file(path), path);
}

std::vector<HostLaunch> parse_launches_csv(const std::string& text, const std::string& source) {
  constexpr const char* kLaunchHeader = "kind,op,device,src,launched";
  constexpr const char* kSubmittedHeader = "kind,op,device,src,launched,submitted";
  const std::string first = text.substr(0, text.find('\n'));
  const bool submitted = first == kSubmittedHeader || first == std::string(kSubmittedHeader) + "\r";
  const char* header = submitted ? kSubmittedHeader : kLaunchHeader;
  const std::size_t columns = submitted ? 6 : 5;
  std::vector<HostLaunch> out;
  for_each_row(text, source, header,
               [&](const Row& row, const std::vector<std::string>& f, std::size_t number) {
                 if (f.size() != columns)
                   row.fail("expected " + std::to_string(columns) + " columns (" + header + "), got " +
                            std::to_string(f.size()));
                 HostLaunch l;
                 l.line = number;
                 l.kind = row.kind(f[0]);
                 const std::uint64_t op = row.integer(f[1], "op");
                 if (op >= kNoOp) row.fail("column 'op' = '" + f[1] + "' is out of range");
                 l.op = static_cast<OpId>(op);
                 l.device = row.device(f[2], "device", false);
                 l.src = l.kind == TraceRecord::Kind::compute ? l.device : row.device(f[3], "src", false);
                 l.launched = row.number(f[4], "launched");
                 if (submitted && !f[5].empty()) {
                   l.submitted = row.number(f[5], "submitted");
                   if (l.submitted < l.launched)
                     row.fail("submitted " + f[5] + " is before launched " + f[4]);
                 }
                 out.push_back(l);
               });
  return out;
}

std::vector<HostLaunch> load_launches_csv(const std::string& path) {
  return parse_launches_csv(read_text_file(path), path);
}

}  // namespace doppler
