#pragma once
// Contract: output pieces shared by the subcommands: the JSON description of a run's inputs, and
// number formats for tables (times exact via format_number, ratios and percentages rounded).
#include <nlohmann/json.hpp>

#include <string>

#include "doppler/experiment.hpp"
#include "run_inputs.hpp"

namespace doppler::cli {

// name, graph, ops, edges, machine, devices, model, seed, time_unit.
nlohmann::ordered_json inputs_json(const Experiment& experiment, const Workload& workload);
// "name: graph (N ops) on machine, model M, seed S" for table headers.
std::string inputs_line(const Experiment& experiment, const Workload& workload);

std::string ratio_text(double value);    // 3 decimals: "1.234"
std::string percent_text(double value);  // 0.8123 -> "81.2%"
// Four significant digits, exponent form where needed: rates of 1e14, times of 1e-6 ("%.4g").
std::string g4(double value);
// A CSV field: as is, or quoted (quotes doubled) when it holds a comma, quote or newline.
std::string csv_field(const std::string& text);

}  // namespace doppler::cli
