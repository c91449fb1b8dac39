#pragma once
// Contract: the learned policy's settings from an experiment config's `policy:` and `train:`
// sections (docs/TRAINING.md). Every key is optional (defaults below); an unknown key or a bad
// value throws a one-line Error naming file:line and the field. Torch-free.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "doppler/experiment.hpp"

namespace doppler::learn {

// Network sizes. The encoder (per policy) runs `steps` rounds of edge-conditioned convolution
// (edge network: 1 -> edge_basis -> hidden x hidden) and a GRU cell of `hidden` units; each head
// is an MLP with one hidden layer of `head_hidden` units.
struct PolicySizes {
  std::size_t hidden = 128;
  std::size_t steps = 6;
  std::size_t edge_basis = 4;
  std::size_t head_hidden = 128;
  bool operator==(const PolicySizes&) const = default;
};

// Ablations (the paper's SEL-only / PLC-only policies, and the runtime priority): a policy whose
// `sel` is critical_path selects the teacher's op (largest b-level, first of ties) and learns only
// PLC; `plc` critical_path places on the teacher's device (earliest start) and learns only SEL;
// without `priority` the plan carries no priority (devices run ready ops in arrival order).
// `device_sum: mean` divides PLC's per-device sum of the placed ops' embeddings by the graph's op
// count (default `sum`: the plain sum, which grows with the graph).
struct PolicyMode {
  bool learned_sel = true;
  bool learned_plc = true;
  bool priority = true;
  bool mean_device_sum = false;
  bool operator==(const PolicyMode&) const = default;
};

struct PolicyConfig {
  PolicySizes sizes;
  PolicyMode mode;
};

// Stage I (imitation of `teacher`, by default the critical-path one, DAgger-style) runs `imitation_episodes`,
// then stage II (REINFORCE on the simulated makespan) `rl_episodes`, then stage III (REINFORCE on the
// makespan measured on GPUs: the median of `gpu_repetitions` timed runs after an untimed one, at
// learning rate gpu_lr * lr_decay^(episode / 1000), no epsilon; running mean and best start afresh)
// `gpu_episodes`. One update per batch of `batch` episodes rolled out on
// `threads` threads (results do not depend on `threads`). The learning rate is
// lr * lr_decay^(episode / 1000) in stage I and rl_lr * lr_decay^(episode / 1000) in stage II; exploration
// epsilon falls linearly from `epsilon` to 0 over the RL stage; the baseline is a running mean (baseline <- b
// * baseline + (1 - b) * makespan). Stage II's advantage per episode is (baseline - makespan) / baseline
// (`relative`), or with `normalized` the batch's makespans standardised: (batch mean - makespan) / (batch
// standard deviation), 0 for a batch of equal makespans. With `self_imitation` W > 0, stages II and III add
// W x the imitation loss towards the graph's best plan so far (a plan teacher, teacher.hpp) on the batch's
// own states. `graphs` are more graph specs (files, resolved
// against the config's directory, or random:N) trained on besides the config's graph (docs/TRAINING.md).
enum class Advantage { relative, normalized };

struct TrainSettings {
  std::size_t imitation_episodes = 1000;
  std::size_t rl_episodes = 4000;
  std::size_t gpu_episodes = 0;
  std::size_t gpu_repetitions = 3;
  std::size_t batch = 64;
  std::size_t threads = 1;
  double lr = 1e-2;
  double rl_lr = 1e-4;
  double gpu_lr = 1e-4;
  double lr_decay = 0.7;
  double entropy = 1e-3;
  double epsilon = 0.1;
  double baseline_decay = 0.95;
  Advantage advantage = Advantage::relative;
  std::string teacher = "critical_path";  // stage I's teacher (teacher.hpp: make_teacher)
  double follow_teacher = 0;              // DAgger's beta at the start of stage I, falling linearly to 0
  double self_imitation = 0;              // stages II/III: weight of imitating the best plan so far
  std::vector<std::string> graphs;        // more training graphs (specs), besides the config's
  std::size_t checkpoint_every = 500;     // episodes (rounded up to whole batches)
  std::uint64_t seed = 1;                 // the experiment's seed
  std::size_t simulated() const { return imitation_episodes + rl_episodes; }  // stages I and II
  std::size_t total() const { return imitation_episodes + rl_episodes + gpu_episodes; }
};

PolicyConfig read_policy(const Experiment& experiment);  // the `policy:` section
PolicySizes read_policy_sizes(const Experiment& experiment);
TrainSettings read_train_settings(const Experiment& experiment);

}  // namespace doppler::learn
