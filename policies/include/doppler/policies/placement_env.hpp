#pragma once
// Contract: the placement MDP of Doppler (arXiv 2505.23131), the environment its SEL/PLC policies
// act in. One step per op: the LEGAL set holds the unplaced ops whose predecessors are all placed;
// an agent selects one (SEL), then its device (PLC); the environment records an estimated
// schedule (list scheduling without insertion: the op starts when its device is free and its
// inputs have arrived, transfers from the cost table) and releases the op's successors.
// The result is a plan: device per op, the selection order as priority. Costs come from the
// simulator's cost table, so paper graphs and lowered einsum graphs are served alike. The
// critical-path teacher (largest b-level; device of earliest start) is exposed with all its ties;
// following its first choices reproduces the critical_path heuristic exactly.
#include <array>
#include <span>
#include <vector>

#include "doppler/plan.hpp"
#include "doppler/sim/simulator.hpp"

namespace doppler::policies {

// Per-op features fixed for an episode: compute estimate, b-level, t-level (both with
// communication), and the summed communication of the op's in-edges and out-edges. The longest
// paths through an op (for SEL's path sums): next_on_exit_path[op] is the successor that realises
// its b-level, previous_on_entry_path[op] the predecessor that realises its t-level (ties: smaller
// id; kNoOp at an exit / entry).
struct OpFeatures {
  static constexpr std::size_t kCount = 5;
  std::vector<std::array<double, kCount>> rows;  // by OpId
  std::vector<OpId> next_on_exit_path;
  std::vector<OpId> previous_on_entry_path;
};
OpFeatures op_features(const sim::Simulator& simulator);

// Per device, for one candidate op: compute already placed on the device, compute of the op's
// inputs placed there, earliest and latest end of those inputs (0 without any), and the op's
// earliest start there.
using DeviceFeatureRow = std::array<double, 5>;

class PlacementEnv {
 public:
  explicit PlacementEnv(const sim::Simulator& simulator);

  void reset();
  bool done() const { return placed_count_ == num_ops(); }
  std::size_t num_ops() const { return device_.size(); }
  std::size_t num_devices() const { return available_.size(); }
  std::span<const OpId> legal() const { return legal_; }
  bool is_placed(OpId op) const { return device_[op] != kUnplaced; }

  // Places a legal op on a device; throws an Error naming the op or device otherwise.
  void step(OpId op, DeviceId device);

  void device_features(OpId op, std::span<DeviceFeatureRow> out) const;  // one row per device
  double earliest_start(OpId op, DeviceId device) const;
  double estimated_finish(OpId op) const { return finish_[op]; }  // of a placed op
  DeviceId device_of(OpId op) const { return device_[op]; }
  double estimated_makespan() const;  // latest estimated finish so far

  // The critical-path teacher: legal ops of the largest b-level, and for an op the devices where
  // it starts earliest, each in increasing id order.
  std::vector<OpId> teacher_ops() const;
  std::vector<DeviceId> teacher_devices(OpId op) const;

  // Every op placed: device per op and the selection order as priority (lower first).
  Plan plan() const;

 private:
  static constexpr DeviceId kUnplaced = static_cast<DeviceId>(-1);

  const sim::Simulator& simulator_;
  std::vector<double> b_level_;
  std::vector<std::uint32_t> unplaced_preds_;
  std::vector<DeviceId> device_;
  std::vector<double> finish_;
  std::vector<double> available_;       // per device: when its last placed op ends
  std::vector<double> placed_compute_;  // per device
  std::vector<OpId> legal_;
  std::vector<OpId> order_;
  std::size_t placed_count_ = 0;
};

}  // namespace doppler::policies
