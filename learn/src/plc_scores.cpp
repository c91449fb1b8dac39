#include "plc_scores.hpp"

#include <algorithm>
#include <vector>

namespace doppler::learn {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Shapes and raw pointers of one call.
struct Dims {
  std::int64_t b, t, d, m, f;
};

Dims dims_of(const torch::Tensor& features, const torch::Tensor& device_weight) {
  return {features.size(0), features.size(1), features.size(2), device_weight.size(0), device_weight.size(1)};
}

// pre[j] = bias[j] + op_row[j] + sum[j] + sum_c weight_t[c][j] * x[c], for one step and device.
void pre_activation(const Dims& s, const float* bias, const float* op_row, const float* sum,
                    const float* weight_t, const float* x, float* pre) {
  for (std::int64_t j = 0; j < s.m; ++j) pre[j] = bias[j] + op_row[j] + sum[j];
  for (std::int64_t c = 0; c < s.f; ++c) {
    const float xc = x[c];
    const float* w = weight_t + c * s.m;
    for (std::int64_t j = 0; j < s.m; ++j) pre[j] += w[j] * xc;
  }
}

class PlcScores : public torch::autograd::Function<PlcScores> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, torch::Tensor plc_op, torch::Tensor plc_sum,
                               torch::Tensor device_weight, torch::Tensor bias, torch::Tensor out_weight,
                               torch::Tensor out_bias, torch::Tensor ops, torch::Tensor devices,
                               torch::Tensor features) {
    plc_op = plc_op.contiguous();
    plc_sum = plc_sum.contiguous();
    const torch::Tensor weight_t = device_weight.t().contiguous();
    bias = bias.contiguous();
    out_weight = out_weight.contiguous();
    ops = ops.contiguous();
    devices = devices.contiguous();
    features = features.contiguous();
    ctx->save_for_backward({plc_op, plc_sum, weight_t, bias, out_weight, out_bias, ops, devices, features});
    const Dims s = dims_of(features, device_weight);
    torch::Tensor logits = torch::empty({s.b, s.t, s.d});
    const float *p = plc_op.data_ptr<float>(), *q = plc_sum.data_ptr<float>(),
                *w = weight_t.data_ptr<float>(), *b1 = bias.data_ptr<float>(),
                *w2 = out_weight.data_ptr<float>(), *x = features.data_ptr<float>();
    const float b2 = out_bias.item<float>();
    const std::int64_t *op = ops.data_ptr<std::int64_t>(), *dev = devices.data_ptr<std::int64_t>();
    float* out = logits.data_ptr<float>();
    std::vector<float> sums(s.d * s.m), pre(s.m);
    for (std::int64_t e = 0; e < s.b; ++e) {
      std::fill(sums.begin(), sums.end(), 0.0f);
      for (std::int64_t t = 0; t < s.t; ++t) {
        const std::int64_t row = e * s.t + t;
        for (std::int64_t d = 0; d < s.d; ++d) {
          pre_activation(s, b1, p + op[row] * s.m, sums.data() + d * s.m, w, x + (row * s.d + d) * s.f,
                         pre.data());
          float z = b2;
          for (std::int64_t j = 0; j < s.m; ++j) z += std::max(pre[j], 0.0f) * w2[j];
          out[row * s.d + d] = z;
        }
        float* sum = sums.data() + dev[row] * s.m;
        const float* add = q + op[row] * s.m;
        for (std::int64_t j = 0; j < s.m; ++j) sum[j] += add[j];
      }
    }
    return logits;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const variable_list saved = ctx->get_saved_variables();
    const torch::Tensor &plc_op = saved[0], &plc_sum = saved[1], &weight_t = saved[2], &bias = saved[3],
                        &out_weight = saved[4], &ops = saved[6], &devices = saved[7], &features = saved[8];
    const torch::Tensor grad = grad_outputs[0].contiguous();
    const Dims s{features.size(0), features.size(1), features.size(2), weight_t.size(1), weight_t.size(0)};
    torch::Tensor g_op = torch::zeros_like(plc_op), g_sum = torch::zeros_like(plc_sum),
                  g_weight_t = torch::zeros_like(weight_t), g_bias = torch::zeros_like(bias),
                  g_out = torch::zeros_like(out_weight), g_out_bias = torch::zeros({1});
    const float *p = plc_op.data_ptr<float>(), *q = plc_sum.data_ptr<float>(),
                *w = weight_t.data_ptr<float>(), *b1 = bias.data_ptr<float>(),
                *w2 = out_weight.data_ptr<float>(), *x = features.data_ptr<float>(),
                *gz = grad.data_ptr<float>();
    const std::int64_t *op = ops.data_ptr<std::int64_t>(), *dev = devices.data_ptr<std::int64_t>();
    float *gp = g_op.data_ptr<float>(), *gq = g_sum.data_ptr<float>(), *gw = g_weight_t.data_ptr<float>(),
          *gb1 = g_bias.data_ptr<float>(), *gw2 = g_out.data_ptr<float>();
    double gb2 = 0;
    std::vector<float> sums(s.d * s.m), pre(s.m), g_pre_all(s.t * s.d * s.m), running(s.d * s.m);
    for (std::int64_t e = 0; e < s.b; ++e) {
      // Forward sweep: recompute each step's pre-activations; gradients of everything but the sums.
      std::fill(sums.begin(), sums.end(), 0.0f);
      for (std::int64_t t = 0; t < s.t; ++t) {
        const std::int64_t row = e * s.t + t;
        for (std::int64_t d = 0; d < s.d; ++d) {
          const float* xr = x + (row * s.d + d) * s.f;
          pre_activation(s, b1, p + op[row] * s.m, sums.data() + d * s.m, w, xr, pre.data());
          const float g = gz[row * s.d + d];
          gb2 += g;
          float* g_pre = g_pre_all.data() + (t * s.d + d) * s.m;
          for (std::int64_t j = 0; j < s.m; ++j) {
            const bool active = pre[j] > 0;
            gw2[j] += active ? g * pre[j] : 0.0f;
            g_pre[j] = active ? g * w2[j] : 0.0f;
          }
          float* gpr = gp + op[row] * s.m;
          for (std::int64_t j = 0; j < s.m; ++j) {
            gb1[j] += g_pre[j];
            gpr[j] += g_pre[j];
          }
          for (std::int64_t c = 0; c < s.f; ++c) {
            float* gwc = gw + c * s.m;
            const float xc = xr[c];
            for (std::int64_t j = 0; j < s.m; ++j) gwc[j] += g_pre[j] * xc;
          }
        }
        float* sum = sums.data() + dev[row] * s.m;
        const float* add = q + op[row] * s.m;
        for (std::int64_t j = 0; j < s.m; ++j) sum[j] += add[j];
      }
      // Backward sweep: op t's projection feeds the sums of its device at every later step.
      std::fill(running.begin(), running.end(), 0.0f);
      for (std::int64_t t = s.t - 1; t >= 0; --t) {
        const std::int64_t row = e * s.t + t;
        const float* r = running.data() + dev[row] * s.m;
        float* gqr = gq + op[row] * s.m;
        for (std::int64_t j = 0; j < s.m; ++j) gqr[j] += r[j];
        for (std::int64_t d = 0; d < s.d; ++d) {
          float* rd = running.data() + d * s.m;
          const float* g_pre = g_pre_all.data() + (t * s.d + d) * s.m;
          for (std::int64_t j = 0; j < s.m; ++j) rd[j] += g_pre[j];
        }
      }
    }
    g_out_bias.fill_(gb2);
    return {g_op,       g_sum,           g_weight_t.t(),  g_bias,         g_out,
            g_out_bias, torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor plc_scores(const torch::Tensor& plc_op, const torch::Tensor& plc_sum,
                         const torch::Tensor& device_weight, const torch::Tensor& bias,
                         const torch::Tensor& out_weight, const torch::Tensor& out_bias,
                         const torch::Tensor& ops, const torch::Tensor& devices,
                         const torch::Tensor& features) {
  return PlcScores::apply(plc_op, plc_sum, device_weight, bias, out_weight, out_bias, ops, devices, features);
}

}  // namespace doppler::learn
