#pragma once
// Contract: what the policy networks see of one graph on one machine, as plain arrays (torch-free),
// normalised per column. Op features (OpFeatures: compute, b-level, t-level, in/out communication)
// are divided by their column's largest absolute value over the graph (1 where that is 0). The
// graph is made bidirectional: every edge u -> v appears as (u, v) and (v, u), both with the
// producer u's communication cost over the largest such cost as the edge feature. Device
// features (PlacementEnv::device_features) are normalised per step: each column divided by its
// largest absolute value over the devices (0 where that is 0); a sixth column places the op's
// earliest start between the smallest (0) and the largest (1) over the devices (0 if all equal).
// `time_scale` is the graph's critical-path length (its largest b-level).
#include <array>
#include <cstddef>
#include <span>
#include <vector>

#include "doppler/policies/placement_env.hpp"

namespace doppler::learn {

inline constexpr std::size_t kOpFeatureCount = policies::OpFeatures::kCount;
inline constexpr std::size_t kDeviceFeatureCount = 6;

struct GraphInputs {
  std::size_t num_ops = 0;
  std::vector<float> op_features;                      // num_ops x kOpFeatureCount, row-major
  std::vector<std::int64_t> edge_source, edge_target;  // both directions
  std::vector<float> edge_feature;                     // one per (directed) edge above
  std::vector<OpId> next_on_exit_path, previous_on_entry_path;
  double time_scale = 1;
};

GraphInputs graph_inputs(const sim::Simulator& simulator);

// The normalised device features of `op` in the environment's current state: one row of
// kDeviceFeatureCount floats per device, written to `out` (num_devices x kDeviceFeatureCount).
void device_inputs(const policies::PlacementEnv& env, OpId op, std::span<float> out);

}  // namespace doppler::learn
