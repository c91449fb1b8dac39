// `doppler evaluate CONFIG.yaml... (--policy CKPT | --runs DIR)` or `doppler evaluate EVAL.yaml`: on
// each config's graph and machine, the trained policy (greedy, and best of K sampled episodes)
// against every heuristic (random, round_robin, critical_path, heft, etf, metis when built,
// eindecomp), all simulated. The policy for a config is CKPT (a checkpoint or policy file), or
// DIR/NAME/policy.ckpt, else DIR/NAME/policy.pt (NAME: the config's name, as `doppler train --out
// DIR/NAME` writes it); an evaluation file (evaluation_file.hpp) names each config's policy and K
// itself (--samples overrides K). With `--backend cuda` every plan also runs on this machine's GPUs
// (einsum workloads only; gpu_plan_timer.hpp): `--rounds` interleaved rounds over all plans, each
// plan's round figure the median of `--repetitions` timed runs, and its makespan the median over the
// rounds; ratios are per round, then the median (the GPUs drift between rounds, not within one);
// --measured-samples K adds the best of K sampled plans chosen by one measured run each.
// A table (makespan, ratio to critical path and to the best heuristic), --csv, --plot (bars) and
// --json ({"results": [{graph, method, makespan, simulated, ratio_to_best_heuristic, ...}, ...]}).
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <memory>

#include "bar_chart_svg.hpp"
#include "commands.hpp"
#include "doppler/error.hpp"
#include "doppler/file_io.hpp"
#include "doppler/learn/learned_policy.hpp"
#include "doppler/median.hpp"
#include "doppler/number_format.hpp"
#include "doppler/policies/placement.hpp"
#include "evaluation_file.hpp"
#include "gpu_plan_timer.hpp"
#include "report.hpp"
#include "run_inputs.hpp"
#include "text_table.hpp"

namespace doppler::cli {
namespace {

struct EvaluateFlags {
  std::vector<std::string> configs;
  std::string policy, runs, csv, plot;
  std::size_t samples = 16;
  bool samples_given = false;
  bool json = false;
  std::string backend = "sim";
  std::size_t rounds = 3, repetitions = 11;
  std::size_t measured_samples = 0;  // --backend cuda: also the best of this many by one measured run
};

struct Row {
  std::string graph, method;
  bool heuristic = false;
  double makespan = 0;         // simulated, or with --backend cuda measured (median over rounds)
  double simulated = 0;        // the simulator's makespan
  double ratio = 0;            // to critical path
  double ratio_best = 0;       // to the best heuristic
  std::vector<double> rounds;  // --backend cuda: the measured makespan of each round
};

// Ratios to critical path and to the best heuristic: of the makespans, or per round and then the median.
void set_ratios(std::vector<Row>& rows) {
  const std::size_t rounds = rows.front().rounds.empty() ? 1 : rows.front().rounds.size();
  const auto value = [&](const Row& r, std::size_t k) { return r.rounds.empty() ? r.makespan : r.rounds[k]; };
  std::vector<std::vector<double>> to_cp(rows.size()), to_best(rows.size());
  for (std::size_t k = 0; k < rounds; ++k) {
    double cp = 0, best = 0;
    for (const Row& r : rows) {
      if (r.method == "critical_path") cp = value(r, k);
      if (r.heuristic && (best == 0 || value(r, k) < best)) best = value(r, k);
    }
    for (std::size_t i = 0; i < rows.size(); ++i) {
      to_cp[i].push_back(cp > 0 ? value(rows[i], k) / cp : 0);
      to_best[i].push_back(best > 0 ? value(rows[i], k) / best : 0);
    }
  }
  for (std::size_t i = 0; i < rows.size(); ++i) {
    rows[i].ratio = median(to_cp[i]);
    rows[i].ratio_best = median(to_best[i]);
  }
}

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

std::vector<Row> evaluate_one(const Experiment& e, const std::string& ckpt, std::size_t samples,
                              const EvaluateFlags& flags) {
  const auto workload = load(e);
  std::unique_ptr<GpuPlanTimer> gpu;
  if (flags.backend == "cuda") {
    if (!workload->einsum) {
      throw Error(e.source + ": --backend cuda needs an einsum workload (a task graph has no data to run)");
    }
    try {
      gpu = std::make_unique<GpuPlanTimer>(*workload->einsum, workload->machine.num_devices(),
                                           flags.repetitions);
    } catch (const Error& error) {
      throw Error("evaluate --backend cuda: " + std::string(error.what()));
    }
  }
  sim::Simulator simulator(workload->graph, workload->machine, workload->model);
  const learn::LearnedPolicy policy = learn::LearnedPolicy::load(ckpt, workload->machine.num_devices());
  std::vector<std::pair<std::string, Plan>> plans;
  const std::vector<std::string> missing = unavailable_methods();
  for (const std::string& method : policies::all_heuristic_names()) {
    if (std::find(missing.begin(), missing.end(), method) != missing.end()) continue;
    plans.emplace_back(method, policies::place(method, {simulator, e.seed}));
  }
  plans.emplace_back("doppler", policy.place(simulator));
  plans.emplace_back("doppler_best_of_" + std::to_string(samples), policy.place(simulator, samples, e.seed));
  if (gpu && flags.measured_samples > 0) {
    plans.emplace_back("doppler_best_of_" + std::to_string(flags.measured_samples) + "_measured",
                       policy.place(simulator, flags.measured_samples, e.seed,
                                    [&gpu](const Plan& plan) { return gpu->seconds(plan, 1); }));
  }
  std::vector<Row> rows;
  for (std::size_t i = 0; i < plans.size(); ++i) {
    Row row;
    row.graph = e.name;
    row.method = plans[i].first;
    row.heuristic = plans[i].first.rfind("doppler", 0) != 0;
    row.simulated = row.makespan = simulator.run(plans[i].second).makespan;
    rows.push_back(row);
  }
  for (std::size_t k = 0; gpu && k < flags.rounds; ++k) {
    for (std::size_t i = 0; i < plans.size(); ++i) rows[i].rounds.push_back(gpu->seconds(plans[i].second));
  }
  if (gpu) {
    for (Row& row : rows) row.makespan = median(row.rounds);
  }
  set_ratios(rows);
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
  if (!flags.plot.empty()) check_output_path(flags.plot, "--plot", {".svg"});
  if (flags.measured_samples > 0 && flags.backend != "cuda")
    throw Error("evaluate --measured-samples: needs --backend cuda (plans are picked by measuring them)");
  const bool measured = flags.backend == "cuda";
  std::vector<Row> rows;
  for (const auto& [config, policy] : pairs) {
    const Experiment e = load_config(config);
    const std::vector<Row> more =
        evaluate_one(e, policy.empty() ? policy_of(e, flags) : policy, samples, flags);
    rows.insert(rows.end(), more.begin(), more.end());
  }
  if (!flags.csv.empty()) {
    std::string csv = "graph,method,makespan,ratio_to_critical_path,ratio_to_best_heuristic,simulated\n";
    for (const Row& r : rows) {
      csv += r.graph + "," + r.method + "," + format_number(r.makespan) + "," + ratio_text(r.ratio) + "," +
             ratio_text(r.ratio_best) + "," + format_number(r.simulated) + "\n";
    }
    write_file_atomically(flags.csv, csv);
  }
  if (!flags.plot.empty()) {
    std::vector<Bar> bars;
    for (const Row& r : rows)
      bars.push_back({r.graph + " " + r.method, r.ratio_best, ratio_text(r.ratio_best)});
    write_file_atomically(flags.plot,
                          bar_chart_svg(std::string("makespan / best heuristic (") +
                                            (measured ? "measured on the GPUs" : "simulated") + ")",
                                        bars, 1.0, "best heuristic"));
  }
  if (flags.json) {
    nlohmann::ordered_json results = nlohmann::ordered_json::array();
    for (const Row& r : rows) {
      nlohmann::ordered_json j{{"graph", r.graph},
                               {"method", r.method},
                               {"makespan", r.makespan},
                               {"simulated", r.simulated},
                               {"ratio_to_critical_path", r.ratio},
                               {"ratio_to_best_heuristic", r.ratio_best}};
      if (measured) j["rounds"] = r.rounds;
      results.push_back(j);
    }
    nlohmann::ordered_json out{{"backend", flags.backend}};
    if (measured) out["rounds"] = flags.rounds, out["repetitions"] = flags.repetitions;
    out["results"] = results;
    std::cout << out.dump(2) << "\n";
    return;
  }
  TextTable table({{"graph"},
                   {"method"},
                   {measured ? "measured" : "makespan", TextTable::Align::right},
                   {"simulated", TextTable::Align::right},
                   {"vs critical path", TextTable::Align::right},
                   {"vs best heuristic", TextTable::Align::right}});
  for (const Row& r : rows) {
    table.add_row({r.graph, r.method, format_number(r.makespan), measured ? format_number(r.simulated) : "-",
                   ratio_text(r.ratio), ratio_text(r.ratio_best)});
  }
  std::cout << table.render();
}

}  // namespace

void add_evaluate_command(CLI::App& app) {
  auto flags = std::make_shared<EvaluateFlags>();
  CLI::App* command = app.add_subcommand(
      "evaluate",
      "A trained policy (greedy, best of K) against every heuristic on configs' graphs, simulated "
      "(and measured on GPUs with --backend cuda)");
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
  command->add_option("--plot", flags->plot, "Write a bar chart of the ratios to the best heuristic")
      ->type_name("FILE.svg");
  command
      ->add_option("--backend", flags->backend, "sim (default), or cuda: also measure every plan on the GPUs")
      ->check(CLI::IsMember({"sim", "cuda"}));
  command
      ->add_option("--rounds", flags->rounds, "--backend cuda: interleaved rounds over the plans (default 3)")
      ->type_name("R")
      ->check(positive_integer());
  command
      ->add_option("--measured-samples", flags->measured_samples,
                   "--backend cuda: also the best of K sampled plans by one measured run each, then "
                   "measured like the others (default 0: off)")
      ->type_name("K");
  command
      ->add_option("--repetitions", flags->repetitions,
                   "--backend cuda: timed runs of a plan per round, after one untimed (default 11)")
      ->type_name("N")
      ->check(positive_integer());
  command->add_flag("--json", flags->json, "Print JSON for scripts instead of a table");
  command->callback([flags, samples] {
    flags->samples_given = samples->count() > 0;
    evaluate(*flags);
  });
}

}  // namespace doppler::cli
