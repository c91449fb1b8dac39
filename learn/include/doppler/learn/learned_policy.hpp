#pragma once
// Contract: a trained policy loaded from a checkpoint, placing graphs (torch-free interface).
// load() fails with one Error line naming the file when it is not a checkpoint, was written with
// other feature sizes, or was trained for another number of devices than `devices`. place() runs
// the encoders once on the simulator's graph and one episode of hand-written inference: greedy,
// or with samples > 0 the best of that many sampled episodes (seeded) by simulated makespan, or by
// `score` when one is given (e.g. the makespan measured on GPUs; the same seed samples the same
// plans either way). The encoders run in float64 here (float32 in training), on every CPU the
// process may use, with the same result for any thread count, so a policy places the same on
// every machine: float32 rounding varies with the CPU's vector kernels and decided near-ties
// between structurally identical ops.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "doppler/learn/learn_config.hpp"
#include "doppler/plan.hpp"
#include "doppler/sim/simulator.hpp"

namespace doppler::learn {

class LearnedPolicy {
 public:
  static LearnedPolicy load(const std::string& path, std::size_t devices);
  LearnedPolicy(LearnedPolicy&&) noexcept;
  LearnedPolicy& operator=(LearnedPolicy&&) noexcept;
  ~LearnedPolicy();

  const PolicySizes& sizes() const;
  const PolicyMode& mode() const;
  Plan place(sim::Simulator& simulator, std::size_t samples = 0, std::uint64_t seed = 1,
             const std::function<double(const Plan&)>& score = {}) const;
  // The threads place() computes the encoders on: the CPUs this process may run on.
  static std::size_t placement_threads();

 private:
  struct Impl;
  explicit LearnedPolicy(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace doppler::learn
