#include "doppler/paper_graph_format.hpp"

#include <charconv>
#include <sstream>
#include <vector>

#include "doppler/error.hpp"
#include "doppler/file_io.hpp"

namespace doppler {
namespace {

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t i = 0;
  auto is_separator = [](char c) { return c == ',' || c == ' ' || c == '\t' || c == '\r'; };
  while (i < line.size()) {
    while (i < line.size() && is_separator(line[i])) ++i;
    const std::size_t start = i;
    while (i < line.size() && !is_separator(line[i])) ++i;
    if (i > start) fields.push_back(line.substr(start, i - start));
  }
  return fields;
}

struct Reader {
  const std::string& source;
  std::vector<std::string_view> lines;

  [[noreturn]] void fail(std::size_t line, const std::string& message) const {
    throw_at(source, line, message);
  }

  long long integer(std::string_view field, std::size_t line, const char* what) const {
    long long value = 0;
    auto [ptr, ec] = std::from_chars(field.data(), field.data() + field.size(), value);
    if (ec != std::errc() || ptr != field.data() + field.size()) {
      fail(line, std::string(what) + " '" + std::string(field) + "' is not an integer");
    }
    if (value < 0) fail(line, std::string(what) + " " + std::to_string(value) + " is negative");
    return value;
  }

  double cost(std::string_view field, std::size_t line, const std::string& what) const {
    double value = 0;
    auto [ptr, ec] = std::from_chars(field.data(), field.data() + field.size(), value);
    if (ec != std::errc() || ptr != field.data() + field.size()) {
      fail(line, what + " '" + std::string(field) + "' is not a number");
    }
    if (!(value >= 0) || value > 9e15)
      fail(line, what + " " + std::string(field) + " is out of range (0..9e15)");
    return value;
  }

  std::vector<long long> integers(std::size_t line, const char* what) const {
    std::vector<long long> values;
    for (auto field : split_fields(lines[line - 1])) values.push_back(integer(field, line, what));
    return values;
  }
};

}  // namespace

TaskGraph parse_paper_graph(const std::string& text, const std::string& source_name) {
  Reader r{source_name, {}};
  std::string_view rest(text);
  while (!rest.empty()) {
    const auto end = rest.find('\n');
    r.lines.push_back(rest.substr(0, end));
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end + 1);
  }
  while (!r.lines.empty() && split_fields(r.lines.back()).empty()) r.lines.pop_back();
  if (r.lines.size() < 4)
    r.fail(r.lines.size() + 1,
           "file ends early: expected 4 header lines (node count, inputs, edge sources, edge destinations)");

  const auto header = split_fields(r.lines[0]);
  if (header.size() != 1) r.fail(1, "line 1 must hold exactly one integer, the total node count");
  const long long total = r.integer(header[0], 1, "total node count");
  const auto inputs = r.integers(2, "input id");
  const auto sources = r.integers(3, "edge source");
  const auto destinations = r.integers(4, "edge destination");
  if (sources.size() != destinations.size()) {
    r.fail(4, "edge destinations (" + std::to_string(destinations.size()) + ") and edge sources on line 3 (" +
                  std::to_string(sources.size()) + ") differ in length");
  }
  const long long num_ops = total - static_cast<long long>(inputs.size());
  if (num_ops <= 0) {
    r.fail(1, "total node count " + std::to_string(total) + " leaves no ops after " +
                  std::to_string(inputs.size()) + " inputs");
  }
  const std::size_t op_lines = r.lines.size() - 4;
  if (op_lines < static_cast<std::size_t>(num_ops)) {
    r.fail(r.lines.size() + 1, "file ends early: expected " + std::to_string(num_ops) + " op lines, found " +
                                   std::to_string(op_lines));
  }
  if (op_lines > static_cast<std::size_t>(num_ops)) {
    r.fail(5 + num_ops, "unexpected line after the last op (" + std::to_string(num_ops) + " ops = " +
                            std::to_string(total) + " nodes - " + std::to_string(inputs.size()) + " inputs)");
  }

  TaskGraph graph(source_name);
  for (long long i = 0; i < num_ops; ++i) {
    const std::size_t line = 5 + static_cast<std::size_t>(i);
    const auto fields = split_fields(r.lines[line - 1]);
    if (fields.size() < 2 || fields.size() > 3) {
      r.fail(line, "op " + std::to_string(i) + ": expected 'comp_cost,comm_cost[,optype]', found " +
                       std::to_string(fields.size()) + " fields");
    }
    Op op;
    op.name = "op" + std::to_string(i);
    op.fixed_cost = r.cost(fields[0], line, "op " + std::to_string(i) + ": comp_cost");
    op.comm_cost = r.cost(fields[1], line, "op " + std::to_string(i) + ": comm_cost");
    op.kind = fields.size() == 3 ? std::string(fields[2]) : std::string("op");
    op.flops = *op.fixed_cost;
    op.output_bytes = *op.comm_cost;
    graph.add_op(std::move(op));
  }
  for (std::size_t e = 0; e < sources.size(); ++e) {
    const std::size_t line = sources[e] >= num_ops ? 3 : 4;
    if (sources[e] >= num_ops || destinations[e] >= num_ops) {
      r.fail(line, "edge " + std::to_string(e) + " (" + std::to_string(sources[e]) + "->" +
                       std::to_string(destinations[e]) + ") names an op id >= " + std::to_string(num_ops));
    }
    if (sources[e] == destinations[e]) {
      r.fail(3, "edge " + std::to_string(e) + " is a self loop on op " + std::to_string(sources[e]));
    }
    graph.add_edge(static_cast<OpId>(sources[e]), static_cast<OpId>(destinations[e]));
  }
  graph.validate();
  return graph;
}

TaskGraph read_paper_graph(const std::string& path) {
  return parse_paper_graph(read_text_file(path), path);
}

}  // namespace doppler
