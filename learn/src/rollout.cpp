#include "doppler/learn/rollout.hpp"

#include <algorithm>
#include <cmath>

namespace doppler::learn {
namespace {

// Index into `probabilities`: uniform with probability epsilon, else sampled, or the arg-max.
std::size_t choose(std::span<const double> probabilities, const RolloutOptions& options,
                   std::mt19937_64& rng) {
  if (options.greedy) {
    return static_cast<std::size_t>(std::max_element(probabilities.begin(), probabilities.end()) -
                                    probabilities.begin());
  }
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  if (options.epsilon > 0 && unit(rng) < options.epsilon) {
    return std::uniform_int_distribution<std::size_t>(0, probabilities.size() - 1)(rng);
  }
  double u = unit(rng);
  for (std::size_t i = 0; i < probabilities.size(); ++i) {
    u -= probabilities[i];
    if (u < 0) return i;
  }
  std::size_t last = probabilities.size() - 1;  // rounding: the last choice with any mass
  while (last > 0 && probabilities[last] == 0) --last;
  return last;
}

}  // namespace

Episode rollout(policies::PlacementEnv& env, sim::Simulator& simulator, const PolicyArrays& arrays,
                const RolloutOptions& options, std::mt19937_64& rng) {
  env.reset();
  const std::size_t n = env.num_ops();
  const std::size_t devices = env.num_devices();
  Episode e;
  e.ops.reserve(n);
  e.devices.reserve(n);
  e.chosen.reserve(n);
  e.legal_begin.reserve(n + 1);
  e.legal_begin.push_back(0);
  e.device_inputs.resize(n * devices * kDeviceFeatureCount);
  e.sel_log_prob.reserve(n);
  e.plc_log_prob.reserve(n);
  if (options.teacher != nullptr) e.teacher_device.assign(n * devices, 0);
  PlcSums sums;
  sums.reset(devices, arrays.head_hidden);
  std::vector<double> sel(n), plc(devices);
  std::vector<OpId> legal;
  for (std::size_t step = 0; step < n; ++step) {
    legal.assign(env.legal().begin(), env.legal().end());
    std::span<double> p(sel.data(), legal.size());
    sel_logits(arrays, legal, p);
    softmax_in_place(p);
    std::size_t at = 0;
    const bool follow = options.teacher != nullptr && options.follow_teacher > 0 &&
                        std::uniform_real_distribution<double>(0.0, 1.0)(rng) < options.follow_teacher;
    if (follow) {
      const OpId wanted = options.teacher->ops(env).front();
      at = static_cast<std::size_t>(std::find(legal.begin(), legal.end(), wanted) - legal.begin());
    } else if (options.mode.learned_sel) {
      at = choose(p, options, rng);
    } else {
      const OpId best = env.teacher_ops().front();
      at = static_cast<std::size_t>(std::find(legal.begin(), legal.end(), best) - legal.begin());
    }
    const OpId op = legal[at];
    e.legal.insert(e.legal.end(), legal.begin(), legal.end());
    e.legal_begin.push_back(static_cast<std::uint32_t>(e.legal.size()));
    e.chosen.push_back(static_cast<std::uint32_t>(at));
    e.sel_log_prob.push_back(options.mode.learned_sel ? std::log(p[at]) : 0.0);
    if (options.teacher != nullptr) {
      const std::vector<OpId> best = options.teacher->ops(env);
      for (const OpId candidate : legal) {
        e.teacher_op.push_back(std::binary_search(best.begin(), best.end(), candidate) ? 1 : 0);
      }
      for (const DeviceId d : options.teacher->devices(env, op)) e.teacher_device[step * devices + d] = 1;
    }
    std::span<float> features(e.device_inputs.data() + step * devices * kDeviceFeatureCount,
                              devices * kDeviceFeatureCount);
    device_inputs(env, op, features);
    DeviceId device = 0;
    if (options.mode.learned_plc) {
      plc_logits(arrays, sums, op, features, plc);
      softmax_in_place(plc);
      device = follow ? options.teacher->devices(env, op).front()
                      : static_cast<DeviceId>(choose(plc, options, rng));
      e.plc_log_prob.push_back(std::log(plc[device]));
    } else {
      device = env.teacher_devices(op).front();
      e.plc_log_prob.push_back(0.0);
    }
    env.step(op, device);
    sums.add(arrays, op, device);
    e.ops.push_back(op);
    e.devices.push_back(device);
  }
  e.plan = env.plan();
  if (!options.mode.priority) e.plan.priority.clear();
  e.makespan = simulator.makespan(e.plan.device, e.plan.priority);
  return e;
}

}  // namespace doppler::learn
