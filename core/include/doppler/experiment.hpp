#pragma once
// Contract: an experiment config (YAML): which graph, on which machine, under which cost model, with
// which placements and seed, and where to write outputs. Input paths (graph, machine, plan files) are
// resolved against the config file's directory; output paths are kept as written, i.e. relative to
// the working directory like command-line flags. A bad value, an unknown key (typos are errors, never
// ignored) or a missing input throws an Error naming file:line and the field. Core knows no cost model
// or policy: the caller passes the names it accepts. Format (docs/CLI.md):
//
//   name: quickstart                     # default: the config file's stem
//   graph: workloads/doppler-paper/full_transformer_layer_261nodes.txt   # or random:N
//   einsum: {workload: llama_layer, batch: 8}   # instead of graph: an einsum workload, decomposed
//   decompose: {method: eindecomp}              #   (einsum/workload_spec.hpp) and lowered
//   devices: 4                           # N abstract devices, or: machine: machines/h100-4.yaml
//   model: paper                         # default: paper with devices, roofline with a machine file
//   placements: [heft, etf, plan.yaml]   # method names and/or plan files; default: the caller's
//   seed: 1                              # default 1
//   trace: out/trace.json                # optional (simulate): Chrome trace .json or .csv
//   output: {plan: out/plan.yaml, csv: out/compare.csv, plot: out/compare.svg}   # optional
//   policy: {...}  train: {...}         # sections the caller names (ExperimentNames::sections),
//                                        #   kept as YAML for the caller to read (docs/TRAINING.md)
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "doppler/einsum/workload_spec.hpp"

namespace YAML {
class Node;
}

namespace doppler {

// The names a config may use, supplied by the caller (sim knows the models, policies the methods).
struct ExperimentNames {
  std::vector<std::string> models;
  std::vector<std::string> methods;
  std::vector<std::string> sections;  // extra top-level keys (mappings) kept for the caller
};

struct PlacementSpec {
  std::string label;  // as written in the config (what tables show)
  std::string path;   // plan file resolved against the config's directory; empty for a method
  bool is_plan_file() const { return !path.empty(); }
};

struct Experiment {
  std::string source;  // the config file
  std::string name;
  std::string graph;                                 // resolved path, or "random:N"; empty with einsum
  std::optional<einsum::EinsumWorkloadSpec> einsum;  // set exactly when graph is empty
  einsum::DecomposeSpec decompose;                   // how to decompose the einsum workload
  std::string machine;                               // resolved path; empty when `devices` is used
  std::size_t devices = 0;                           // > 0 exactly when machine is empty
  std::string model;                      // empty = the default for the machine (chosen by the caller)
  std::vector<PlacementSpec> placements;  // empty = not given (the caller picks its default)
  std::uint64_t seed = 1;
  std::string trace;  // outputs; empty = not asked for
  std::string plan_output;
  std::string csv_output;
  std::string plot_output;
  std::map<std::string, std::shared_ptr<const YAML::Node>> sections;  // given ones, by key
};

Experiment load_experiment(const std::string& path, const ExperimentNames& names);
Experiment parse_experiment(const std::string& text, const std::string& source_name,
                            const ExperimentNames& names);

// A placement given as text is a plan file when it ends in .yaml, .yml or .json, else a method name.
bool is_plan_file_name(const std::string& placement);
// "random:N" -> N (a generated DAG of N ops); nullopt for any other graph spec. Throws an Error for
// "random:" without a positive integer.
std::optional<std::size_t> random_graph_size(const std::string& graph_spec);

}  // namespace doppler
