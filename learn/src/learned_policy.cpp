#include "doppler/learn/learned_policy.hpp"

#include <random>

#include "checkpoint.hpp"
#include "doppler/learn/rollout.hpp"
#include "torch_threads.hpp"

namespace doppler::learn {

struct LearnedPolicy::Impl {
  CheckpointState state;
  PolicyNet net{nullptr};
};

LearnedPolicy::LearnedPolicy(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LearnedPolicy::LearnedPolicy(LearnedPolicy&&) noexcept = default;
LearnedPolicy& LearnedPolicy::operator=(LearnedPolicy&&) noexcept = default;
LearnedPolicy::~LearnedPolicy() = default;

LearnedPolicy LearnedPolicy::load(const std::string& path, std::size_t devices) {
  use_one_torch_thread();
  auto impl = std::make_unique<Impl>();
  impl->state = read_checkpoint_state(path);
  check_devices(path, impl->state, devices);
  impl->net = PolicyNet(impl->state.sizes, impl->state.mode.mean_device_sum);
  load_checkpoint(path, impl->net, nullptr);
  impl->net->eval();
  impl->net->to(torch::kFloat64);
  return LearnedPolicy(std::move(impl));
}

const PolicySizes& LearnedPolicy::sizes() const {
  return impl_->state.sizes;
}

const PolicyMode& LearnedPolicy::mode() const {
  return impl_->state.mode;
}

Plan LearnedPolicy::place(sim::Simulator& simulator, std::size_t samples, std::uint64_t seed,
                          const std::function<double(const Plan&)>& score) const {
  torch::NoGradGuard no_grad;
  const GraphInputs inputs = graph_inputs(simulator);
  const PolicyArrays arrays = impl_->net->export_arrays(
      impl_->net->infer_graph(graph_tensors(inputs, torch::kFloat64), placement_threads()));
  policies::PlacementEnv env(simulator);
  std::mt19937_64 rng(seed);
  RolloutOptions options;
  options.mode = impl_->state.mode;
  options.greedy = samples == 0;
  const auto scored = [&](Episode e) {
    if (score) e.makespan = score(e.plan);
    return e;
  };
  Episode best = scored(rollout(env, simulator, arrays, options, rng));
  for (std::size_t k = 1; k < samples; ++k) {
    Episode e = scored(rollout(env, simulator, arrays, options, rng));
    if (e.makespan < best.makespan) best = std::move(e);
  }
  best.plan.method = samples == 0 ? "doppler-policy" : "doppler-policy-best-of-" + std::to_string(samples);
  return best.plan;
}

std::size_t LearnedPolicy::placement_threads() {
  return usable_cores();
}

}  // namespace doppler::learn
