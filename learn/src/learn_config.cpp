#include "doppler/learn/learn_config.hpp"

#include <yaml-cpp/yaml.h>

#include <string>

#include "doppler/config_fields.hpp"
#include "doppler/learn/teacher.hpp"

namespace doppler::learn {
namespace {

std::size_t positive(const ConfigFields& in, const YAML::Node& value, const std::string& field) {
  const std::uint64_t n = in.unsigned_integer(value, field);
  if (n == 0) in.fail(value, field, "must be at least 1");
  return static_cast<std::size_t>(n);
}

double in_range(const ConfigFields& in, const YAML::Node& value, const std::string& field, double lo,
                double hi, bool lo_open) {
  const double x = in.number(value, field);
  if (x < lo || x > hi || (lo_open && x == lo)) {
    in.fail(value, field,
            "must be in " + std::string(lo_open ? "(" : "[") + std::to_string(lo) + ", " +
                std::to_string(hi) + "]");
  }
  return x;
}

}  // namespace

PolicySizes read_policy_sizes(const Experiment& experiment) {
  return read_policy(experiment).sizes;
}

PolicyConfig read_policy(const Experiment& experiment) {
  PolicyConfig policy;
  PolicySizes& sizes = policy.sizes;
  PolicyMode& mode = policy.mode;
  const auto found = experiment.sections.find("policy");
  if (found == experiment.sections.end()) return policy;
  const ConfigFields in(experiment.source);
  const auto learned = [&](const YAML::Node& value, const std::string& field) {
    const std::string text = in.scalar(value, field);
    if (text != "learned" && text != "critical_path")
      in.fail(value, field, "expected learned or critical_path");
    return text == "learned";
  };
  for (auto it = found->second->begin(); it != found->second->end(); ++it) {
    const std::string key = it->first.Scalar();
    const std::string field = "policy." + key;
    if (key == "hidden") {
      sizes.hidden = positive(in, it->second, field);
    } else if (key == "steps") {
      sizes.steps = positive(in, it->second, field);
    } else if (key == "edge_basis") {
      sizes.edge_basis = positive(in, it->second, field);
    } else if (key == "head_hidden") {
      sizes.head_hidden = positive(in, it->second, field);
    } else if (key == "sel") {
      mode.learned_sel = learned(it->second, field);
    } else if (key == "plc") {
      mode.learned_plc = learned(it->second, field);
    } else if (key == "priority") {
      mode.priority = in.boolean(it->second, field);
    } else if (key == "device_sum") {
      const std::string text = in.scalar(it->second, field);
      if (text != "sum" && text != "mean") in.fail(it->second, field, "expected sum or mean");
      mode.mean_device_sum = text == "mean";
    } else {
      in.fail(it->first, field,
              "unknown key (known: hidden, steps, edge_basis, head_hidden, sel, plc, priority, device_sum)");
    }
  }
  if (!mode.learned_sel && !mode.learned_plc) {
    in.fail(*found->second, "policy", "sel and plc are both critical_path: nothing would be learned");
  }
  return policy;
}

TrainSettings read_train_settings(const Experiment& experiment) {
  TrainSettings s;
  s.seed = experiment.seed;
  const auto found = experiment.sections.find("train");
  if (found == experiment.sections.end()) return s;
  const ConfigFields in(experiment.source);
  for (auto it = found->second->begin(); it != found->second->end(); ++it) {
    const std::string key = it->first.Scalar();
    const std::string field = "train." + key;
    const YAML::Node v = it->second;
    if (key == "imitation_episodes") {
      s.imitation_episodes = static_cast<std::size_t>(in.unsigned_integer(v, field));
    } else if (key == "rl_episodes") {
      s.rl_episodes = static_cast<std::size_t>(in.unsigned_integer(v, field));
    } else if (key == "gpu_episodes") {
      s.gpu_episodes = static_cast<std::size_t>(in.unsigned_integer(v, field));
    } else if (key == "gpu_repetitions") {
      s.gpu_repetitions = positive(in, v, field);
    } else if (key == "gpu_lr") {
      s.gpu_lr = in_range(in, v, field, 0, 1, true);
    } else if (key == "batch") {
      s.batch = positive(in, v, field);
    } else if (key == "threads") {
      s.threads = positive(in, v, field);
    } else if (key == "lr") {
      s.lr = in_range(in, v, field, 0, 1, true);
    } else if (key == "rl_lr") {
      s.rl_lr = in_range(in, v, field, 0, 1, true);
    } else if (key == "lr_decay") {
      s.lr_decay = in_range(in, v, field, 0, 1, true);
    } else if (key == "entropy") {
      s.entropy = in_range(in, v, field, 0, 1, false);
    } else if (key == "epsilon") {
      s.epsilon = in_range(in, v, field, 0, 1, false);
    } else if (key == "baseline_decay") {
      s.baseline_decay = in_range(in, v, field, 0, 1, false);
    } else if (key == "advantage") {
      const std::string text = in.scalar(v, field);
      if (text != "relative" && text != "normalized") in.fail(v, field, "expected relative or normalized");
      s.advantage = text == "relative" ? Advantage::relative : Advantage::normalized;
    } else if (key == "graphs") {
      if (!v.IsSequence() || v.size() == 0) in.fail(v, field, "expected a non-empty list of graph files");
      for (std::size_t i = 0; i < v.size(); ++i) {
        const std::string at = field + "[" + std::to_string(i) + "]";
        const std::string text = in.scalar(v[i], at);
        s.graphs.push_back(random_graph_size(text) ? text : in.input_path(v[i], at));
      }
    } else if (key == "teacher") {
      s.teacher = in.scalar(v, field);
      if (!known_teacher(s.teacher))
        in.fail(v, field, "unknown teacher '" + s.teacher + "' (known: " + known_teachers() + ")");
    } else if (key == "self_imitation") {
      s.self_imitation = in_range(in, v, field, 0, 100, false);
    } else if (key == "follow_teacher") {
      s.follow_teacher = in_range(in, v, field, 0, 1, false);
    } else if (key == "checkpoint_every") {
      s.checkpoint_every = positive(in, v, field);
    } else {
      in.fail(it->first, field,
              "unknown key (known: imitation_episodes, rl_episodes, gpu_episodes, gpu_repetitions, gpu_lr, "
              "batch, "
              "threads, lr, rl_lr, lr_decay, entropy, epsilon, baseline_decay, advantage, graphs, "
              "teacher, follow_teacher, self_imitation, checkpoint_every)");
    }
  }
  if (s.total() == 0)
    in.fail(*found->second, "train", "imitation_episodes + rl_episodes + gpu_episodes must be at least 1");
  return s;
}

}  // namespace doppler::learn
