// `doppler validate --traces DIR --machine FILE`: replays every traced run's plan in the simulator
// on the (calibrated) machine and compares predicted with measured makespans: per run the error,
// per workload and overall the MAPE and Kendall tau of the placement ranking.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>

#include "commands.hpp"
#include "doppler/error.hpp"
#include "doppler/sim/prediction_error.hpp"
#include "doppler/sim/simulator.hpp"
#include "report.hpp"
#include "text_table.hpp"
#include "traced_runs.hpp"

namespace doppler::cli {
namespace {

struct ValidateFlags {
  std::string traces, machine;
  bool json = false;
};

struct RunResult {
  const TracedRun* run;
  double predicted;
  bool held_out;
};

struct Summary {
  std::vector<double> predicted, measured;
  sim::RankAgreement ranks;
  double mape() const { return sim::mape(predicted, measured); }
};

// The machine's first n devices; an Error naming the run when the machine has fewer.
Machine machine_for_run(const Machine& m, std::size_t n, const std::string& run) {
  if (n > m.num_devices())
    throw Error(run + ": the run used " + std::to_string(n) + " devices but the machine '" + m.name +
                "' has " + std::to_string(m.num_devices()));
  return first_devices(m, n);
}

nlohmann::ordered_json optional_number(const std::optional<double>& value) {
  return value ? nlohmann::ordered_json(*value) : nlohmann::ordered_json(nullptr);
}

std::string short_or_dash(const std::optional<double>& value) {
  return value ? g4(*value) : "-";
}

void run_validate(const ValidateFlags& flags) {
  const Machine machine = load_machine(flags.machine);
  const std::vector<LoadedRun> runs = load_traced_runs(flags.traces);
  std::vector<RunResult> results;
  std::map<std::string, Summary> workloads;
  Summary overall, held;
  for (const LoadedRun& loaded : runs) {
    const TracedRun& run = loaded.run;
    bool held_out = false;
    if (machine.calibration)
      for (const HeldOutRun& h : machine.calibration->held_out)
        held_out = held_out || (h.workload == run.workload && h.placement == run.placement);
    const Machine m = machine_for_run(machine, run.devices, run.dir);
    sim::Simulator simulator(loaded.workload->graph, m, sim::CostModelKind::roofline);
    const double predicted = simulator.run(run.plan).makespan;
    results.push_back({&run, predicted, held_out});
    for (Summary* s : {&workloads[run.workload], &overall}) {
      s->predicted.push_back(predicted);
      s->measured.push_back(run.makespan);
    }
    if (held_out) held.predicted.push_back(predicted), held.measured.push_back(run.makespan);
  }
  std::map<std::string, Summary> held_by_workload;
  for (const RunResult& r : results)
    if (r.held_out) {
      held_by_workload[r.run->workload].predicted.push_back(r.predicted);
      held_by_workload[r.run->workload].measured.push_back(r.run->makespan);
    }
  for (auto& [name, s] : workloads) {
    s.ranks.add_group(s.predicted, s.measured);
    overall.ranks += s.ranks;
  }
  for (auto& [name, s] : held_by_workload) {
    s.ranks.add_group(s.predicted, s.measured);
    held.ranks += s.ranks;
  }

  if (flags.json) {
    nlohmann::ordered_json j;
    j["traces"] = flags.traces;
    j["machine"] = flags.machine;
    j["mape"] = overall.mape();
    j["kendall_tau"] = optional_number(overall.ranks.tau());
    j["workloads"] = nlohmann::ordered_json::array();
    for (const auto& [name, s] : workloads)
      j["workloads"].push_back({{"name", name},
                                {"mape", s.mape()},
                                {"kendall_tau", optional_number(s.ranks.tau())},
                                {"runs", s.measured.size()}});
    if (!held.measured.empty())
      j["held_out"] = {{"mape", held.mape()},
                       {"kendall_tau", optional_number(held.ranks.tau())},
                       {"runs", held.measured.size()}};
    j["runs"] = nlohmann::ordered_json::array();
    for (const RunResult& r : results)
      j["runs"].push_back({{"dir", r.run->dir},
                           {"workload", r.run->workload},
                           {"placement", r.run->placement},
                           {"devices", r.run->devices},
                           {"measured", r.run->makespan},
                           {"predicted", r.predicted},
                           {"error", 100 * (r.predicted - r.run->makespan) / r.run->makespan},
                           {"held_out", r.held_out}});
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::cout << "validate " << flags.machine << " on " << results.size() << " runs under " << flags.traces
            << " (times in " << machine.time_unit << ")\n\n";
  TextTable table({{"workload"},
                   {"placement"},
                   {"measured", TextTable::Align::right},
                   {"predicted", TextTable::Align::right},
                   {"error %", TextTable::Align::right}});
  for (const RunResult& r : results)
    table.add_row({r.run->workload, r.run->placement + (r.held_out ? " (held out)" : ""), g4(r.run->makespan),
                   g4(r.predicted), g4(100 * (r.predicted - r.run->makespan) / r.run->makespan)});
  std::cout << table.render() << "\n";
  TextTable summary({{"workload"},
                     {"runs", TextTable::Align::right},
                     {"MAPE %", TextTable::Align::right},
                     {"Kendall tau", TextTable::Align::right}});
  for (const auto& [name, s] : workloads)
    summary.add_row({name, std::to_string(s.measured.size()), g4(s.mape()), short_or_dash(s.ranks.tau())});
  summary.add_row({"overall", std::to_string(overall.measured.size()), g4(overall.mape()),
                   short_or_dash(overall.ranks.tau())});
  if (!held.measured.empty())
    summary.add_row(
        {"held out", std::to_string(held.measured.size()), g4(held.mape()), short_or_dash(held.ranks.tau())});
  std::cout << summary.render();
}

}  // namespace

void add_validate_command(CLI::App& app) {
  auto flags = std::make_shared<ValidateFlags>();
  CLI::App* command = app.add_subcommand(
      "validate", "Replay traced runs in the simulator on a machine file: predicted vs measured makespans");
  command->add_option("--traces", flags->traces, "Directory of traced runs (docs/FORMATS.md)")
      ->type_name("DIR")
      ->required();
  command->add_option("--machine", flags->machine, "Machine file (typically from doppler calibrate)")
      ->type_name("FILE")
      ->required();
  command->add_flag("--json", flags->json, "Print JSON for scripts instead of a table");
  command->callback([flags] { run_validate(*flags); });
}

}  // namespace doppler::cli
