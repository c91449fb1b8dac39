#include "run_inputs.hpp"

#include <algorithm>
#include <charconv>
#include <filesystem>

#include "doppler/error.hpp"
#include "doppler/file_io.hpp"
#include "doppler/graph_yaml.hpp"
#include "doppler/policies/placement.hpp"
#include "doppler/random_dag.hpp"
#include "doppler/sim/cost_model.hpp"
#include "doppler/yaml_util.hpp"

namespace doppler::cli {
namespace {

namespace fs = std::filesystem;

bool given(const CLI::Option* option) {
  return option != nullptr && option->count() > 0;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

PlacementSpec placement_from_flag(const std::string& text, const std::string& flag,
                                  const ExperimentNames& names) {
  if (is_plan_file_name(text)) return {text, text};
  if (std::find(names.methods.begin(), names.methods.end(), text) == names.methods.end()) {
    throw Error(flag + ": unknown placement method '" + text + "' (known: " + join(names.methods) +
                "; or a plan file ending in .yaml, .yml or .json)");
  }
  return {text, ""};
}

}  // namespace

const CLI::Validator& positive_integer() {
  static const CLI::Validator validator(
      [](std::string& text) {
        std::uint64_t value = 0;
        const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || value == 0) {
          return "must be a positive integer, got '" + text + "'";
        }
        return std::string();
      },
      "POSITIVE");
  return validator;
}

void add_input_flags(CLI::App& command, RunFlags& flags) {
  flags.config_opt = command.add_option(
      "config", flags.config, "Experiment config (YAML, see docs/CLI.md); flags override its fields");
  flags.graph_opt =
      command.add_option("--graph", flags.graph, "Graph file (.txt paper format, .yaml, .json) or random:N")
          ->type_name("FILE");
  flags.machine_opt =
      command.add_option("--machine", flags.machine, "Machine file (configs/machines/*.yaml)")
          ->type_name("FILE");
  flags.devices_opt =
      command.add_option("--devices", flags.devices, "N identical abstract devices (the paper's setting)")
          ->type_name("N")
          ->check(positive_integer())
          ->excludes(flags.machine_opt);
  flags.machine_opt->excludes(flags.devices_opt);
  flags.model_opt =
      command
          .add_option("--model", flags.model,
                      "Cost model: paper | roofline (default: paper with --devices, roofline with --machine)")
          ->type_name("NAME");
  flags.seed_opt =
      command.add_option("--seed", flags.seed, "Seed for random placements and random:N graphs (default 1)")
          ->type_name("S");
  command.add_flag("--json", flags.json, "Print JSON for scripts instead of a table");
}

void add_search_flag(CLI::App& command, RunFlags& flags) {
  command
      .add_option("--search-evaluations", flags.search_evaluations,
                  "Simulator runs of the local_search optimiser (default " +
                      std::to_string(policies::kDefaultSearchEvaluations) + ")")
      ->type_name("N")
      ->check(positive_integer());
}

std::vector<std::string> unavailable_methods() {
  return policies::metis_available() ? std::vector<std::string>{} : std::vector<std::string>{"metis"};
}

ExperimentNames known_names() {
  return {{"paper", "roofline"}, policies::placement_names(), {"policy", "train", "offload"}};
}

Experiment resolve(const RunFlags& flags) {
  const ExperimentNames names = known_names();
  const bool from_config = given(flags.config_opt);
  Experiment e;
  if (from_config) {
    e = load_experiment(flags.config, names);
  } else {
    e.source = "<command line>";
    e.name = fs::path(flags.graph).stem().string();
    if (!given(flags.graph_opt)) throw Error("--graph is required (or give a CONFIG.yaml)");
    if (flags.placements_opt != nullptr && flags.placement_required && !given(flags.placements_opt)) {
      throw Error(flags.placements_opt->get_name() + " is required (or give a CONFIG.yaml)");
    }
    if (!given(flags.machine_opt) && !given(flags.devices_opt)) {
      throw Error("--machine FILE or --devices N is required (or give a CONFIG.yaml)");
    }
  }
  if (given(flags.graph_opt)) {
    if (flags.graph.rfind("random:", 0) == 0) {
      try {
        random_graph_size(flags.graph);
      } catch (const Error& error) {
        throw Error(std::string("--graph: ") + error.what());
      }
    }
    e.graph = flags.graph;
    e.einsum.reset();
  }
  if (given(flags.machine_opt)) {
    e.machine = flags.machine;
    e.devices = 0;
  }
  if (given(flags.devices_opt)) {
    e.devices = flags.devices;
    e.machine.clear();
  }
  if (given(flags.model_opt)) {
    if (std::find(names.models.begin(), names.models.end(), flags.model) == names.models.end()) {
      throw Error("--model: unknown cost model '" + flags.model + "' (known: " + join(names.models) + ")");
    }
    e.model = flags.model;
  }
  if (e.model.empty()) e.model = e.machine.empty() ? "paper" : "roofline";
  if (given(flags.placements_opt)) {
    e.placements.clear();
    const std::string flag = flags.placements_opt->get_name();
    for (const std::string& text : flags.placements)
      e.placements.push_back(placement_from_flag(text, flag, names));
  } else if (e.placements.empty()) {
    const std::vector<std::string> missing = unavailable_methods();
    for (const std::string& method : policies::all_heuristic_names()) {  // not the local_search optimiser
      if (std::find(missing.begin(), missing.end(), method) == missing.end())
        e.placements.push_back({method, ""});
    }
  }
  if (given(flags.seed_opt)) e.seed = flags.seed;

  struct Output {
    std::string& value;
    const std::string& flag_value;
    const CLI::Option* option;
    const char* field;
    std::vector<std::string> extensions;
  };
  const std::string in_config = " in " + e.source;
  for (const Output& out :
       {Output{e.trace, flags.trace, flags.trace_opt, "trace", {".json", ".csv"}},
        Output{e.plan_output, flags.plan_output, flags.plan_opt, "output.plan", {".yaml", ".yml", ".json"}},
        Output{e.csv_output, flags.csv_output, flags.csv_opt, "output.csv", {".csv"}},
        Output{e.plot_output, flags.plot_output, flags.plot_opt, "output.plot", {".svg"}}}) {
    if (given(out.option)) {
      out.value = out.flag_value;
      check_output_path(out.value, out.option->get_name(), out.extensions);
    } else if (!out.value.empty()) {
      check_output_path(out.value, std::string("'") + out.field + "'" + in_config, out.extensions);
    }
  }
  if (!e.trace.empty() && e.trace == e.plan_output) {
    throw Error("the trace and the plan would both be written to '" + e.trace + "'");
  }
  return e;
}

TaskGraph load_graph_spec(const std::string& spec, std::uint64_t seed) {
  if (const auto ops = random_graph_size(spec)) {
    RandomDagOptions options;
    options.num_ops = *ops;
    options.seed = seed;
    return random_dag(options);
  }
  return load_graph(spec);
}

YamlFileRole yaml_file_role(const std::string& path) {
  const std::string extension = fs::path(path).extension().string();
  std::error_code ec;
  if ((extension != ".yaml" && extension != ".yml") || !fs::is_regular_file(path, ec))
    return YamlFileRole::kOther;
  const YAML::Node root = parse_yaml_document(read_text_file(path), path);
  if (!root.IsMap()) return YamlFileRole::kOther;
  if (root["einsum_graph"]) return YamlFileRole::kEinsumGraph;
  if (root["einsum"] || root["graph"]) return YamlFileRole::kExperiment;
  return YamlFileRole::kOther;
}

EinsumOrigin lower_einsum_workload(const einsum::EinsumWorkloadSpec& spec, einsum::DecomposeOptions options,
                                   TaskGraph& graph) {
  einsum::EinsumGraph einsum_graph = einsum::build_einsum_workload(spec);
  einsum::Decomposition decomposition = einsum::decompose(einsum_graph, options);
  einsum::LoweredGraph lowered =
      einsum::lower(einsum_graph, decomposition.partitions, options.aggregate_fan_in);
  graph = lowered.graph;
  return EinsumOrigin{std::move(einsum_graph), options, std::move(decomposition), std::move(lowered)};
}

std::unique_ptr<Workload> load(const Experiment& e) {
  Machine machine = e.machine.empty() ? abstract_machine(e.devices) : load_machine(e.machine);
  const std::string machine_label = e.machine.empty() ? std::to_string(e.devices) + " abstract devices"
                                                      : e.machine + " (" + machine.name + ")";
  auto workload = std::make_unique<Workload>(
      Workload{TaskGraph{}, Machine{}, sim::parse_cost_model(e.model), e.graph, machine_label, std::nullopt});
  if (e.einsum) {
    einsum::DecomposeOptions options = e.decompose.options;
    if (!e.decompose.devices_given) options.devices = static_cast<int>(machine.num_devices());
    workload->einsum = lower_einsum_workload(*e.einsum, options, workload->graph);
    workload->graph_label = e.einsum->label() + " (einsum, " +
                            std::string(einsum::decompose_method_name(options.method)) + " for " +
                            std::to_string(options.devices) + " devices)";
  } else {
    workload->graph = load_graph_spec(e.graph, e.seed);
  }
  workload->machine = std::move(machine);
  return workload;
}

Machine first_devices(const Machine& m, std::size_t n) {
  if (n > m.num_devices()) throw Error("first_devices: " + std::to_string(n) + " of " + m.name);
  Machine sub = m;
  sub.devices.resize(n);
  sub.host_to_device.resize(n);
  sub.device_to_host.resize(n);
  sub.links.clear();
  for (DeviceId s = 0; s < n; ++s)
    for (DeviceId d = 0; d < n; ++d) sub.links.push_back(m.link(s, d));
  return sub;
}

Plan make_plan(const PlacementSpec& placement, const sim::Simulator& simulator, std::uint64_t seed,
               std::size_t search_evaluations) {
  Plan plan;
  if (placement.is_plan_file()) {
    plan = load_plan(placement.path);
    if (plan.method.empty()) plan.method = placement.label;
    return plan;
  }
  policies::PlacementContext context{simulator, seed};
  context.search_evaluations = search_evaluations;
  plan = policies::place(placement.label, context);
  plan.method = placement.label;
  plan.source = "placement '" + placement.label + "'";
  if (!plan.graph_fingerprint) plan.graph_fingerprint = simulator.task_graph().fingerprint();
  return plan;
}

void check_output_path(const std::string& path, const std::string& flag,
                       const std::vector<std::string>& extensions) {
  const fs::path p(path);
  const std::string extension = p.extension().string();
  if (std::find(extensions.begin(), extensions.end(), extension) == extensions.end()) {
    throw Error(flag + ": '" + path + "' must end in " + join(extensions));
  }
  const fs::path directory = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  std::error_code ec;
  if (!fs::is_directory(directory, ec)) {
    throw Error(flag + ": cannot write '" + path + "': directory '" + directory.string() +
                "' does not exist");
  }
  if (fs::is_directory(p, ec)) throw Error(flag + ": cannot write '" + path + "': it is a directory");
}

}  // namespace doppler::cli
