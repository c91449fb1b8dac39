#pragma once
// Contract: a policy's networks evaluated for one graph, exported to plain arrays, and the
// hand-written SEL/PLC inference over them that rollouts use (torch-free, no allocation per step).
// The encoders do not depend on actions, so SEL's logit per op is fixed for the episode and PLC's
// first layer splits into per-op projections: for op o on device d,
//   logit(d) = out_weight . relu(device_weight x features(d) + op_proj(o) + sum_proj(d) + bias)
//              + out_bias,
// where sum_proj(d) is the running sum of sum_proj rows of the ops already placed on d (PlcSums).
// Equal to the torch heads (PolicyNet) up to float rounding; tests check 1e-5 on probabilities.
#include <cstddef>
#include <span>
#include <vector>

#include "doppler/learn/graph_inputs.hpp"

namespace doppler::learn {

struct PolicyArrays {
  std::size_t num_ops = 0;
  std::size_t head_hidden = 0;
  std::vector<float> sel_logits;         // num_ops
  std::vector<float> plc_op;             // num_ops x head_hidden
  std::vector<float> plc_sum;            // num_ops x head_hidden
  std::vector<float> plc_device_weight;  // head_hidden x kDeviceFeatureCount
  std::vector<float> plc_bias;           // head_hidden
  std::vector<float> plc_out_weight;     // head_hidden
  float plc_out_bias = 0;
};

// Per device: the summed plc_sum rows of the ops placed there so far.
class PlcSums {
 public:
  void reset(std::size_t devices, std::size_t head_hidden);
  void add(const PolicyArrays& arrays, OpId op, DeviceId device);
  const double* of(DeviceId device) const { return sums_.data() + device * width_; }

 private:
  std::size_t width_ = 0;
  std::vector<double> sums_;
};

// SEL logits of the legal ops, in legal's order.
void sel_logits(const PolicyArrays& arrays, std::span<const OpId> legal, std::span<double> out);

// PLC logits for placing `op`, one per device; `device_inputs` as device_inputs() writes them.
void plc_logits(const PolicyArrays& arrays, const PlcSums& sums, OpId op,
                std::span<const float> device_inputs, std::span<double> out);

// In place: logits -> probabilities (max-shifted softmax). Returns log of the normaliser.
double softmax_in_place(std::span<double> values);

}  // namespace doppler::learn
