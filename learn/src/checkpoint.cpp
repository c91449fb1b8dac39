#include "checkpoint.hpp"

#include <filesystem>
#include <system_error>

#include "doppler/error.hpp"

namespace doppler::learn {
namespace {

constexpr std::int64_t kFormat = 1;

void put(torch::serialize::OutputArchive& a, const std::string& key, double value) {
  a.write(key, torch::tensor(value, torch::kFloat64));
}

double get(torch::serialize::InputArchive& a, const std::string& key) {
  torch::Tensor t;
  a.read(key, t);
  return t.item<double>();
}

// A key that older checkpoints lack (the ablation switches): `fallback` when absent.
double get_or(torch::serialize::InputArchive& a, const std::string& key, double fallback) {
  torch::Tensor t;
  return a.try_read(key, t) ? t.item<double>() : fallback;
}

// c10 messages run over several lines; keep the first.
std::string first_line(const std::string& text) {
  return text.substr(0, text.find('\n'));
}

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw Error(path + ": not a usable doppler policy checkpoint (" + first_line(what) + ")");
}

}  // namespace

void save_checkpoint(const std::string& path, const CheckpointState& s, PolicyNet& net,
                     torch::optim::Optimizer* optimizer) {
  torch::serialize::OutputArchive archive;
  put(archive, "format", kFormat);
  put(archive, "hidden", static_cast<double>(s.sizes.hidden));
  put(archive, "steps", static_cast<double>(s.sizes.steps));
  put(archive, "edge_basis", static_cast<double>(s.sizes.edge_basis));
  put(archive, "head_hidden", static_cast<double>(s.sizes.head_hidden));
  put(archive, "learned_sel", s.mode.learned_sel ? 1 : 0);
  put(archive, "learned_plc", s.mode.learned_plc ? 1 : 0);
  put(archive, "priority", s.mode.priority ? 1 : 0);
  put(archive, "mean_device_sum", s.mode.mean_device_sum ? 1 : 0);
  put(archive, "devices", static_cast<double>(s.devices));
  put(archive, "op_features", static_cast<double>(kOpFeatureCount));
  put(archive, "device_features", static_cast<double>(kDeviceFeatureCount));
  put(archive, "episode", static_cast<double>(s.episode));
  put(archive, "running", s.running);
  put(archive, "best", s.best);
  archive.write("seed", torch::tensor(static_cast<std::int64_t>(s.seed), torch::kInt64));
  torch::serialize::OutputArchive policy;
  net->save(policy);
  archive.write("policy", policy);
  if (optimizer != nullptr) {
    torch::serialize::OutputArchive state;
    optimizer->save(state);
    archive.write("optimizer", state);
  }
  const std::string temporary = path + ".tmp";
  try {
    archive.save_to(temporary);
  } catch (const c10::Error& e) {
    throw Error(path + ": cannot write the checkpoint (" + first_line(e.what()) + ")");
  }
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  if (ec) throw Error(path + ": cannot write the checkpoint (" + ec.message() + ")");
}

void save_policy_file(const std::string& path, const CheckpointState& state, PolicyNet& net) {
  save_checkpoint(path, state, net, nullptr);
}

CheckpointState read_checkpoint_state(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw Error(path + ": no such checkpoint file");
  CheckpointState s;
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(path);
    if (get(archive, "format") != kFormat) fail(path, "unknown format version");
    s.sizes.hidden = static_cast<std::size_t>(get(archive, "hidden"));
    s.sizes.steps = static_cast<std::size_t>(get(archive, "steps"));
    s.sizes.edge_basis = static_cast<std::size_t>(get(archive, "edge_basis"));
    s.sizes.head_hidden = static_cast<std::size_t>(get(archive, "head_hidden"));
    s.mode.learned_sel = get_or(archive, "learned_sel", 1) != 0;
    s.mode.learned_plc = get_or(archive, "learned_plc", 1) != 0;
    s.mode.priority = get_or(archive, "priority", 1) != 0;
    s.mode.mean_device_sum = get_or(archive, "mean_device_sum", 0) != 0;
    s.devices = static_cast<std::size_t>(get(archive, "devices"));
    s.op_features = static_cast<std::size_t>(get(archive, "op_features"));
    s.device_features = static_cast<std::size_t>(get(archive, "device_features"));
    s.episode = static_cast<std::uint64_t>(get(archive, "episode"));
    s.running = get(archive, "running");
    s.best = get(archive, "best");
    torch::Tensor seed;
    archive.read("seed", seed);
    s.seed = static_cast<std::uint64_t>(seed.item<std::int64_t>());
  } catch (const c10::Error& e) {
    fail(path, e.what());
  }
  if (s.op_features != kOpFeatureCount || s.device_features != kDeviceFeatureCount) {
    throw Error(path + ": the policy uses " + std::to_string(s.op_features) + " op and " +
                std::to_string(s.device_features) + " device features; this build uses " +
                std::to_string(kOpFeatureCount) + " and " + std::to_string(kDeviceFeatureCount) +
                " (retrain the policy)");
  }
  return s;
}

void load_checkpoint(const std::string& path, PolicyNet& net, torch::optim::Optimizer* optimizer) {
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(path);
    torch::serialize::InputArchive policy;
    archive.read("policy", policy);
    net->load(policy);
    if (optimizer != nullptr) {
      torch::serialize::InputArchive state;
      if (!archive.try_read("optimizer", state)) {
        throw Error(path +
                    ": a policy file without the optimizer's state (resume from the run's policy.ckpt)");
      }
      optimizer->load(state);
    }
  } catch (const c10::Error& e) {
    fail(path, e.what());
  }
}

void check_devices(const std::string& path, const CheckpointState& state, std::size_t devices) {
  if (state.devices != devices) {
    throw Error(path + ": the policy was trained for " + std::to_string(state.devices) +
                " devices, the machine has " + std::to_string(devices) + " (train a policy for " +
                std::to_string(devices) + " devices)");
  }
}

}  // namespace doppler::learn
