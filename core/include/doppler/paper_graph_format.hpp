#pragma once
// Contract: reads the Doppler paper's plain-text graph format (see
// configs/workloads/doppler-paper/README.md) into a validated TaskGraph. Each op gets
// fixed_cost = comp_cost and comm_cost = comm_cost (the paper model), and for the roofline model
// flops = comp_cost and output_bytes = comm_cost. Errors name the file and line.
#include <string>

#include "doppler/task_graph.hpp"

namespace doppler {

TaskGraph read_paper_graph(const std::string& path);
TaskGraph parse_paper_graph(const std::string& text, const std::string& source_name);

}  // namespace doppler
