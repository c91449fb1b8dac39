// `doppler place --policy CKPT CONFIG.yaml [--out plan.yaml] [--samples K]`: places the config's
// graph with a trained policy (greedy, or the best of K sampled episodes), simulates the plan and
// reports its makespan and how long placing took (one cold call, torch start-up included); --out
// saves the plan. CKPT: a training checkpoint (DIR/policy.ckpt) or policy file (DIR/policy.pt).
#include <chrono>
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "doppler/error.hpp"
#include "doppler/learn/learned_policy.hpp"
#include "doppler/number_format.hpp"
#include "report.hpp"
#include "run_inputs.hpp"
#include "text_table.hpp"

namespace doppler::cli {
namespace {

struct PlaceFlags {
  RunFlags run;
  std::string policy;
  std::string out;
  std::size_t samples = 0;
};

void place_with_policy(const PlaceFlags& flags) {
  if (!flags.out.empty()) check_output_path(flags.out, "--out", {".yaml", ".yml", ".json"});
  const Experiment e = resolve(flags.run);
  const auto workload = load(e);
  sim::Simulator simulator(workload->graph, workload->machine, workload->model);
  const learn::LearnedPolicy policy =
      learn::LearnedPolicy::load(flags.policy, workload->machine.num_devices());
  const auto start = std::chrono::steady_clock::now();
  const Plan plan = policy.place(simulator, flags.samples, e.seed);
  const double ms = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() * 1e3;
  const double makespan = simulator.run(plan).makespan;
  if (!flags.out.empty()) save_plan(plan, flags.out);
  if (flags.run.json) {
    nlohmann::ordered_json j = inputs_json(e, *workload);
    j["policy"] = flags.policy;
    j["method"] = plan.method;
    j["makespan"] = makespan;
    j["place_ms"] = ms;
    if (!flags.out.empty()) j["plan"] = flags.out;
    std::cout << j.dump(2) << "\n";
    return;
  }
  TextTable table({{"", TextTable::Align::left}, {"", TextTable::Align::left}});
  table.add_row({"place", inputs_line(e, *workload)});
  table.add_row({"policy", flags.policy + " (" + plan.method + ")"});
  table.add_row({"makespan", format_number(makespan)});
  table.add_row(
      {"placing took", format_short(ms, 3) + " ms (one cold call; `doppler bench place` times warm ones)"});
  if (!flags.out.empty()) table.add_row({"plan", flags.out});
  std::cout << table.render();
}

}  // namespace

void add_place_command(CLI::App& app) {
  auto flags = std::make_shared<PlaceFlags>();
  CLI::App* command = app.add_subcommand("place", "Place a graph with a trained policy (doppler train)");
  add_input_flags(*command, flags->run);
  command
      ->add_option("--policy", flags->policy,
                   "Policy checkpoint or file (DIR/policy.ckpt or DIR/policy.pt of doppler train)")
      ->type_name("CKPT")
      ->required();
  command->add_option("--out", flags->out, "Save the plan (.yaml, .yml or .json)")->type_name("FILE");
  command->add_option("--samples", flags->samples, "Best of K sampled episodes instead of greedy")
      ->type_name("K")
      ->check(positive_integer());
  command->callback([flags] { place_with_policy(*flags); });
}

}  // namespace doppler::cli
