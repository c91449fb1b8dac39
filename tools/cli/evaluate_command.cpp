// `doppler evaluate CONFIG.yaml... (--policy CKPT | --runs DIR)` or `doppler evaluate EVAL.yaml`: on
// each config's graph and machine, the trained policy (greedy, and best of K sampled episodes)
// against every heuristic (random, round_robin, critical_path, heft, etf, metis when built,
// eindecomp), all simulated. The policy for a config is CKPT (a checkpoint or policy file), or
// DIR/NAME/policy.ckpt, else DIR/NAME/policy.pt (NAME: the config's name, as `doppler train --out
// DIR/NAME` writes it); an evaluation file (evaluation_file.hpp) names each config's policy and K
// itself (--samples overrides K). A table (makespan and ratio to critical path), --csv and --json
// ({"results": [{graph, method, makespan}, ...]}).
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "doppler/error.hpp"
#include "doppler/file_io.hpp"
#include "doppler/learn/learned_policy.hpp"
#include "doppler/number_format.hpp"
#include "doppler/policies/placement.hpp"
#include "evaluation_file.hpp"
#include "report.hpp"
#include "run_inputs.hpp"
#include "text_table.hpp"

namespace doppler::cli {
namespace {

struct EvaluateFlags {
  std::vector<std::string> configs;
  std::string policy, runs, csv;
  std::size_t samples = 16;
  bool samples_given = false;
  bool json = false;
};

struct Row {
  std::string graph, method;
  double makespan = 0, ratio = 0;
};

// The policy of a config: --policy, or the run under --runs (its checkpoint, else its policy file).
std::string policy_of(const Experiment& e, const EvaluateFlags& flags) {
  if (!flags.policy.empty()) return flags.policy;
  const std::filesystem::path run = std::filesystem::path(flags.runs) / e.name;
  const bool policy_file_only =
      !std::filesystem::exists(run / "policy.ckpt") && std::filesystem::exists(run / "policy.pt");
  return (run / (policy_file_only ? "policy.pt" : "policy.ckpt")).string();
}

Experiment load_config(const std::string& config) {
  Experiment e = load_experiment(config, known_names());
  if (e.model.empty()) e.model = e.machine.empty() ? "paper" : "roofline";
  return e;
}

std::vector<Row> evaluate_one(const Experiment& e, const std::string& ckpt, std::size_t samples) {
  const auto workload = load(e);
  sim::Simulator simulator(workload->graph, workload->machine, workload->model);
  const learn::LearnedPolicy policy = learn::LearnedPolicy::load(ckpt, workload->machine.num_devices());
  std::vector<std::pair<std::string, Plan>> plans;
  const std::vector<std::string> missing = unavailable_methods();
  for (const std::string& method : policies::placement_names()) {
    if (std::find(missing.begin(), missing.end(), method) != missing.end()) continue;
    plans.emplace_back(method, policies::place(method, {simulator, e.seed}));
  }
  plans.emplace_back("doppler", policy.place(simulator));
  plans.emplace_back("doppler_best_of_" + std::to_string(samples), policy.place(simulator, samples, e.seed));
  std::vector<Row> rows;
  double critical_path = 0;
  for (const auto& [method, plan] : plans) {
    rows.push_back({e.name, method, simulator.run(plan).makespan, 0});
    if (method == "critical_path") critical_path = rows.back().makespan;
  }
  for (Row& row : rows) row.ratio = critical_path > 0 ? row.makespan / critical_path : 0;
  return rows;
}

// The configs to evaluate, each with its policy file and K.
std::vector<std::pair<std::string, std::string>> config_policies(const EvaluateFlags& flags,
                                                                 std::size_t& samples) {
  std::vector<std::pair<std::string, std::string>> pairs;
  samples = flags.samples;
  const auto file = std::find_if(flags.configs.begin(), flags.configs.end(), is_evaluation_file);
  if (file != flags.configs.end()) {
    if (flags.configs.size() > 1)
      throw Error(*file + ": an evaluation file is evaluated alone, without other configs");
    if (!flags.policy.empty() || !flags.runs.empty()) {
      throw Error(flags.configs.front() +
                  ": an evaluation file names its policies; drop --policy and --runs");
    }
    const EvaluationFile evaluation = load_evaluation_file(flags.configs.front());
    if (!flags.samples_given) samples = evaluation.samples;
    for (const EvaluationRun& run : evaluation.runs) pairs.emplace_back(run.config, run.policy);
    return pairs;
  }
  if (flags.policy.empty() == flags.runs.empty())
    throw Error("give exactly one of --policy CKPT and --runs DIR");
  for (const std::string& config : flags.configs) pairs.emplace_back(config, std::string());
  return pairs;
}

void evaluate(const EvaluateFlags& flags) {
  std::size_t samples = 0;
  const std::vector<std::pair<std::string, std::string>> pairs = config_policies(flags, samples);
  if (!flags.csv.empty()) check_output_path(flags.csv, "--csv", {".csv"});
  std::vector<Row> rows;
  for (const auto& [config, policy] : pairs) {
    const Experiment e = load_config(config);
    const std::vector<Row> more = evaluate_one(e, policy.empty() ? policy_of(e, flags) : policy, samples);
    rows.insert(rows.end(), more.begin(), more.end());
  }
  if (!flags.csv.empty()) {
    std::string csv = "graph,method,makespan,ratio_to_critical_path\n";
    for (const Row& r : rows)
      csv += r.graph + "," + r.method + "," + format_number(r.makespan) + "," + ratio_text(r.ratio) + "\n";
    write_file_atomically(flags.csv, csv);
  }
  if (flags.json) {
    nlohmann::ordered_json results = nlohmann::ordered_json::array();
    for (const Row& r : rows)
      results.push_back({{"graph", r.graph}, {"method", r.method}, {"makespan", r.makespan}});
    std::cout << nlohmann::ordered_json{{"results", results}}.dump(2) << "\n";
    return;
  }
  TextTable table({{"graph"},
                   {"method"},
                   {"makespan", TextTable::Align::right},
                   {"vs critical path", TextTable::Align::right}});
  for (const Row& r : rows)
    table.add_row({r.graph, r.method, format_number(r.makespan), ratio_text(r.ratio)});
  std::cout << table.render();
}

}  // namespace

void add_evaluate_command(CLI::App& app) {
  auto flags = std::make_shared<EvaluateFlags>();
  CLI::App* command = app.add_subcommand(
      "evaluate",
      "A trained policy (greedy, best of K) against every heuristic on configs' graphs, simulated");
  command
      ->add_option("configs", flags->configs,
                   "Experiment configs (YAML), or one evaluation file (evaluate: {samples, runs})")
      ->required()
      ->type_name("CONFIG.yaml");
  command->add_option("--policy", flags->policy, "Policy checkpoint for every config")->type_name("CKPT");
  command
      ->add_option("--runs", flags->runs,
                   "Directory of training runs: DIR/NAME/policy.ckpt (or policy.pt) per config")
      ->type_name("DIR");
  CLI::Option* samples =
      command
          ->add_option("--samples", flags->samples,
                       "K for best-of-K sampled placements (default 16, or the evaluation file's)")
          ->type_name("K")
          ->check(positive_integer());
  command->add_option("--csv", flags->csv, "Write the results as CSV")->type_name("FILE");
  command->add_flag("--json", flags->json, "Print JSON for scripts instead of a table");
  command->callback([flags, samples] {
    flags->samples_given = samples->count() > 0;
    evaluate(*flags);
  });
}

}  // namespace doppler::cli
