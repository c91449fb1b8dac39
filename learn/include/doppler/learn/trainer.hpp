#pragma once
// Contract: `doppler train`'s engine (torch-free interface). Trains the SEL/PLC policies on one
// machine and one graph, or several (`more_graphs`: the batch starting at episode e trains on graph
// (e / batch) mod G, 0 being `graph`; baselines, running means and bests are per graph; the plans
// written and the greedy result are `graph`'s): stage I imitates settings.teacher (teacher.hpp) on the
// learner's own rollouts (loss: -log of the summed probability of the teacher's tied choices), stage II is
// REINFORCE on the simulated makespan with a running-mean baseline, an entropy bonus, epsilon-greedy
// exploration decaying to 0 and a decaying learning rate; stage III is REINFORCE on the makespans `measure`
// returns for the batch's plans (real GPUs; see learn_config.hpp), and its rewards, running means and bests
// are those measurements (the final greedy plan is measured too). Each update rolls out one batch of episodes
// on `threads` threads; episode i draws from an RNG seeded by (seed, i), and torch runs on one thread, so
// results do not depend on the thread count. In `out_dir`: policy.ckpt (checkpoint, see checkpoint.hpp),
// policy.pt (the policy file: the checkpoint without the optimizer's state), episodes.csv (one row per
// episode) and best_plan.yaml (the best sampled episode's plan), all rewritten atomically at every checkpoint
// and at the end, and at the end greedy_plan.yaml (the final policy's greedy placement). `resume` continues
// from out_dir/policy.ckpt exactly: the episodes after it are the ones an uninterrupted run would have had.
// `init` (not with `resume`) starts a fresh run from a trained policy's weights (a checkpoint or policy file
// of the same sizes, switches and device count; fine-tuning on another graph), with a fresh optimizer.
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "doppler/learn/learn_config.hpp"
#include "doppler/plan.hpp"
#include "doppler/sim/cost_model.hpp"
#include "doppler/task_graph.hpp"

namespace doppler::learn {

struct EpisodeRecord {
  std::size_t episode = 0;
  std::size_t graph = 0;  // 0: the request's graph, i: more_graphs[i - 1]
  int stage = 1;          // 1 imitation, 2 REINFORCE in the simulator, 3 REINFORCE on GPUs
  double makespan = 0;
  double running = 0;  // running-mean makespan of this episode's graph after this episode
  double best = 0;     // of this episode's graph
  double loss = 0;     // of the episode's batch
  double lr = 0;
  double epsilon = 0;
};

struct TrainProgress {
  std::size_t episode = 0, total = 0;
  int stage = 1;
  double best = 0, running = 0;
  double seconds = 0, eta_seconds = 0;
};

struct TrainRequest {
  const TaskGraph* graph = nullptr;
  std::vector<const TaskGraph*> more_graphs;  // trained on too (same machine and model)
  const Machine* machine = nullptr;
  sim::CostModelKind model = sim::CostModelKind::paper;
  PolicySizes sizes;
  PolicyMode mode;
  TrainSettings settings;
  std::string out_dir;  // empty: nothing is written (benchmarks)
  bool resume = false;
  std::string init;            // a policy file or checkpoint to start from; empty: seeded initial weights
  std::size_t stop_after = 0;  // stop (with a checkpoint) after the batch reaching this episode; 0 = all
  std::function<void(const TrainProgress&)> progress;  // called after every batch
  // Stage III: the measured makespans (seconds) of plans of graph `graph` (0: `graph`, i:
  // more_graphs[i - 1]), one per plan, in order. Required when settings.gpu_episodes > 0.
  std::function<std::vector<double>(std::size_t graph, const std::vector<Plan>& plans)> measure;
};

struct TrainResult {
  std::vector<EpisodeRecord> log;  // every episode so far, resumed ones included
  std::size_t episodes_run = 0;    // in this call
  double seconds = 0;              // of this call, and its parts:
  double encoder_seconds = 0;      //   encoders forward + export to arrays
  double rollout_seconds = 0;      //   rollouts (hand-written inference, environment, simulator)
  double update_seconds = 0;       //   batched scoring, backward, optimizer step
  double best_makespan = 0;        // of `graph`: over its sampled episodes and the final greedy placement
  double greedy_makespan = 0;      // the final policy, greedy (measured when stage III ran)
  Plan best_plan;                  // of best_makespan
  std::string teacher;             // stage I's teacher method on `graph` (empty without stage I)
  double teacher_makespan = 0;     // its plan's simulated makespan
};

TrainResult train(const TrainRequest& request);

std::string checkpoint_path(const std::string& out_dir);   // out_dir/policy.ckpt
std::string policy_file_path(const std::string& out_dir);  // out_dir/policy.pt (no optimizer)

}  // namespace doppler::learn
