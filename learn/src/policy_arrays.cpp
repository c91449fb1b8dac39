#include "doppler/learn/policy_arrays.hpp"

#include <algorithm>
#include <cmath>

namespace doppler::learn {

void PlcSums::reset(std::size_t devices, std::size_t head_hidden) {
  width_ = head_hidden;
  sums_.assign(devices * head_hidden, 0.0);
}

void PlcSums::add(const PolicyArrays& arrays, OpId op, DeviceId device) {
  const float* row = arrays.plc_sum.data() + op * width_;
  double* sum = sums_.data() + device * width_;
  for (std::size_t j = 0; j < width_; ++j) sum[j] += row[j];
}

void sel_logits(const PolicyArrays& arrays, std::span<const OpId> legal, std::span<double> out) {
  for (std::size_t i = 0; i < legal.size(); ++i) out[i] = arrays.sel_logits[legal[i]];
}

void plc_logits(const PolicyArrays& arrays, const PlcSums& sums, OpId op,
                std::span<const float> device_inputs, std::span<double> out) {
  const std::size_t m = arrays.head_hidden;
  const float* op_row = arrays.plc_op.data() + op * m;
  for (std::size_t d = 0; d < out.size(); ++d) {
    const float* features = device_inputs.data() + d * kDeviceFeatureCount;
    const double* sum = sums.of(static_cast<DeviceId>(d));
    double logit = arrays.plc_out_bias;
    for (std::size_t j = 0; j < m; ++j) {
      const float* w = arrays.plc_device_weight.data() + j * kDeviceFeatureCount;
      double pre = static_cast<double>(arrays.plc_bias[j]) + op_row[j] + sum[j];
      for (std::size_t c = 0; c < kDeviceFeatureCount; ++c) pre += static_cast<double>(w[c]) * features[c];
      if (pre > 0) logit += pre * arrays.plc_out_weight[j];
    }
    out[d] = logit;
  }
}

double softmax_in_place(std::span<double> values) {
  const double top = *std::max_element(values.begin(), values.end());
  double total = 0;
  for (double& v : values) {
    v = std::exp(v - top);
    total += v;
  }
  for (double& v : values) v /= total;
  return top + std::log(total);
}

}  // namespace doppler::learn
