#pragma once
// Contract: one episode of the SEL/PLC policies in the placement MDP, driven by the hand-written
// inference over PolicyArrays (torch-free). Sampling draws from the policies' softmax, except that
// with probability `epsilon` each choice is uniform instead (epsilon-greedy); greedy takes the
// largest probability (ties: the earlier op in legal order / the smaller device). The episode
// records what a batched torch update needs (legal sets, chosen positions, device inputs, and with
// a `teacher` that teacher's tied choices), and the plan's simulated makespan (the SEL
// order is the plan's priority unless mode.priority is off). A choice that mode gives to the teacher
// (first of its ties) records log-probability 0. With `follow_teacher` > 0 each step first draws whether
// it takes the teacher's first op and device instead of the policy's (DAgger's mixture; the step still
// records the policy's log-probabilities of what was taken). Same arrays, options and RNG state = same
// episode.
#include <cstdint>
#include <random>
#include <vector>

#include "doppler/learn/learn_config.hpp"
#include "doppler/learn/policy_arrays.hpp"
#include "doppler/learn/teacher.hpp"
#include "doppler/plan.hpp"

namespace doppler::learn {

struct RolloutOptions {
  bool greedy = false;
  double epsilon = 0;
  const Teacher* teacher = nullptr;  // record this teacher's choices (stage I)
  double follow_teacher = 0;         // with a teacher: probability that a step takes its first choices
  PolicyMode mode;                   // ablations: critical-path SEL or PLC, plan priority or none
};

struct Episode {
  std::vector<OpId> ops;                           // selected op per step
  std::vector<DeviceId> devices;                   // its device
  std::vector<std::uint32_t> legal_begin;          // steps + 1 offsets into legal
  std::vector<OpId> legal;                         // the legal set of each step
  std::vector<std::uint32_t> chosen;               // per step: position of the selected op in its legal set
  std::vector<std::uint8_t> teacher_op;            // per legal entry: a teacher op (with a `teacher`)
  std::vector<std::uint8_t> teacher_device;        // steps x devices: a teacher device (with a `teacher`)
  std::vector<float> device_inputs;                // steps x devices x kDeviceFeatureCount
  std::vector<double> sel_log_prob, plc_log_prob;  // of the chosen actions, by the C++ inference
  Plan plan;
  double makespan = 0;
};

// `env` must have been built on `simulator` (it is reset first).
Episode rollout(policies::PlacementEnv& env, sim::Simulator& simulator, const PolicyArrays& arrays,
                const RolloutOptions& options, std::mt19937_64& rng);

}  // namespace doppler::learn
