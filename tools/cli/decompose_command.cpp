// `doppler decompose CONFIG.yaml`: how a decomposition method splits every op of the config's
// einsum workload over N devices, what that costs in elements moved, and the task graph it lowers to.
#include <nlohmann/json.hpp>

#include <iostream>
#include <map>
#include <memory>

#include "commands.hpp"
#include "doppler/error.hpp"
#include "doppler/number_format.hpp"
#include "run_inputs.hpp"
#include "text_table.hpp"

namespace doppler::cli {
namespace {

struct DecomposeFlags {
  std::string config;
  int devices = 0;
  std::string method;
  bool wide = false;
  int max_candidates = 0;
  bool json = false;
};

nlohmann::ordered_json blocks_json(const einsum::EinsumGraph& g, einsum::EinsumOpId o,
                                   const einsum::Partition& p) {
  nlohmann::ordered_json blocks = nlohmann::ordered_json::object();
  for (const char c : g.op(o).spec.all_indices()) {
    if (p.of(c) > 1) blocks[std::string(1, c)] = p.of(c);
  }
  return blocks;
}

int kernels_of(const einsum::EinsumGraph& g, einsum::EinsumOpId o, const einsum::Partition& p) {
  int kernels = 1;
  for (const char c : g.op(o).spec.all_indices()) kernels *= p.of(c);
  return kernels;
}

void run_decompose(const DecomposeFlags& flags, const CLI::App& command) {
  Experiment e = load_experiment(flags.config, known_names());
  if (!e.einsum) {
    throw Error(flags.config + ": no 'einsum' workload to decompose (its graph is a task graph already)");
  }
  if (command.count("--method") > 0) {
    try {
      e.decompose.options.method = einsum::parse_decompose_method(flags.method);
    } catch (const Error& error) {
      throw Error(std::string("--method: ") + error.what());
    }
  }
  if (command.count("--devices") > 0) {
    e.decompose.options.devices = flags.devices;
    e.decompose.devices_given = true;
  }
  if (flags.wide) e.decompose.options.wide_search = true;
  if (command.count("--max-candidates") > 0) e.decompose.options.max_candidates = flags.max_candidates;
  if (e.model.empty()) e.model = e.machine.empty() ? "paper" : "roofline";
  const std::unique_ptr<Workload> w = load(e);
  const EinsumOrigin& origin = *w->einsum;
  const einsum::EinsumGraph& g = origin.graph;
  const einsum::Decomposition& d = origin.decomposition;
  std::map<std::string, std::size_t> roles;
  for (const einsum::TaskInfo& task : origin.lowered.tasks)
    ++roles[std::string(einsum::task_role_name(task.role))];
  const std::string method(einsum::decompose_method_name(origin.options.method));

  if (flags.json) {
    nlohmann::ordered_json j;
    j["name"] = e.name;
    j["workload"] = e.einsum->label();
    j["method"] = method;
    j["devices"] = origin.options.devices;
    j["wide_search"] = origin.options.wide_search;
    j["einsum_ops"] = g.num_ops();
    j["tasks"] = w->graph.num_ops();
    j["task_roles"] = roles;
    j["cost"] = d.cost.total();
    j["cost_terms"] = {{"replication", d.cost.replication},
                       {"aggregation", d.cost.aggregation},
                       {"repartition", d.cost.repartition}};
    j["seconds"] = d.seconds;
    nlohmann::ordered_json partitions = nlohmann::ordered_json::object();
    nlohmann::ordered_json ops = nlohmann::ordered_json::array();
    for (einsum::EinsumOpId o = 0; o < g.num_ops(); ++o) {
      const einsum::Partition& p = d.partitions[o];
      partitions[g.op(o).name] = blocks_json(g, o, p);
      const einsum::DecompositionCost c = einsum::op_cost(g, o, p);
      ops.push_back({{"op", g.op(o).name},
                     {"spec", g.op(o).spec.to_string()},
                     {"blocks", blocks_json(g, o, p)},
                     {"kernels", kernels_of(g, o, p)},
                     {"replication", c.replication},
                     {"aggregation", c.aggregation}});
    }
    j["partitions"] = partitions;
    j["ops"] = ops;
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::cout << e.name << ": " << e.einsum->label() << ", " << g.num_ops() << " einsum ops, " << method
            << " for " << origin.options.devices << " devices\n\n";
  TextTable table({{"op", TextTable::Align::left},
                   {"einsum", TextTable::Align::left},
                   {"split", TextTable::Align::left},
                   {"kernels", TextTable::Align::right},
                   {"replicated", TextTable::Align::right},
                   {"aggregated", TextTable::Align::right}});
  for (einsum::EinsumOpId o = 0; o < g.num_ops(); ++o) {
    const einsum::Partition& p = d.partitions[o];
    const einsum::DecompositionCost c = einsum::op_cost(g, o, p);
    table.add_row({g.op(o).name, g.op(o).spec.to_string(), einsum::partition_label(g, o, p),
                   std::to_string(kernels_of(g, o, p)), format_short(c.replication, 4),
                   format_short(c.aggregation, 4)});
  }
  std::cout << table.render() << "\n";
  std::string role_list;
  for (const auto& [role, count] : roles)
    role_list += (role_list.empty() ? "" : ", ") + role + " " + std::to_string(count);
  TextTable summary({{"", TextTable::Align::left}, {"", TextTable::Align::left}});
  summary.add_row({"cost", format_short(d.cost.total(), 6) + " elements moved or replicated"});
  summary.add_row({"  replication", format_short(d.cost.replication, 6)});
  summary.add_row({"  aggregation", format_short(d.cost.aggregation, 6)});
  summary.add_row({"  repartition", format_short(d.cost.repartition, 6)});
  summary.add_row({"tasks", std::to_string(w->graph.num_ops()) + " (" + role_list + ")"});
  summary.add_row({"search time", format_short(d.seconds, 3) + " s"});
  std::cout << summary.render();
}

}  // namespace

void add_decompose_command(CLI::App& app) {
  auto flags = std::make_shared<DecomposeFlags>();
  CLI::App* command = app.add_subcommand(
      "decompose", "Split every op of a config's einsum workload over N devices (EinDecomp or a baseline)");
  command->add_option("config", flags->config, "Experiment config with an 'einsum' workload (docs/CLI.md)")
      ->required();
  command->add_option("--devices", flags->devices, "Devices to decompose for (default: the config's)")
      ->type_name("N")
      ->check(positive_integer());
  command->add_option("--method", flags->method, "eindecomp | data | model | none (default: the config's)")
      ->type_name("NAME");
  command->add_flag("--wide", flags->wide, "eindecomp: consider N/2 .. 4N kernels per op, not only N");
  command->add_option("--max-candidates", flags->max_candidates, "eindecomp: partitions kept per op")
      ->type_name("K")
      ->check(positive_integer());
  command->add_flag("--json", flags->json, "Print JSON for scripts instead of a table");
  command->callback([flags, command] { run_decompose(*flags, *command); });
}

}  // namespace doppler::cli
