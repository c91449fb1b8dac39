// `doppler graph`: size, depth, sources and sinks, total work and critical path (with and without
// communication) of a graph under a cost model, and its Graphviz DOT form.
#include <iostream>
#include <map>
#include <memory>
#include <optional>

#include "commands.hpp"
#include "doppler/error.hpp"
#include "doppler/exec_graph.hpp"
#include "doppler/file_io.hpp"
#include "doppler/graph_analysis.hpp"
#include "doppler/number_format.hpp"
#include "doppler/sim/cost_model.hpp"
#include "report.hpp"
#include "run_inputs.hpp"
#include "text_table.hpp"

namespace doppler::cli {
namespace {

struct GraphFlags {
  std::string graph;
  std::string machine;
  std::size_t devices = 4;
  std::string model;
  std::uint64_t seed = 1;
  std::string dot;
  bool json = false;
};

std::string dot_quoted(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string to_dot(const TaskGraph& graph, const std::string& name, const sim::CostTable& costs) {
  std::string out =
      "digraph " + dot_quoted(name) + " {\n  rankdir=TB;\n  node [shape=box, fontname=\"sans-serif\"];\n";
  for (OpId v = 0; v < graph.num_ops(); ++v) {
    const Op& op = graph.op(v);
    const std::string label = op.name + "\\n" + op.kind + "\\ncost " +
                              format_short(costs.compute_estimate()[v], 4) + ", comm " +
                              format_short(costs.comm_estimate()[v], 4);
    std::string escaped;
    for (char c : label) {
      if (c == '"') escaped += '\\';
      escaped += c;
    }
    out += "  n" + std::to_string(v) + " [label=\"" + escaped + "\"];\n";
  }
  for (OpId u = 0; u < graph.num_ops(); ++u)
    for (OpId v : graph.successors(u)) out += "  n" + std::to_string(u) + " -> n" + std::to_string(v) + ";\n";
  return out + "}\n";
}

bool all_fixed_costs(const TaskGraph& graph) {
  for (OpId v = 0; v < graph.num_ops(); ++v)
    if (!graph.op(v).fixed_cost) return false;
  return true;
}

// What `doppler graph` describes: the task graph, the machine that costs it, and where it came from.
struct LoadedGraph {
  TaskGraph graph;
  Machine machine;
  std::optional<sim::CostModelKind> model;  // the config's, when it names one
  std::optional<EinsumOrigin> einsum;
};

// FILE is a graph file, random:N, an experiment config (its graph or einsum workload) or an einsum
// graph file (decomposed by EinDecomp for the devices). --machine / --devices override a config's.
LoadedGraph load_for_description(const GraphFlags& flags, const CLI::App& command) {
  const bool machine_flag = command.count("--machine") > 0, devices_flag = command.count("--devices") > 0;
  LoadedGraph out;
  switch (yaml_file_role(flags.graph)) {
    case YamlFileRole::kExperiment: {
      Experiment e = load_experiment(flags.graph, known_names());
      if (machine_flag) {
        e.machine = flags.machine;
        e.devices = 0;
      } else if (devices_flag) {
        e.machine.clear();
        e.devices = flags.devices;
      }
      if (e.model.empty()) e.model = e.machine.empty() ? "paper" : "roofline";
      std::unique_ptr<Workload> w = load(e);
      out.graph = std::move(w->graph);
      out.machine = std::move(w->machine);
      out.model = w->model;
      out.einsum = std::move(w->einsum);
      return out;
    }
    case YamlFileRole::kEinsumGraph: {
      out.machine = flags.machine.empty() ? abstract_machine(flags.devices) : load_machine(flags.machine);
      einsum::EinsumWorkloadSpec spec;
      spec.file = flags.graph;
      einsum::DecomposeOptions options;
      options.devices = static_cast<int>(out.machine.num_devices());
      out.einsum = lower_einsum_workload(spec, options, out.graph);
      return out;
    }
    case YamlFileRole::kOther:
      break;
  }
  out.graph = load_graph_spec(flags.graph, flags.seed);
  out.machine = flags.machine.empty() ? abstract_machine(flags.devices) : load_machine(flags.machine);
  return out;
}

nlohmann::ordered_json einsum_json(const EinsumOrigin& origin) {
  const einsum::EinsumGraph& g = origin.graph;
  std::map<std::string, std::size_t> tensors, roles;
  for (const einsum::Tensor& t : g.tensors()) ++tensors[std::string(einsum::tensor_kind_name(t.kind))];
  for (const einsum::TaskInfo& task : origin.lowered.tasks)
    ++roles[std::string(einsum::task_role_name(task.role))];
  double flops = 0, parameter_bytes = 0;
  for (einsum::EinsumOpId o = 0; o < g.num_ops(); ++o) flops += g.flops(o);
  for (const einsum::Tensor& t : g.tensors()) {
    if (t.kind == einsum::TensorKind::kParameter) parameter_bytes += t.bytes();
  }
  nlohmann::ordered_json j;
  j["einsum_ops"] = g.num_ops();
  j["tensors"] = tensors;
  j["flops"] = flops;
  j["parameter_bytes"] = parameter_bytes;
  j["method"] = std::string(einsum::decompose_method_name(origin.options.method));
  j["devices"] = origin.options.devices;
  j["cost"] = origin.decomposition.cost.total();
  j["task_roles"] = roles;
  return j;
}

void describe(const GraphFlags& flags, const CLI::App& command) {
  const bool dot_to_stdout = flags.dot == "-";
  if (dot_to_stdout && flags.json) throw Error("--dot - and --json both write to stdout: choose one");
  if (!flags.dot.empty() && !dot_to_stdout) check_output_path(flags.dot, "--dot", {".dot", ".gv"});
  std::optional<sim::CostModelKind> chosen_model;
  if (command.count("--model") > 0) {
    try {
      chosen_model = sim::parse_cost_model(flags.model);
    } catch (const Error& error) {
      throw Error(std::string("--model: ") + error.what());
    }
  }

  const LoadedGraph loaded = load_for_description(flags, command);
  const TaskGraph& graph = loaded.graph;
  const Machine& machine = loaded.machine;
  const sim::CostModelKind model = chosen_model.value_or(loaded.model.value_or(
      machine.time_unit == "units" && all_fixed_costs(graph) ? sim::CostModelKind::paper
                                                             : sim::CostModelKind::roofline));
  const sim::CostTable costs(graph, machine, model);
  const ExecGraph exec = ExecGraph::from(graph);
  const GraphStats stats = graph_stats(exec, costs.compute_estimate(), costs.comm_estimate());
  const double lower_bound = makespan_lower_bound(exec, costs.compute_estimate(), machine.num_devices());
  const double parallelism = stats.critical_path > 0 ? stats.total_work / stats.critical_path : 0.0;
  std::map<std::string, std::size_t> kinds;
  for (OpId v = 0; v < graph.num_ops(); ++v) ++kinds[graph.op(v).kind];

  if (!flags.dot.empty()) {
    const std::string dot = to_dot(graph, flags.graph, costs);
    if (dot_to_stdout) {
      std::cout << dot;
      return;
    }
    write_file_atomically(flags.dot, dot);
  }
  if (flags.json) {
    nlohmann::ordered_json j;
    j["graph"] = flags.graph;
    j["ops"] = stats.num_ops;
    j["edges"] = stats.num_edges;
    j["depth"] = stats.depth;
    j["sources"] = stats.sources;
    j["sinks"] = stats.sinks;
    j["total_work"] = stats.total_work;
    j["critical_path"] = stats.critical_path;
    j["critical_path_with_comm"] = stats.critical_path_with_comm;
    j["parallelism"] = parallelism;
    j["lower_bound"] = lower_bound;
    j["num_devices"] = machine.num_devices();
    j["machine"] = machine.name;
    j["model"] = sim::to_string(model);
    j["time_unit"] = machine.time_unit;
    j["kinds"] = kinds;
    if (loaded.einsum) j["einsum"] = einsum_json(*loaded.einsum);
    if (!flags.dot.empty()) j["dot"] = flags.dot;
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::string kind_list;
  for (const auto& [kind, count] : kinds)
    kind_list += (kind_list.empty() ? "" : ", ") + kind + " " + std::to_string(count);
  TextTable table({{"", TextTable::Align::left}, {"", TextTable::Align::left}});
  table.add_row({"graph", flags.graph});
  if (loaded.einsum) {
    const nlohmann::ordered_json e = einsum_json(*loaded.einsum);
    std::string tensors, roles;
    for (const auto& [kind, count] : e["tensors"].items())
      tensors += (tensors.empty() ? "" : ", ") + kind + " " + std::to_string(count.get<std::size_t>());
    for (const auto& [role, count] : e["task_roles"].items())
      roles += (roles.empty() ? "" : ", ") + role + " " + std::to_string(count.get<std::size_t>());
    table.add_row(
        {"einsum ops", std::to_string(loaded.einsum->graph.num_ops()) + "  (tensors: " + tensors + ")"});
    table.add_row({"einsum flops", format_short(e["flops"].get<double>(), 4) + "  (parameters " +
                                       format_short(e["parameter_bytes"].get<double>(), 4) + " bytes)"});
    table.add_row({"decomposition", e["method"].get<std::string>() + " for " +
                                        std::to_string(loaded.einsum->options.devices) + " devices, cost " +
                                        format_short(e["cost"].get<double>(), 4) + " elements moved"});
    table.add_row({"task roles", roles});
  }
  table.add_row({"ops", std::to_string(stats.num_ops)});
  table.add_row({"edges", std::to_string(stats.num_edges)});
  table.add_row({"depth", std::to_string(stats.depth) + " ops on the longest path"});
  table.add_row({"sources / sinks", std::to_string(stats.sources) + " / " + std::to_string(stats.sinks)});
  table.add_row({"kinds", kind_list});
  table.add_row({"costs", std::string(sim::to_string(model)) + " model on " + machine.name + ", times in " +
                              machine.time_unit});
  table.add_row({"total work", format_number(stats.total_work)});
  table.add_row({"critical path", format_number(stats.critical_path) + "  (without communication)"});
  table.add_row({"critical path + comm",
                 format_number(stats.critical_path_with_comm) + "  (every edge crossing devices)"});
  table.add_row({"parallelism", ratio_text(parallelism) + "  (total work / critical path)"});
  table.add_row({"lower bound", format_number(lower_bound) + "  (on " +
                                    std::to_string(machine.num_devices()) +
                                    " devices: max(critical path, total work / devices))"});
  if (!flags.dot.empty()) table.add_row({"dot", flags.dot});
  std::cout << table.render();
}

}  // namespace

void add_graph_command(CLI::App& app) {
  auto flags = std::make_shared<GraphFlags>();
  CLI::App* command = app.add_subcommand(
      "graph", "Describe a graph: size, depth, total work, critical path; Graphviz with --dot");
  command
      ->add_option(
          "file", flags->graph,
          "Graph file (.txt paper format, .yaml, .json), random:N, an experiment config, or an einsum "
          "graph file (decomposed by EinDecomp for the devices)")
      ->required();
  CLI::Option* machine = command
                             ->add_option("--machine", flags->machine,
                                          "Cost the ops on this machine file (default: abstract devices)")
                             ->type_name("FILE");
  command->add_option("--devices", flags->devices, "Abstract devices for the lower bound (default 4)")
      ->type_name("N")
      ->check(positive_integer())
      ->excludes(machine);
  command
      ->add_option(
          "--model", flags->model,
          "Cost model: paper | roofline (default: paper when every op has a fixed cost and no --machine)")
      ->type_name("NAME");
  command->add_option("--seed", flags->seed, "Seed for random:N graphs (default 1)")->type_name("S");
  command->add_option("--dot", flags->dot, "Write Graphviz DOT to OUT.dot, or to stdout with '-'")
      ->type_name("OUT");
  command->add_flag("--json", flags->json, "Print JSON for scripts instead of a table");
  command->callback([flags, command] { describe(*flags, *command); });
}

}  // namespace doppler::cli
