#pragma once
// Contract: the inputs shared by the run-style subcommands (simulate, compare, bench sim): an
// optional CONFIG.yaml plus flags for graph, machine or abstract devices, cost model, placements,
// seed and output files. A flag overrides the config's field. resolve() checks everything that can
// be checked up front (names, required inputs, output directories and extensions) so that a bad run
// fails before any work and never leaves a file behind; load() then reads graph and machine.
#include <CLI/CLI.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "doppler/einsum/lowering.hpp"
#include "doppler/experiment.hpp"
#include "doppler/machine.hpp"
#include "doppler/plan.hpp"
#include "doppler/policies/placement.hpp"
#include "doppler/sim/simulator.hpp"
#include "doppler/task_graph.hpp"

namespace doppler::cli {

struct RunFlags {
  std::string config;
  std::string graph, machine, model;
  std::size_t devices = 0;
  std::vector<std::string> placements;
  std::uint64_t seed = 1;
  std::size_t search_evaluations = policies::kDefaultSearchEvaluations;  // local_search's budget
  std::string trace, plan_output, csv_output, plot_output;
  bool json = false;
  bool placement_required = false;  // without a config, the placements flag must be given

  // Set by the add_* functions; an option left null is not offered by that subcommand.
  CLI::Option *config_opt = nullptr, *graph_opt = nullptr, *machine_opt = nullptr, *devices_opt = nullptr,
              *model_opt = nullptr, *placements_opt = nullptr, *seed_opt = nullptr, *trace_opt = nullptr,
              *plan_opt = nullptr, *csv_opt = nullptr, *plot_opt = nullptr;
};

// CONFIG (optional positional), --graph, --machine | --devices, --model, --seed, --json.
void add_input_flags(CLI::App& command, RunFlags& flags);
// --search-evaluations N: the local_search optimiser's budget (simulator runs).
void add_search_flag(CLI::App& command, RunFlags& flags);

// CLI11 check: an integer >= 1 ("must be a positive integer, got '0'").
const CLI::Validator& positive_integer();

// The names a config or flag may use: cost models, placement methods, and the learned policy's
// sections (policy, train: read by train/place/evaluate; offload: read by offload; each ignored by
// the other subcommands).
ExperimentNames known_names();

// Heuristics this build lacks ("metis" without libmetis-dev): left out of the default placements.
std::vector<std::string> unavailable_methods();

// Config (when given) with flags applied over it. Fills defaults (model by machine kind; every
// available heuristic when no placements are given) and checks names and output paths.
Experiment resolve(const RunFlags& flags);

// A graph spec is a graph file or random:N (a generated DAG seeded by `seed`).
TaskGraph load_graph_spec(const std::string& spec, std::uint64_t seed);

// An einsum workload as it became the task graph: the einsum graph, its decomposition and the
// lowered graph (Workload::graph is a copy of lowered.graph).
struct EinsumOrigin {
  einsum::EinsumGraph graph;
  einsum::DecomposeOptions options;
  einsum::Decomposition decomposition;
  einsum::LoweredGraph lowered;
};

// What a .yaml/.yml file holds, by its top-level keys: an experiment config (graph or einsum), an
// einsum graph (einsum_graph), or anything else (a task graph, or not YAML at all).
enum class YamlFileRole { kExperiment, kEinsumGraph, kOther };
YamlFileRole yaml_file_role(const std::string& path);

// Builds, decomposes and lowers an einsum workload; the task graph is copied into `graph`.
EinsumOrigin lower_einsum_workload(const einsum::EinsumWorkloadSpec& spec, einsum::DecomposeOptions options,
                                   TaskGraph& graph);

// Graph, machine and cost model of an experiment, loaded. Keep it alive (and in place) while a
// Simulator built from it lives: the simulator refers to the graph.
struct Workload {
  TaskGraph graph;
  Machine machine;
  sim::CostModelKind model;
  std::string graph_label;             // the graph spec as given
  std::string machine_label;           // "4 abstract devices" or the machine file
  std::optional<EinsumOrigin> einsum;  // set when the graph came from an einsum workload
};
std::unique_ptr<Workload> load(const Experiment& experiment);

// The machine's first `n` devices with the links among them (a run on fewer GPUs than the machine
// file describes). Callers check n <= m.num_devices() and say why in their own words.
Machine first_devices(const Machine& m, std::size_t n);

// A plan file, read; or a placement method's plan (local_search with `search_evaluations` simulator
// runs). Either way tagged with its method and graph fingerprint.
Plan make_plan(const PlacementSpec& placement, const sim::Simulator& simulator, std::uint64_t seed,
               std::size_t search_evaluations = policies::kDefaultSearchEvaluations);

// Fails unless `path`'s directory exists and its extension is one of `extensions`. `flag` names the
// option or config field in the message.
void check_output_path(const std::string& path, const std::string& flag,
                       const std::vector<std::string>& extensions);

}  // namespace doppler::cli
