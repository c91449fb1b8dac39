#include "doppler/learn/graph_inputs.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace doppler::learn {

GraphInputs graph_inputs(const sim::Simulator& simulator) {
  const ExecGraph& g = simulator.graph();
  const policies::OpFeatures f = policies::op_features(simulator);
  GraphInputs in;
  in.num_ops = g.num_ops;
  std::array<double, kOpFeatureCount> scale{};
  for (const auto& row : f.rows) {
    for (std::size_t c = 0; c < kOpFeatureCount; ++c) scale[c] = std::max(scale[c], std::abs(row[c]));
  }
  in.op_features.reserve(g.num_ops * kOpFeatureCount);
  for (const auto& row : f.rows) {
    for (std::size_t c = 0; c < kOpFeatureCount; ++c) {
      in.op_features.push_back(static_cast<float>(scale[c] > 0 ? row[c] / scale[c] : row[c]));
    }
  }
  const std::vector<double>& comm = simulator.costs().comm_estimate();
  double comm_scale = 0;
  for (OpId u = 0; u < g.num_ops; ++u) {
    if (!g.successors(u).empty()) comm_scale = std::max(comm_scale, std::abs(comm[u]));
  }
  for (OpId u = 0; u < g.num_ops; ++u) {
    const float feature = static_cast<float>(comm_scale > 0 ? comm[u] / comm_scale : comm[u]);
    for (const OpId v : g.successors(u)) {
      in.edge_source.push_back(u);
      in.edge_target.push_back(v);
      in.edge_feature.push_back(feature);
      in.edge_source.push_back(v);
      in.edge_target.push_back(u);
      in.edge_feature.push_back(feature);
    }
  }
  in.next_on_exit_path = f.next_on_exit_path;
  in.previous_on_entry_path = f.previous_on_entry_path;
  double longest = 0;
  for (const auto& row : f.rows) longest = std::max(longest, row[1]);
  in.time_scale = longest > 0 ? longest : 1;
  return in;
}

void device_inputs(const policies::PlacementEnv& env, OpId op, std::span<float> out) {
  const std::size_t devices = env.num_devices();
  std::array<policies::DeviceFeatureRow, 64> small{};
  std::vector<policies::DeviceFeatureRow> large;
  std::span<policies::DeviceFeatureRow> rows(small.data(), devices);
  if (devices > small.size()) {
    large.resize(devices);
    rows = large;
  }
  env.device_features(op, rows);
  std::array<double, 5> top{};
  double earliest = std::numeric_limits<double>::infinity(), latest = 0;
  for (const auto& row : rows) {
    for (std::size_t c = 0; c < 5; ++c) top[c] = std::max(top[c], std::abs(row[c]));
    earliest = std::min(earliest, row[4]);
    latest = std::max(latest, row[4]);
  }
  for (std::size_t d = 0; d < devices; ++d) {
    float* o = out.data() + d * kDeviceFeatureCount;
    for (std::size_t c = 0; c < 5; ++c) o[c] = static_cast<float>(top[c] > 0 ? rows[d][c] / top[c] : 0.0);
    o[5] = static_cast<float>(latest > earliest ? (rows[d][4] - earliest) / (latest - earliest) : 0.0);
  }
}

}  // namespace doppler::learn
