#include "doppler/learn/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <thread>

#include "checkpoint.hpp"
#include "doppler/error.hpp"
#include "doppler/file_io.hpp"
#include "doppler/learn/graph_inputs.hpp"
#include "doppler/learn/policy_net.hpp"
#include "doppler/learn/rollout.hpp"
#include "doppler/learn/teacher.hpp"
#include "doppler/number_format.hpp"
#include "torch_threads.hpp"

namespace doppler::learn {
namespace {

namespace fs = std::filesystem;

constexpr const char* kCsvHeader = "episode,stage,makespan,running,best,loss,lr,epsilon,graph";

std::uint64_t episode_seed(std::uint64_t seed, std::uint64_t episode) {
  std::uint64_t z = seed * 0x9E3779B97F4A7C15ull + episode + 1;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// One rollout thread's own simulator and environment.
struct Worker {
  std::unique_ptr<sim::Simulator> simulator;
  std::unique_ptr<policies::PlacementEnv> env;
};

// One training graph: its rollout workers, network inputs and running statistics.
struct TrainingGraph {
  std::vector<Worker> workers;
  GraphInputs inputs;
  GraphTensors tensors;
  TeacherChoice teacher;  // stage I's
  double running = 0, best = 0;
  Plan best_plan;  // of `best`
};

// Where graph i's best plan is kept: best_plan.yaml for the config's graph, best_plan_<i>.yaml for the
// others (written only with self-imitation, which needs them to resume).
std::string best_plan_path(const std::string& out_dir, std::size_t graph) {
  return (fs::path(out_dir) /
          (graph == 0 ? "best_plan.yaml" : "best_plan_" + std::to_string(graph) + ".yaml"))
      .string();
}

std::string csv_text(const std::vector<EpisodeRecord>& log) {
  std::ostringstream out;
  out << kCsvHeader << "\n";
  for (const EpisodeRecord& r : log) {
    out << r.episode << ',' << r.stage << ',' << format_number(r.makespan) << ',' << format_number(r.running)
        << ',' << format_number(r.best) << ',' << format_number(r.loss) << ',' << format_number(r.lr) << ','
        << format_number(r.epsilon) << ',' << r.graph << "\n";
  }
  return out.str();
}

// The rows of an earlier run's CSV for episodes before `episode`.
std::vector<EpisodeRecord> read_csv(const std::string& path, std::uint64_t episode) {
  std::vector<EpisodeRecord> log;
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return log;
  std::istringstream in(read_text_file(path));
  std::string line;
  std::getline(in, line);
  std::size_t number = 1;
  while (std::getline(in, line)) {
    ++number;
    EpisodeRecord r;
    char c1, c2, c3, c4, c5, c6, c7, c8;
    std::istringstream row(line);
    if (!(row >> r.episode >> c1 >> r.stage >> c2 >> r.makespan >> c3 >> r.running >> c4 >> r.best >> c5 >>
          r.loss >> c6 >> r.lr >> c7 >> r.epsilon >> c8 >> r.graph)) {
      throw_at(path, number, "cannot read the episode log row (expected " + std::string(kCsvHeader) + ")");
    }
    if (r.episode < episode) log.push_back(r);
  }
  if (log.size() != episode) {
    throw Error(path + ": holds " + std::to_string(log.size()) + " episodes before the checkpoint's " +
                std::to_string(episode));
  }
  return log;
}

// Torch and its BLAS on one thread (rollouts use the cores; results independent of the machine),
// initial weights from the seed.
PolicyNet seeded_net(const TrainRequest& request) {
  use_one_torch_thread();
  torch::manual_seed(request.settings.seed);
  return PolicyNet(request.sizes, request.mode.mean_device_sum);
}

class Trainer {
 public:
  explicit Trainer(const TrainRequest& request)
      : r_(request),
        s_(request.settings),
        net_(seeded_net(request)),
        optimizer_(net_->parameters(), torch::optim::AdamOptions(request.settings.lr)) {
    std::vector<const TaskGraph*> all{r_.graph};
    all.insert(all.end(), r_.more_graphs.begin(), r_.more_graphs.end());
    for (const TaskGraph* graph : all) {
      TrainingGraph g;
      for (std::size_t t = 0; t < std::max<std::size_t>(1, s_.threads); ++t) {
        Worker w;
        w.simulator = std::make_unique<sim::Simulator>(*graph, *r_.machine, r_.model);
        w.env = std::make_unique<policies::PlacementEnv>(*w.simulator);
        g.workers.push_back(std::move(w));
      }
      g.inputs = graph_inputs(*g.workers.front().simulator);
      if (s_.imitation_episodes > 0)
        g.teacher = make_teacher(s_.teacher, *g.workers.front().simulator, s_.seed);
      g.tensors = graph_tensors(g.inputs);
      graphs_.push_back(std::move(g));
    }
    devices_ = r_.machine->num_devices();
  }

  TrainResult run();

 private:
  void start_or_resume();
  void start_from(const std::string& path);
  void run_batch(std::size_t count);
  void measure(std::size_t graph_index, std::vector<Episode>& episodes) const;
  void rollouts(TrainingGraph& graph, const PolicyArrays& arrays, const RolloutOptions& options,
                std::vector<Episode>& episodes);
  std::vector<float> advantages(const TrainingGraph& graph, const std::vector<Episode>& episodes) const;
  void save();
  int stage_at(std::size_t episode) const {
    return episode < s_.imitation_episodes ? 1 : episode < s_.simulated() ? 2 : 3;
  }
  double lr_at(std::size_t episode) const {
    const int stage = stage_at(episode);
    const double base = stage == 1 ? s_.lr : stage == 2 ? s_.rl_lr : s_.gpu_lr;
    return base * std::pow(s_.lr_decay, static_cast<double>(episode) / 1000.0);
  }
  double epsilon_at(std::size_t episode) const {
    if (stage_at(episode) != 2) return 0;
    const double done =
        static_cast<double>(episode - s_.imitation_episodes) / static_cast<double>(s_.rl_episodes);
    return s_.epsilon * std::max(0.0, 1.0 - done);
  }

  const TrainRequest& r_;
  const TrainSettings& s_;
  PolicyNet net_;
  torch::optim::Adam optimizer_;
  std::vector<TrainingGraph> graphs_;  // [0]: the request's graph
  std::size_t devices_ = 0;
  std::size_t episode_ = 0;
  double encoder_seconds_ = 0, rollout_seconds_ = 0, update_seconds_ = 0;
  std::vector<EpisodeRecord> log_;
};

void Trainer::start_from(const std::string& path) {
  const CheckpointState state = read_checkpoint_state(path);
  check_devices(path, state, devices_);
  if (!(state.sizes == r_.sizes) || !(state.mode == r_.mode))
    throw Error(path + ": the policy's sizes or sel/plc/priority/device_sum differ from the config's");
  load_checkpoint(path, net_, nullptr);
}

void Trainer::start_or_resume() {
  if (!r_.init.empty()) {
    if (r_.resume) throw Error("train: give --resume or --init, not both");
    start_from(r_.init);
  }
  if (r_.out_dir.empty()) {
    if (r_.resume) throw Error("train: --resume needs an output directory");
    return;
  }
  const std::string path = checkpoint_path(r_.out_dir);
  std::error_code ec;
  const bool exists = fs::exists(path, ec);
  if (!r_.resume) {
    if (exists) {
      throw Error(path +
                  ": a checkpoint is already there (pass --resume to continue it, or choose another --out)");
    }
    fs::create_directories(r_.out_dir, ec);
    if (ec || !fs::is_directory(r_.out_dir)) throw Error(r_.out_dir + ": cannot create the output directory");
    return;
  }
  if (!exists) throw Error(path + ": no checkpoint to resume");
  const CheckpointState state = read_checkpoint_state(path);
  check_devices(path, state, devices_);
  if (!(state.sizes == r_.sizes)) {
    throw Error(path + ": the policy's sizes (hidden " + std::to_string(state.sizes.hidden) + ", steps " +
                std::to_string(state.sizes.steps) + ", edge_basis " + std::to_string(state.sizes.edge_basis) +
                ", head_hidden " + std::to_string(state.sizes.head_hidden) + ") differ from the config's");
  }
  if (!(state.mode == r_.mode))
    throw Error(path + ": the policy's sel/plc/priority/device_sum differ from the config's");
  if (state.seed != s_.seed) {
    throw Error(path + ": trained with seed " + std::to_string(state.seed) + ", the config has " +
                std::to_string(s_.seed));
  }
  load_checkpoint(path, net_, &optimizer_);
  episode_ = state.episode;
  log_ = read_csv((fs::path(r_.out_dir) / "episodes.csv").string(), episode_);
  for (const EpisodeRecord& record : log_) {
    if (record.graph >= graphs_.size()) {
      throw Error(path + ": its episode log trains on " + std::to_string(record.graph + 1) +
                  " graphs or more, the config on " + std::to_string(graphs_.size()));
    }
    graphs_[record.graph].running = record.running;
    graphs_[record.graph].best = record.best;
  }
  graphs_[0].running = state.running;
  graphs_[0].best = state.best;
  for (std::size_t g = 0; g < graphs_.size(); ++g) {
    const std::string plan = best_plan_path(r_.out_dir, g);
    if (graphs_[g].best > 0 && fs::exists(plan, ec)) graphs_[g].best_plan = load_plan(plan);
  }
}

void Trainer::rollouts(TrainingGraph& graph, const PolicyArrays& arrays, const RolloutOptions& options,
                       std::vector<Episode>& episodes) {
  std::vector<Worker>& workers = graph.workers;
  const std::size_t threads = std::min(workers.size(), episodes.size());
  std::vector<std::exception_ptr> errors(threads);
  const auto work = [&](std::size_t t) {
    try {
      for (std::size_t i = t; i < episodes.size(); i += threads) {
        std::mt19937_64 rng(episode_seed(s_.seed, episode_ + i));
        episodes[i] = rollout(*workers[t].env, *workers[t].simulator, arrays, options, rng);
      }
    } catch (...) {
      errors[t] = std::current_exception();
    }
  };
  std::vector<std::thread> pool;
  for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(work, t);
  work(0);
  for (std::thread& thread : pool) thread.join();
  for (const std::exception_ptr& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

std::vector<float> Trainer::advantages(const TrainingGraph& graph,
                                       const std::vector<Episode>& episodes) const {
  const auto count = static_cast<double>(episodes.size());
  double mean = 0;
  for (const Episode& e : episodes) mean += e.makespan / count;
  std::vector<float> advantage(episodes.size());
  if (s_.advantage == Advantage::normalized) {
    double variance = 0;
    for (const Episode& e : episodes) variance += (e.makespan - mean) * (e.makespan - mean) / count;
    const double deviation = std::sqrt(variance);
    if (deviation <= 1e-9 * mean) return advantage;  // all equal: no signal
    for (std::size_t i = 0; i < episodes.size(); ++i)
      advantage[i] = static_cast<float>((mean - episodes[i].makespan) / deviation);
    return advantage;
  }
  const double baseline = graph.running > 0 ? graph.running : mean;
  for (std::size_t i = 0; i < episodes.size(); ++i)
    advantage[i] = static_cast<float>((baseline - episodes[i].makespan) / baseline);
  return advantage;
}

// Stage III: the episodes' makespans become the ones measured on the GPUs.
void Trainer::measure(std::size_t graph_index, std::vector<Episode>& episodes) const {
  std::vector<Plan> plans;
  for (const Episode& e : episodes) plans.push_back(e.plan);
  const std::vector<double> measured = r_.measure(graph_index, plans);
  if (measured.size() != episodes.size()) {
    throw Error("train: stage III measured " + std::to_string(measured.size()) + " makespans for " +
                std::to_string(episodes.size()) + " plans");
  }
  for (std::size_t i = 0; i < episodes.size(); ++i) {
    if (!(measured[i] > 0)) throw Error("train: stage III measured a makespan that is not positive");
    episodes[i].makespan = measured[i];
  }
}

void Trainer::run_batch(std::size_t count) {
  const std::size_t graph_index = episode_ / s_.batch % graphs_.size();
  TrainingGraph& graph = graphs_[graph_index];
  const int stage = stage_at(episode_);
  const bool imitation = stage == 1;
  if (stage == 3 && (log_.empty() || log_.back().stage != 3)) {
    // Measured makespans are not the simulator's: baselines and bests start again.
    for (TrainingGraph& g : graphs_) {
      g.running = g.best = 0;
      g.best_plan = Plan{};
    }
  }
  const double lr = lr_at(episode_);
  for (auto& group : optimizer_.param_groups())
    static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
  // Stages II and III with self-imitation also label every step with the best plan so far.
  // (A run resumed with self-imitation that was saved without it has no best plan for its other graphs.)
  const bool self_imitation = !imitation && s_.self_imitation > 0 && !graph.best_plan.device.empty();
  const Teacher best_so_far = self_imitation ? Teacher(graph.best_plan) : Teacher();
  RolloutOptions options;
  options.mode = r_.mode;
  options.teacher = imitation ? &graph.teacher.teacher : self_imitation ? &best_so_far : nullptr;
  if (imitation) {
    options.follow_teacher = s_.follow_teacher * (1.0 - static_cast<double>(episode_) /
                                                            static_cast<double>(s_.imitation_episodes));
  }
  options.epsilon = epsilon_at(episode_);

  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  const GraphOutputs outputs = net_->forward_graph(graph.tensors);
  const PolicyArrays arrays = net_->export_arrays(outputs);
  const auto t1 = Clock::now();
  std::vector<Episode> episodes(count);
  rollouts(graph, arrays, options, episodes);
  if (stage == 3) measure(graph_index, episodes);
  const auto t2 = Clock::now();

  const StepLogProbs lp = net_->batch_log_probs(outputs, episodes, devices_, options.teacher != nullptr);
  torch::Tensor loss;
  const auto sel = [&](const torch::Tensor& t) { return r_.mode.learned_sel ? t : torch::zeros_like(t); };
  const auto plc = [&](const torch::Tensor& t) { return r_.mode.learned_plc ? t : torch::zeros_like(t); };
  if (imitation) {
    loss = -(sel(lp.sel_teacher) + plc(lp.plc_teacher)).mean();
  } else {
    const std::vector<float> advantage = advantages(graph, episodes);
    const torch::Tensor a = torch::tensor(torch::ArrayRef<float>(advantage));
    loss = -(a * (sel(lp.sel) + plc(lp.plc)).mean(1)).mean() -
           s_.entropy * (sel(lp.sel_entropy) + plc(lp.plc_entropy)).mean();
    if (self_imitation) loss = loss - s_.self_imitation * (sel(lp.sel_teacher) + plc(lp.plc_teacher)).mean();
  }
  optimizer_.zero_grad();
  loss.backward();
  optimizer_.step();
  encoder_seconds_ += std::chrono::duration<double>(t1 - t0).count();
  rollout_seconds_ += std::chrono::duration<double>(t2 - t1).count();
  update_seconds_ += std::chrono::duration<double>(Clock::now() - t2).count();

  const double loss_value = loss.item<double>();
  for (std::size_t i = 0; i < count; ++i) {
    const Episode& e = episodes[i];
    graph.running = graph.running > 0
                        ? s_.baseline_decay * graph.running + (1 - s_.baseline_decay) * e.makespan
                        : e.makespan;
    if (graph.best == 0 || e.makespan < graph.best) {
      graph.best = e.makespan;
      graph.best_plan = e.plan;
    }
    log_.push_back({episode_ + i, graph_index, stage, e.makespan, graph.running, graph.best, loss_value, lr,
                    options.epsilon});
  }
  episode_ += count;
}

void Trainer::save() {
  if (r_.out_dir.empty()) return;
  const fs::path dir(r_.out_dir);
  CheckpointState state;
  state.sizes = r_.sizes;
  state.mode = r_.mode;
  state.devices = devices_;
  state.episode = episode_;
  state.running = graphs_[0].running;
  state.best = graphs_[0].best;
  state.seed = s_.seed;
  write_file_atomically((dir / "episodes.csv").string(), csv_text(log_));
  for (std::size_t g = 0; g < graphs_.size() && (g == 0 || s_.self_imitation > 0); ++g) {
    if (graphs_[g].best == 0) continue;
    graphs_[g].best_plan.method = "doppler-policy";
    save_plan(graphs_[g].best_plan, best_plan_path(r_.out_dir, g));
  }
  save_checkpoint(checkpoint_path(r_.out_dir), state, net_, &optimizer_);
  save_policy_file(policy_file_path(r_.out_dir), state, net_);
}

TrainResult Trainer::run() {
  start_or_resume();
  const auto start = std::chrono::steady_clock::now();
  const std::size_t total = s_.total();
  const std::size_t first = episode_;
  std::size_t next_checkpoint = (episode_ / s_.checkpoint_every + 1) * s_.checkpoint_every;
  while (episode_ < total && (r_.stop_after == 0 || episode_ < r_.stop_after)) {
    const int stage = stage_at(episode_);
    const std::size_t stage_end = stage == 1 ? s_.imitation_episodes : stage == 2 ? s_.simulated() : total;
    run_batch(std::min(s_.batch, stage_end - episode_));
    if (episode_ >= next_checkpoint && episode_ < total) {
      save();
      next_checkpoint = (episode_ / s_.checkpoint_every + 1) * s_.checkpoint_every;
    }
    if (r_.progress) {
      TrainProgress p;
      p.episode = episode_;
      p.total = total;
      p.stage = stage;
      p.best = graphs_[0].best;
      p.running = graphs_[0].running;
      p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      p.eta_seconds =
          p.seconds / static_cast<double>(episode_ - first) * static_cast<double>(total - episode_);
      r_.progress(p);
    }
  }
  TrainResult result;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.episodes_run = episode_ - first;
  result.encoder_seconds = encoder_seconds_;
  result.rollout_seconds = rollout_seconds_;
  result.update_seconds = update_seconds_;
  save();
  torch::NoGradGuard no_grad;
  TrainingGraph& main = graphs_[0];
  const PolicyArrays arrays = net_->export_arrays(net_->forward_graph(main.tensors));
  std::mt19937_64 rng(0);
  RolloutOptions greedy;
  greedy.mode = r_.mode;
  greedy.greedy = true;
  std::vector<Episode> final_greedy{
      rollout(*main.workers[0].env, *main.workers[0].simulator, arrays, greedy, rng)};
  if (s_.gpu_episodes > 0) measure(0, final_greedy);
  Episode& e = final_greedy.front();
  e.plan.method = "doppler-policy-greedy";
  if (!r_.out_dir.empty()) save_plan(e.plan, (fs::path(r_.out_dir) / "greedy_plan.yaml").string());
  result.greedy_makespan = e.makespan;
  result.teacher = main.teacher.method;
  result.teacher_makespan = main.teacher.makespan;
  result.log = log_;
  const double best = main.best > 0 ? main.best : e.makespan;
  result.best_makespan = std::min(best, e.makespan);
  result.best_plan = e.makespan < best ? e.plan : main.best_plan;
  return result;
}

}  // namespace

std::string checkpoint_path(const std::string& out_dir) {
  return (fs::path(out_dir) / "policy.ckpt").string();
}

std::string policy_file_path(const std::string& out_dir) {
  return (fs::path(out_dir) / "policy.pt").string();
}

TrainResult train(const TrainRequest& request) {
  if (request.graph == nullptr || request.machine == nullptr) throw Error("train: no graph or machine given");
  if (request.settings.gpu_episodes > 0 && !request.measure) {
    throw Error("train: stage III (train.gpu_episodes) needs GPUs to measure plans on, and none were given");
  }
  if (!request.mode.learned_sel && !request.mode.learned_plc) {
    throw Error("train: sel and plc are both critical_path: nothing would be learned");
  }
  Trainer trainer(request);
  return trainer.run();
}

}  // namespace doppler::learn
