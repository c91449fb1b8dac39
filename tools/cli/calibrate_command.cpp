// `doppler calibrate --traces DIR --out FILE`: fits the simulator's cost model (sim/calibration.hpp)
// from every traced run under DIR and writes the calibrated machine file.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>

#include "commands.hpp"
#include "doppler/error.hpp"
#include "doppler/file_io.hpp"
#include "doppler/sim/calibration.hpp"
#include "report.hpp"
#include "text_table.hpp"
#include "traced_runs.hpp"

namespace doppler::cli {
namespace {

struct CalibrateFlags {
  std::string traces, out, base;
  std::size_t holdout = 0;
  bool json = false;
};

void print(const Machine& m, const CalibrateFlags& flags, std::size_t fitted, bool json) {
  const Calibration& c = *m.calibration;
  if (json) {
    nlohmann::ordered_json j;
    j["out"] = flags.out;
    j["runs"] = fitted + c.held_out.size();
    j["fitted_runs"] = fitted;
    j["held_out"] = nlohmann::ordered_json::array();
    for (const HeldOutRun& run : c.held_out)
      j["held_out"].push_back({{"workload", run.workload}, {"placement", run.placement}});
    j["launch_overhead"] = m.devices[0].launch_overhead;
    j["concurrency_slowdown"] = c.concurrency_slowdown;
    j["dispatch_gap"] = c.dispatch_gap;
    j["copy_dispatch"] = c.copy_dispatch;
    j["copy_gap"] = c.copy_gap;
    j["arrival_latency"] = c.arrival_latency;
    j["start_latency"] = c.start_latency;
    j["issue_depth"] = c.issue_depth;
    j["host_load"] = c.host_load;
    j["host_copy"] = c.host_copy;
    j["launch_latency"] = c.launch_latency;
    j["kinds"] = nlohmann::ordered_json::object();
    for (const auto& [kind, k] : c.kinds)
      j["kinds"][kind] = {{"samples", k.samples},     {"shapes", k.table.size()},
                          {"flop_rate", k.flop_rate}, {"bandwidth", k.bandwidth},
                          {"overhead", k.overhead},   {"host_launch", k.host_launch}};
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::cout << "calibrated " << flags.out << " from " << fitted << " runs under " << flags.traces;
  if (!c.held_out.empty()) std::cout << " (" << c.held_out.size() << " held out)";
  std::cout << "\n\n";
  TextTable table({{"kind"},
                   {"samples", TextTable::Align::right},
                   {"shapes", TextTable::Align::right},
                   {"flop rate", TextTable::Align::right},
                   {"bandwidth", TextTable::Align::right},
                   {"overhead", TextTable::Align::right},
                   {"host launch", TextTable::Align::right}});
  for (const auto& [kind, k] : c.kinds)
    table.add_row({kind, std::to_string(k.samples), std::to_string(k.table.size()), g4(k.flop_rate),
                   g4(k.bandwidth), g4(k.overhead), g4(k.host_launch)});
  std::cout << table.render() << "\nlaunch overhead       " << g4(m.devices[0].launch_overhead)
            << "\nconcurrency slowdown  " << g4(c.concurrency_slowdown) << "\ndispatch gap          "
            << g4(c.dispatch_gap) << "\ncopy dispatch         " << g4(c.copy_dispatch)
            << "\ncopy gap              " << g4(c.copy_gap) << "\narrival latency       "
            << g4(c.arrival_latency) << "\nstart latency         " << g4(c.start_latency)
            << "\nissue depth           " << c.issue_depth << "\nhost load             " << g4(c.host_load)
            << "\nhost copy             " << g4(c.host_copy) << "\nlaunch latency        "
            << g4(c.launch_latency) << "\n";
}

// The queue depth every run was recorded with (the simulator then replays launch-ahead), 0 when
// none recorded it; runs with different depths are an Error.
int common_queue_depth(const std::vector<LoadedRun>& runs) {
  int depth = runs.front().run.queue_depth;
  for (const LoadedRun& r : runs) {
    if (r.run.queue_depth == depth) continue;
    throw Error(r.run.dir + ": queue_depth " + std::to_string(r.run.queue_depth) + ", but " +
                runs.front().run.dir + " has " + std::to_string(depth) +
                " (0 = not recorded): calibrate runs of one queue depth together");
  }
  return depth;
}

void run_calibrate(const CalibrateFlags& flags) {
  check_output_path(flags.out, "--out", {".yaml", ".yml"});
  if (flags.holdout == 1) throw Error("--holdout: K must be at least 2 (K = 1 would hold out every run)");
  std::optional<Machine> base;
  if (!flags.base.empty()) base = load_machine(flags.base);
  const std::vector<LoadedRun> runs = load_traced_runs(flags.traces);
  const std::vector<bool> held = held_out_every(runs, flags.holdout);
  std::vector<sim::MeasuredRun> measured;
  std::vector<HeldOutRun> held_out;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    if (held[i]) {
      held_out.push_back({runs[i].run.workload, runs[i].run.placement});
    } else {
      measured.push_back({&runs[i].workload->graph, &runs[i].run.trace.trace, &runs[i].run.launches,
                          runs[i].run.queue_depth});
    }
  }
  std::string source = flags.traces + ": " + std::to_string(measured.size()) + " runs";
  if (flags.holdout > 0)
    source += ", placement " + std::to_string(flags.holdout) + ", " + std::to_string(2 * flags.holdout) +
              ", ... of each workload held out";
  Machine m = sim::fit_calibration(measured, base, source);
  m.calibration->issue_depth = common_queue_depth(runs);
  m.calibration->held_out = std::move(held_out);
  if (!base) m.name = "calibrated from " + flags.traces;
  write_file_atomically(flags.out,
                        "# Fitted by doppler calibrate --traces " + flags.traces +
                            (flags.holdout > 0 ? " --holdout " + std::to_string(flags.holdout) : "") + "\n" +
                            machine_to_yaml(m));
  print(m, flags, measured.size(), flags.json);
}

}  // namespace

void add_calibrate_command(CLI::App& app) {
  auto flags = std::make_shared<CalibrateFlags>();
  CLI::App* command = app.add_subcommand(
      "calibrate", "Fit the simulator's cost model from traced runs and write a calibrated machine file");
  command->add_option("--traces", flags->traces, "Directory of traced runs (docs/FORMATS.md)")
      ->type_name("DIR")
      ->required();
  command->add_option("--out", flags->out, "Machine file to write (.yaml)")->type_name("FILE")->required();
  command->add_option("--base", flags->base, "Machine file whose devices and links are the starting point")
      ->type_name("MACHINE.yaml");
  command
      ->add_option("--holdout", flags->holdout, "Leave every K-th placement of each workload out of the fit")
      ->type_name("K")
      ->check(positive_integer());
  command->add_flag("--json", flags->json, "Print JSON for scripts instead of a table");
  command->callback([flags] { run_calibrate(*flags); });
}

}  // namespace doppler::cli
