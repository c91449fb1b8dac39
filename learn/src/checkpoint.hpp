#pragma once
// Contract: a training checkpoint (one file, LibTorch archive): the policy's sizes and parameters,
// the device count it was trained for, the feature sizes of this build, the trainer's state
// (episode counter, running-mean makespan, best makespan, seed; rollout RNGs are derived from seed
// and episode, so these restore them) and, when given, the Adam optimizer's state. Written to a
// temporary file and renamed, so a crash never leaves a half-written checkpoint. Every read
// problem is one Error line naming the file.
// A policy file is the same archive without the optimizer's state (about a third of the size):
// `place` and `evaluate` read either; `--resume` needs the checkpoint.
#include <cstdint>
#include <string>

#include "doppler/learn/learn_config.hpp"
#include "doppler/learn/policy_net.hpp"

namespace doppler::learn {

struct CheckpointState {
  PolicySizes sizes;
  PolicyMode mode;
  std::size_t devices = 0;
  std::size_t op_features = kOpFeatureCount;
  std::size_t device_features = kDeviceFeatureCount;
  std::uint64_t episode = 0;
  double running = 0;  // running-mean makespan (0 = none yet)
  double best = 0;     // best makespan so far (0 = none yet)
  std::uint64_t seed = 0;
};

void save_checkpoint(const std::string& path, const CheckpointState& state, PolicyNet& net,
                     torch::optim::Optimizer* optimizer);

// The policy file: sizes, switches, device count, feature sizes and parameters; no optimizer.
void save_policy_file(const std::string& path, const CheckpointState& state, PolicyNet& net);

// Reads the state only, checking the feature sizes against this build's.
CheckpointState read_checkpoint_state(const std::string& path);

// Loads parameters (and optimizer state when given) into `net`, built with the state's sizes.
void load_checkpoint(const std::string& path, PolicyNet& net, torch::optim::Optimizer* optimizer);

// The one-line error for a checkpoint trained on another number of devices, or nothing.
void check_devices(const std::string& path, const CheckpointState& state, std::size_t devices);

}  // namespace doppler::learn
