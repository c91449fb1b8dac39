// `doppler simulate`: one placement (a method or a plan file) simulated on one machine, or, with
// --placements FILE, one makespan per line of a placements file (the paper's reference format).
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "doppler/error.hpp"
#include "doppler/file_io.hpp"
#include "doppler/number_format.hpp"
#include "doppler/trace.hpp"
#include "report.hpp"
#include "run_inputs.hpp"
#include "text_table.hpp"

namespace doppler::cli {
namespace {

struct SimulateFlags {
  RunFlags run;
  std::string placement;
  std::string placements_file;
};

// One makespan per non-blank line; a line is "d0,d1,...", optionally followed by TAB and anything.
void simulate_placements_file(const Experiment& e, const SimulateFlags& flags) {
  const std::string text = read_text_file(flags.placements_file);
  const auto workload = load(e);
  sim::Simulator simulator(workload->graph, workload->machine, workload->model);
  std::vector<double> makespans;
  std::size_t number = 0;
  for (std::size_t begin = 0; begin < text.size();) {
    std::size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(begin, end - begin);
    begin = end + 1;
    ++number;
    line = line.substr(0, line.find('\t'));
    if (line.find_first_not_of(" \r") == std::string::npos) continue;
    makespans.push_back(simulator.run(parse_placement_line(line, flags.placements_file, number)).makespan);
  }
  if (makespans.empty())
    throw Error(flags.placements_file + ": no placements (expected one comma-separated line per placement)");
  if (flags.run.json) {
    nlohmann::ordered_json j = inputs_json(e, *workload);
    j["placements"] = flags.placements_file;
    j["lower_bound"] = simulator.lower_bound();
    j["makespans"] = makespans;
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::string out;
  for (double makespan : makespans) out += format_number(makespan) + "\n";
  std::cout << out;
}

void simulate(const SimulateFlags& flags) {
  const Experiment e = resolve(flags.run);
  if (!flags.placements_file.empty()) return simulate_placements_file(e, flags);
  const auto workload = load(e);
  sim::Simulator simulator(workload->graph, workload->machine, workload->model);
  const PlacementSpec& placement = e.placements.front();
  const Plan plan = make_plan(placement, simulator, e.seed, flags.run.search_evaluations);
  const sim::SimResult result = simulator.run(plan, !e.trace.empty());
  const double lower_bound = simulator.lower_bound();

  if (!e.trace.empty()) save_trace(result.trace, workload->graph, e.trace);
  if (!e.plan_output.empty()) save_plan(plan, e.plan_output);

  if (flags.run.json) {
    nlohmann::ordered_json j = inputs_json(e, *workload);
    j["method"] = placement.label;
    j["makespan"] = result.makespan;
    j["lower_bound"] = lower_bound;
    j["ratio_to_lower_bound"] = lower_bound > 0 ? result.makespan / lower_bound : 1.0;
    j["transfers"] = result.transfers;
    j["transfer_bytes"] = result.transfer_bytes;
    j["events"] = result.events;
    j["devices"] = nlohmann::ordered_json::array();
    for (std::size_t d = 0; d < result.busy.size(); ++d) {
      j["devices"].push_back({{"name", workload->machine.devices[d].name},
                              {"busy", result.busy[d]},
                              {"utilisation", result.utilisation[d]}});
    }
    if (!e.trace.empty()) j["trace"] = e.trace;
    if (!e.plan_output.empty()) j["plan"] = e.plan_output;
    std::cout << j.dump(2) << "\n";
    return;
  }
  TextTable summary({{"", TextTable::Align::left}, {"", TextTable::Align::left}});
  summary.add_row({"experiment", inputs_line(e, *workload)});
  summary.add_row({"placement", placement.label});
  summary.add_row({"makespan", format_number(result.makespan)});
  summary.add_row({"lower bound", format_number(lower_bound) + "  (makespan / lower bound = " +
                                      ratio_text(lower_bound > 0 ? result.makespan / lower_bound : 1.0) +
                                      ")"});
  summary.add_row({"transfers", std::to_string(result.transfers) + "  (" +
                                    format_number(result.transfer_bytes) + " bytes)"});
  if (!e.trace.empty()) summary.add_row({"trace", e.trace});
  if (!e.plan_output.empty()) summary.add_row({"plan", e.plan_output});
  TextTable devices({{"device", TextTable::Align::left},
                     {"busy", TextTable::Align::right},
                     {"utilisation", TextTable::Align::right}});
  for (std::size_t d = 0; d < result.busy.size(); ++d) {
    devices.add_row({workload->machine.devices[d].name, format_number(result.busy[d]),
                     percent_text(result.utilisation[d])});
  }
  std::cout << summary.render() << "\n" << devices.render();
}

}  // namespace

void add_simulate_command(CLI::App& app) {
  auto flags = std::make_shared<SimulateFlags>();
  CLI::App* command = app.add_subcommand(
      "simulate",
      "Simulate one placement of a graph on a machine: makespan, lower bound, per-device busy time");
  add_input_flags(*command, flags->run);
  add_search_flag(*command, flags->run);
  CLI::Option* placement =
      command
          ->add_option("--placement", flags->placement,
                       "A placement method (random, round_robin, critical_path, heft, etf, metis, eindecomp, "
                       "local_search) or a plan "
                       "file (.yaml/.json); default: the config's first placement")
          ->type_name("METHOD|PLAN");
  flags->run.placements_opt = placement;
  CLI::Option* placements_file =
      command
          ->add_option(
              "--placements", flags->placements_file,
              "Simulate every placement in FILE (one comma-separated device list per line, optionally "
              "followed by TAB and anything) and print one makespan per line")
          ->type_name("FILE")
          ->excludes(placement);
  flags->run.trace_opt =
      command
          ->add_option("--trace", flags->run.trace, "Write the run's trace: .json (Chrome/Perfetto) or .csv")
          ->type_name("OUT")
          ->excludes(placements_file);
  flags->run.plan_opt =
      command->add_option("--save-plan", flags->run.plan_output, "Write the simulated plan: .yaml or .json")
          ->type_name("OUT")
          ->excludes(placements_file);
  command->callback([flags, placements_file] {
    if (flags->run.placements_opt->count() > 0) flags->run.placements = {flags->placement};
    flags->run.placement_required = placements_file->count() == 0;
    simulate(*flags);
  });
}

}  // namespace doppler::cli
