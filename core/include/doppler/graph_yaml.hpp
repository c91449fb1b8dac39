#pragma once
// Contract: doppler's own task-graph file format (YAML, or JSON which is read the same way), and
// load_graph(), which picks the reader by extension: .txt = Doppler-paper format, .yaml/.yml/.json =
// this format. Errors name the file and line.
//
//   name: my-graph
//   ops:
//     - {name: a, kind: matmul, cost: 10, comm: 4, flops: 2e9, bytes_read: 0, bytes_written: 0, output_bytes:
//     4e6}
//   edges:
//     - [a, b]          # by name, or by id: [0, 1]
#include <string>

#include "doppler/task_graph.hpp"

namespace doppler {

TaskGraph load_graph(const std::string& path);
TaskGraph parse_graph_yaml(const std::string& text, const std::string& source_name);
std::string graph_to_yaml(const TaskGraph& graph, const std::string& name);

}  // namespace doppler
