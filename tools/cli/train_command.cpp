// `doppler train CONFIG.yaml [--out DIR] [--resume | --init CKPT]`: trains the SEL/PLC policies on the
// config's graph and machine (stages and sizes from its train: and policy: sections, docs/TRAINING.md), and
// on the graphs of train.graphs too when given (the plans, curve and summary are the config graph's); with
// train.gpu_episodes, stage III times the sampled plans of the config's einsum workload on this
// machine's GPUs (gpu_plan_timer.hpp). Writes
// DIR/policy.ckpt, policy.pt (the policy without optimizer state), episodes.csv, best_plan.yaml,
// greedy_plan.yaml and learning_curve.svg; a progress line on stderr (not with --json); a summary (table or
// --json) on stdout.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <memory>

#include "commands.hpp"
#include "doppler/error.hpp"
#include "doppler/file_io.hpp"
#include "doppler/learn/trainer.hpp"
#include "doppler/number_format.hpp"
#include "doppler/policies/placement.hpp"
#include "gpu_plan_timer.hpp"
#include "line_chart_svg.hpp"
#include "report.hpp"
#include "run_inputs.hpp"
#include "text_table.hpp"

namespace doppler::cli {
namespace {

struct TrainFlags {
  RunFlags run;
  std::string out;
  bool resume = false;
  std::string init;
  std::size_t threads = 0;  // 0 = the config's
};

std::string clock_text(double seconds) {
  const auto s = static_cast<long long>(seconds + 0.5);
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
  return buffer;
}

// At most twice a second; in place on a terminal, one line every 10 s otherwise.
class ProgressLine {
 public:
  void operator()(const learn::TrainProgress& p) {
    const auto now = std::chrono::steady_clock::now();
    const bool last = p.episode == p.total;
    if (!last && now - shown_ < (tty_ ? std::chrono::milliseconds(500) : std::chrono::seconds(10))) return;
    shown_ = now;
    std::cerr << (tty_ ? "\r" : "") << "train: episode " << p.episode << "/" << p.total << "  stage "
              << (p.stage == 1   ? "I  "
                  : p.stage == 2 ? "II "
                                 : "III")
              << "  best " << format_short(p.best, 6) << "  running " << format_short(p.running, 6)
              << "  elapsed " << clock_text(p.seconds) << "  ETA " << clock_text(p.eta_seconds)
              << (tty_ ? "" : "\n") << std::flush;
    printed_ = true;
  }
  ~ProgressLine() {
    if (printed_ && tty_) std::cerr << "\n";
  }

 private:
  bool tty_ = isatty(2) != 0;
  bool printed_ = false;
  std::chrono::steady_clock::time_point shown_{};
};

// The config graph's episodes; at most ~2,000 points per series (every k-th episode, and the last) keep
// the SVG small.
std::string curve_svg(const std::string& title, const std::vector<learn::EpisodeRecord>& all,
                      double reference) {
  std::vector<learn::EpisodeRecord> log;
  std::copy_if(all.begin(), all.end(), std::back_inserter(log),
               [](const learn::EpisodeRecord& r) { return r.graph == 0; });
  LineSeries makespan{"episode makespan", "#bbbbbb", {}, {}}, running{"running mean", "#1f77b4", {}, {}},
      best{"best", "#2ca02c", {}, {}}, cp{"critical path", "#d62728", {}, {}, true};
  const std::size_t step = std::max<std::size_t>(1, (log.size() + 1999) / 2000);
  for (std::size_t i = 0; i < log.size(); ++i) {
    if (i % step != 0 && i + 1 != log.size()) continue;
    const learn::EpisodeRecord& r = log[i];
    const auto x = static_cast<double>(r.episode);
    makespan.x.push_back(x), makespan.y.push_back(r.makespan);
    running.x.push_back(x), running.y.push_back(r.running);
    best.x.push_back(x), best.y.push_back(r.best);
  }
  if (!log.empty()) cp.x = {0, static_cast<double>(log.back().episode)}, cp.y = {reference, reference};
  return line_chart_svg(title, "episode", "makespan", {makespan, running, best, cp});
}

void train(const TrainFlags& flags) {
  const Experiment e = resolve(flags.run);
  learn::TrainRequest request;
  const learn::PolicyConfig policy = learn::read_policy(e);
  request.sizes = policy.sizes;
  request.mode = policy.mode;
  request.settings = learn::read_train_settings(e);
  if (flags.threads > 0) request.settings.threads = flags.threads;
  request.out_dir = flags.out.empty() ? "train-" + e.name : flags.out;
  request.resume = flags.resume;
  request.init = flags.init;
  const auto workload = load(e);
  request.graph = &workload->graph;
  std::vector<TaskGraph> more_graphs;
  more_graphs.reserve(request.settings.graphs.size());
  for (const std::string& spec : request.settings.graphs) {
    more_graphs.push_back(load_graph_spec(spec, e.seed));
    request.more_graphs.push_back(&more_graphs.back());
  }
  request.machine = &workload->machine;
  request.model = workload->model;
  std::unique_ptr<GpuPlanTimer> gpu;
  if (request.settings.gpu_episodes > 0) {
    if (!workload->einsum) {
      throw Error(
          flags.run.config +
          ": train.gpu_episodes (stage III) needs an einsum workload (a task graph has no data to run)");
    }
    if (!more_graphs.empty()) {
      throw Error(flags.run.config +
                  ": train.gpu_episodes (stage III) trains on the config's graph only, "
                  "not with train.graphs");
    }
    try {
      gpu = std::make_unique<GpuPlanTimer>(*workload->einsum, workload->machine.num_devices(),
                                           request.settings.gpu_repetitions);
    } catch (const Error& error) {
      throw Error("train: stage III (train.gpu_episodes): " + std::string(error.what()));
    }
    request.measure = [&gpu](std::size_t, const std::vector<Plan>& plans) {
      std::vector<double> seconds;
      for (const Plan& plan : plans) seconds.push_back(gpu->seconds(plan));
      return seconds;
    };
  }
  sim::Simulator simulator(workload->graph, workload->machine, workload->model);
  const Plan reference = policies::place("critical_path", {simulator, e.seed});
  const double critical_path = simulator.makespan(reference.device, reference.priority);
  ProgressLine progress;
  if (!flags.run.json) request.progress = [&progress](const learn::TrainProgress& p) { progress(p); };
  const learn::TrainResult result = learn::train(request);
  const double critical_path_measured = gpu ? gpu->seconds(reference) : 0;
  const std::string svg = (std::filesystem::path(request.out_dir) / "learning_curve.svg").string();
  write_file_atomically(
      svg, curve_svg(e.name + ": training (" + std::to_string(result.log.size()) + " episodes)", result.log,
                     critical_path));
  const double ms =
      result.episodes_run > 0 ? result.seconds * 1e3 / static_cast<double>(result.episodes_run) : 0;
  if (flags.run.json) {
    nlohmann::ordered_json j = inputs_json(e, *workload);
    j["out"] = request.out_dir;
    j["training_graphs"] = 1 + more_graphs.size();
    j["episodes"] = result.log.size();
    j["episodes_run"] = result.episodes_run;
    j["seconds"] = result.seconds;
    j["ms_per_episode"] = ms;
    j["best_makespan"] = result.best_makespan;
    j["greedy_makespan"] = result.greedy_makespan;
    j["critical_path_makespan"] = critical_path;
    if (!result.teacher.empty()) {
      j["teacher"] = result.teacher;
      j["teacher_makespan"] = result.teacher_makespan;
    }
    if (gpu) {
      j["gpu_episodes"] = request.settings.gpu_episodes;
      j["critical_path_measured"] = critical_path_measured;  // best and greedy above are measured too
    }
    std::cout << j.dump(2) << "\n";
    return;
  }
  TextTable table({{"", TextTable::Align::left}, {"", TextTable::Align::left}});
  table.add_row({"train", inputs_line(e, *workload)});
  for (const std::string& spec : request.settings.graphs) table.add_row({"also on", spec});
  table.add_row({"episodes", std::to_string(result.log.size()) + " (" + std::to_string(result.episodes_run) +
                                 " now, " + format_short(result.seconds, 4) + " s, " + format_short(ms, 3) +
                                 " ms each, " + std::to_string(request.settings.threads) + " threads)"});
  table.add_row({"best makespan", format_number(result.best_makespan)});
  table.add_row({"greedy makespan", format_number(result.greedy_makespan)});
  table.add_row({"critical path", format_number(critical_path)});
  if (!result.teacher.empty() && result.teacher != "critical_path") {
    table.add_row({"teacher", result.teacher + ", " + format_number(result.teacher_makespan)});
  }
  if (gpu) {
    table.add_row({"critical path, measured",
                   format_number(critical_path_measured) + " (best and greedy above: measured on the GPUs)"});
  }
  table.add_row({"outputs", request.out_dir +
                                "/{policy.ckpt, policy.pt, episodes.csv, best_plan.yaml, greedy_plan.yaml, "
                                "learning_curve.svg}"});
  std::cout << table.render();
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto flags = std::make_shared<TrainFlags>();
  CLI::App* command = app.add_subcommand("train",
                                         "Train the SEL/PLC placement policies on a config's graph "
                                         "(imitation, REINFORCE in the simulator, then on the GPUs)");
  add_input_flags(*command, flags->run);
  flags->run.config_opt->required();
  command->add_option("--out", flags->out, "Output directory (default train-NAME)")->type_name("DIR");
  command->add_flag("--resume", flags->resume, "Continue from DIR/policy.ckpt exactly");
  command
      ->add_option(
          "--init", flags->init,
          "Start from a trained policy's weights (policy.pt or policy.ckpt; fine-tuning), fresh optimizer")
      ->type_name("CKPT");
  command->add_option("--threads", flags->threads, "Rollout threads (default: the config's train.threads)")
      ->type_name("N")
      ->check(positive_integer());
  command->callback([flags] { train(*flags); });
}

}  // namespace doppler::cli
