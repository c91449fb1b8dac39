#include "doppler/graph_yaml.hpp"

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <sstream>
#include <unordered_map>

#include "doppler/error.hpp"
#include "doppler/file_io.hpp"
#include "doppler/number_format.hpp"
#include "doppler/paper_graph_format.hpp"
#include "doppler/yaml_util.hpp"

namespace doppler {

TaskGraph parse_graph_yaml(const std::string& text, const std::string& source_name) {
  const YAML::Node root = parse_yaml_document(text, source_name);
  if (!root.IsMap())
    throw_at(source_name, yaml_line(root), "a graph file must be a mapping with 'ops' and 'edges'");
  const YAML::Node ops = root["ops"];
  if (!ops || !ops.IsSequence()) throw_at(source_name, yaml_line(root), "missing 'ops' list");
  TaskGraph graph(source_name);
  std::unordered_map<std::string, OpId> by_name;
  for (const YAML::Node& node : ops) {
    if (!node.IsMap()) throw_at(source_name, yaml_line(node), "each op must be a mapping");
    Op op;
    op.name = yaml_string(node, "name", source_name, "");
    op.kind = yaml_string(node, "kind", source_name, "op");
    const std::string where = "op '" + (op.name.empty() ? std::to_string(graph.num_ops()) : op.name) + "'";
    if (node["cost"]) op.fixed_cost = yaml_non_negative(node, "cost", source_name, where);
    if (node["comm"]) op.comm_cost = yaml_non_negative(node, "comm", source_name, where);
    op.flops = node["flops"] ? yaml_non_negative(node, "flops", source_name, where) : 0.0;
    op.bytes_read = node["bytes_read"] ? yaml_non_negative(node, "bytes_read", source_name, where) : 0.0;
    op.bytes_written =
        node["bytes_written"] ? yaml_non_negative(node, "bytes_written", source_name, where) : 0.0;
    op.output_bytes =
        node["output_bytes"] ? yaml_non_negative(node, "output_bytes", source_name, where) : 0.0;
    for (auto it = node.begin(); it != node.end(); ++it) {
      static const char* known[] = {"name",  "kind",       "cost",          "comm",
                                    "flops", "bytes_read", "bytes_written", "output_bytes"};
      const auto key = it->first.as<std::string>();
      if (std::find(std::begin(known), std::end(known), key) == std::end(known)) {
        throw_at(source_name, yaml_line(it->first), where + ": unknown field '" + key + "'");
      }
    }
    const OpId id = graph.add_op(op);
    if (!by_name.emplace(graph.op(id).name, id).second) {
      throw_at(source_name, yaml_line(node), "duplicate op name '" + graph.op(id).name + "'");
    }
  }
  const YAML::Node edges = root["edges"];
  if (edges) {
    if (!edges.IsSequence())
      throw_at(source_name, yaml_line(edges), "'edges' must be a list of [src, dst] pairs");
    for (const YAML::Node& edge : edges) {
      if (!edge.IsSequence() || edge.size() != 2)
        throw_at(source_name, yaml_line(edge), "an edge must be [src, dst]");
      OpId ends[2];
      for (int k = 0; k < 2; ++k) {
        const auto ref = edge[k].as<std::string>();
        if (auto it = by_name.find(ref); it != by_name.end()) {
          ends[k] = it->second;
        } else {
          char* end = nullptr;
          const unsigned long id = std::strtoul(ref.c_str(), &end, 10);
          if (ref.empty() || *end != '\0' || id >= graph.num_ops()) {
            throw_at(source_name, yaml_line(edge[k]), "edge names unknown op '" + ref + "'");
          }
          ends[k] = static_cast<OpId>(id);
        }
      }
      if (ends[0] == ends[1])
        throw_at(source_name, yaml_line(edge), "op '" + graph.op(ends[0]).name + "' depends on itself");
      graph.add_edge(ends[0], ends[1]);
    }
  }
  graph.validate();
  return graph;
}

TaskGraph load_graph(const std::string& path) {
  const auto extension = std::filesystem::path(path).extension().string();
  if (extension == ".txt") return read_paper_graph(path);
  if (extension == ".yaml" || extension == ".yml" || extension == ".json") {
    return parse_graph_yaml(read_text_file(path), path);
  }
  throw Error(path + ": unknown graph format '" + extension +
              "' (expected .txt for the Doppler-paper format or .yaml/.yml/.json)");
}

std::string graph_to_yaml(const TaskGraph& graph, const std::string& name) {
  std::ostringstream out;
  out << "name: " << name << "\nops:\n";
  for (OpId v = 0; v < graph.num_ops(); ++v) {
    const Op& o = graph.op(v);
    out << "  - {name: " << o.name << ", kind: " << o.kind;
    if (o.fixed_cost) out << ", cost: " << format_number(*o.fixed_cost);
    if (o.comm_cost) out << ", comm: " << format_number(*o.comm_cost);
    if (o.flops > 0) out << ", flops: " << format_number(o.flops);
    if (o.bytes_read > 0) out << ", bytes_read: " << format_number(o.bytes_read);
    if (o.bytes_written > 0) out << ", bytes_written: " << format_number(o.bytes_written);
    if (o.output_bytes > 0) out << ", output_bytes: " << format_number(o.output_bytes);
    out << "}\n";
  }
  out << "edges:\n";
  for (OpId u = 0; u < graph.num_ops(); ++u)
    for (OpId v : graph.successors(u)) out << "  - [" << u << ", " << v << "]\n";
  return out.str();
}

}  // namespace doppler
