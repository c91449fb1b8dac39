// `doppler bench train` and `doppler bench place`: the learned policies' speed.
//  bench train CONFIG --episodes N: N episodes of stage I, then N of stage II, on one rollout
//    thread, nothing written; ms per episode with its parts (encoders, rollouts, update).
//  bench place CONFIG --policy CKPT: greedy placement time (encoders + one episode), median of R.
#include <algorithm>
#include <chrono>
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "doppler/learn/learned_policy.hpp"
#include "doppler/learn/trainer.hpp"
#include "doppler/number_format.hpp"
#include "report.hpp"
#include "run_inputs.hpp"
#include "text_table.hpp"

namespace doppler::cli {
namespace {

struct BenchLearnFlags {
  RunFlags run;
  std::size_t episodes = 64;
  std::size_t repetitions = 5;
  std::string policy;
};

void bench_train(const BenchLearnFlags& flags) {
  const Experiment e = resolve(flags.run);
  const auto workload = load(e);
  learn::TrainRequest request;
  const learn::PolicyConfig policy = learn::read_policy(e);
  request.sizes = policy.sizes;
  request.mode = policy.mode;
  request.settings = learn::read_train_settings(e);
  request.settings.threads = 1;
  request.graph = &workload->graph;
  request.machine = &workload->machine;
  request.model = workload->model;
  nlohmann::ordered_json j = inputs_json(e, *workload);
  TextTable table({{"", TextTable::Align::left}, {"", TextTable::Align::left}});
  table.add_row({"bench train", inputs_line(e, *workload)});
  table.add_row({"policy", "hidden " + std::to_string(request.sizes.hidden) + ", steps " +
                               std::to_string(request.sizes.steps) + ", batch " +
                               std::to_string(request.settings.batch) + ", 1 thread"});
  for (const int stage : {1, 2}) {
    request.settings.imitation_episodes = stage == 1 ? flags.episodes : 0;
    request.settings.rl_episodes = stage == 1 ? 0 : flags.episodes;
    const learn::TrainResult r = learn::train(request);
    const double n = static_cast<double>(r.episodes_run);
    const std::string key = stage == 1 ? "stage_1" : "stage_2";
    j[key] = {{"episodes", r.episodes_run},
              {"ms_per_episode", r.seconds * 1e3 / n},
              {"encoder_ms_per_episode", r.encoder_seconds * 1e3 / n},
              {"rollout_ms_per_episode", r.rollout_seconds * 1e3 / n},
              {"update_ms_per_episode", r.update_seconds * 1e3 / n}};
    table.add_row({std::string("stage ") + (stage == 1 ? "I" : "II") + " ms/episode",
                   format_short(r.seconds * 1e3 / n, 3) + " (encoders " +
                       format_short(r.encoder_seconds * 1e3 / n, 3) + ", rollouts " +
                       format_short(r.rollout_seconds * 1e3 / n, 3) + ", update " +
                       format_short(r.update_seconds * 1e3 / n, 3) + ")"});
  }
  if (flags.run.json) {
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << table.render();
  }
}

void bench_place(const BenchLearnFlags& flags) {
  const Experiment e = resolve(flags.run);
  const auto workload = load(e);
  sim::Simulator simulator(workload->graph, workload->machine, workload->model);
  const learn::LearnedPolicy policy =
      learn::LearnedPolicy::load(flags.policy, workload->machine.num_devices());
  std::vector<double> ms;
  for (std::size_t rep = 0; rep <= flags.repetitions; ++rep) {
    const auto start = std::chrono::steady_clock::now();
    const Plan plan = policy.place(simulator);
    if (rep > 0)
      ms.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() * 1e3);
  }
  std::sort(ms.begin(), ms.end());
  const double median = ms[ms.size() / 2];
  if (flags.run.json) {
    nlohmann::ordered_json j = inputs_json(e, *workload);
    j["policy"] = flags.policy;
    j["place_ms_median"] = median;
    j["place_ms_min"] = ms.front();
    j["threads"] = learn::LearnedPolicy::placement_threads();
    std::cout << j.dump(2) << "\n";
    return;
  }
  TextTable table({{"", TextTable::Align::left}, {"", TextTable::Align::left}});
  table.add_row({"bench place", inputs_line(e, *workload)});
  table.add_row({"ms per placement", format_short(median, 3) + " median, " + format_short(ms.front(), 3) +
                                         " min (" + std::to_string(flags.repetitions) + " repetitions, " +
                                         std::to_string(learn::LearnedPolicy::placement_threads()) +
                                         " threads)"});
  std::cout << table.render();
}

}  // namespace

void add_bench_learn_commands(CLI::App& bench) {
  auto flags = std::make_shared<BenchLearnFlags>();
  CLI::App* train = bench.add_subcommand(
      "train", "Time training episodes (stage I and II, one thread): ms per episode and its parts");
  add_input_flags(*train, flags->run);
  train->add_option("--episodes", flags->episodes, "Episodes per stage (default 64)")
      ->type_name("N")
      ->check(positive_integer());
  train->callback([flags] { bench_train(*flags); });

  auto place_flags = std::make_shared<BenchLearnFlags>();
  CLI::App* place = bench.add_subcommand("place", "Time greedy placement with a trained policy");
  add_input_flags(*place, place_flags->run);
  place->add_option("--policy", place_flags->policy, "Policy checkpoint")->type_name("CKPT")->required();
  place->add_option("--repetitions", place_flags->repetitions, "Timed placements (default 5)")
      ->type_name("R")
      ->check(positive_integer());
  place->callback([place_flags] { bench_place(*place_flags); });
}

}  // namespace doppler::cli
