// `doppler bench sim`: the simulator hot path as an RL trainer drives it. K random placements are
// generated first, then simulated with Simulator::makespan() once untimed (warm-up) and R times
// timed; the report gives the median and minimum time per placement over the R repetitions, and
// events per second.
#include <algorithm>
#include <chrono>
#include <iostream>
#include <memory>
#include <random>

#include "commands.hpp"
#include "doppler/error.hpp"
#include "doppler/number_format.hpp"
#include "report.hpp"
#include "run_inputs.hpp"
#include "text_table.hpp"

namespace doppler::cli {
namespace {

constexpr std::size_t kMaxEntries = std::size_t{1} << 24;

struct BenchFlags {
  RunFlags run;
  std::size_t episodes = 1000;
  std::size_t repetitions = 5;
};

void bench_sim(const BenchFlags& flags) {
  const Experiment e = resolve(flags.run);
  const auto workload = load(e);
  sim::Simulator simulator(workload->graph, workload->machine, workload->model);
  const std::size_t ops = workload->graph.num_ops();
  const std::size_t devices = workload->machine.num_devices();

  std::mt19937_64 rng(e.seed);
  std::uniform_int_distribution<DeviceId> pick(0, static_cast<DeviceId>(devices - 1));
  // At most kMaxEntries device entries are pre-generated; beyond that placements are reused in turn.
  const std::size_t pool =
      std::min(flags.episodes, std::max<std::size_t>(1, kMaxEntries / std::max<std::size_t>(ops, 1)));
  std::vector<DeviceId> placements(pool * ops);
  for (DeviceId& d : placements) d = pick(rng);

  std::vector<double> us_per_placement;
  std::uint64_t events = 0;
  double makespan_sum = 0;
  // Repetition 0 is an untimed warm-up (caches, page faults); the rest are timed.
  for (std::size_t rep = 0; rep <= flags.repetitions; ++rep) {
    std::uint64_t rep_events = 0;
    double rep_sum = 0;
    const auto start = std::chrono::steady_clock::now();
    for (std::size_t k = 0; k < flags.episodes; ++k) {
      rep_sum += simulator.makespan(std::span<const DeviceId>(placements.data() + (k % pool) * ops, ops));
      rep_events += simulator.last_events();
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (rep > 0) us_per_placement.push_back(seconds * 1e6 / static_cast<double>(flags.episodes));
    events = rep_events;
    makespan_sum = rep_sum;
  }
  std::vector<double> sorted = us_per_placement;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted.size() % 2 == 1
                            ? sorted[sorted.size() / 2]
                            : (sorted[sorted.size() / 2 - 1] + sorted[sorted.size() / 2]) / 2;
  const double minimum = sorted.front();
  const double events_per_placement = static_cast<double>(events) / static_cast<double>(flags.episodes);
  const double events_per_second = median > 0 ? events_per_placement / median * 1e6 : 0.0;
  const double placements_per_second = median > 0 ? 1e6 / median : 0.0;
  const double mean_makespan = makespan_sum / static_cast<double>(flags.episodes);

  if (flags.run.json) {
    nlohmann::ordered_json j = inputs_json(e, *workload);
    j["devices"] = devices;
    j["episodes"] = flags.episodes;
    j["repetitions"] = flags.repetitions;
    j["distinct_placements"] = pool;
    j["us_per_placement"] = median;
    j["us_per_placement_min"] = minimum;
    j["us_per_placement_all"] = us_per_placement;
    j["placements_per_second"] = placements_per_second;
    j["events_per_second"] = events_per_second;
    j["events_per_placement"] = events_per_placement;
    j["mean_makespan"] = mean_makespan;
    std::cout << j.dump(2) << "\n";
    return;
  }
  TextTable table({{"", TextTable::Align::left}, {"", TextTable::Align::left}});
  table.add_row({"bench sim", inputs_line(e, *workload)});
  table.add_row({"episodes", std::to_string(flags.episodes) + " random placements (pre-generated) x " +
                                 std::to_string(flags.repetitions) + " repetitions"});
  table.add_row(
      {"us per placement", format_short(median, 4) + " median, " + format_short(minimum, 4) + " min"});
  table.add_row({"placements/s", format_short(placements_per_second, 4)});
  table.add_row({"events/s", format_short(events_per_second, 4)});
  table.add_row({"events/placement", format_short(events_per_placement, 6)});
  table.add_row({"mean makespan", format_short(mean_makespan, 6)});
  std::cout << table.render();
}

}  // namespace

void add_bench_command(CLI::App& app) {
  CLI::App* bench = app.add_subcommand("bench", "Benchmarks");
  bench->require_subcommand(1);
  auto flags = std::make_shared<BenchFlags>();
  CLI::App* command = bench->add_subcommand(
      "sim",
      "Time the simulator on random placements (as an RL trainer asks): us per placement, events per second");
  add_input_flags(*command, flags->run);
  command->add_option("--episodes", flags->episodes, "Random placements per repetition (default 1000)")
      ->type_name("K")
      ->check(positive_integer());
  command->add_option("--repetitions", flags->repetitions, "Timed passes over the K placements (default 5)")
      ->type_name("R")
      ->check(positive_integer());
  command->callback([flags] { bench_sim(*flags); });
#ifdef DOPPLER_HAVE_TORCH
  add_bench_learn_commands(*bench);
#endif
}

}  // namespace doppler::cli
