#include "edge_aggregate.hpp"

namespace doppler::learn {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

class EdgeAggregate : public torch::autograd::Function<EdgeAggregate> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, torch::Tensor projected, torch::Tensor coefficients,
                               torch::Tensor source, torch::Tensor target, torch::Tensor inverse_in_degree) {
    projected = projected.contiguous();
    coefficients = coefficients.contiguous();
    source = source.contiguous();
    target = target.contiguous();
    inverse_in_degree = inverse_in_degree.contiguous();
    ctx->save_for_backward({projected, coefficients, source, target, inverse_in_degree});
    const std::int64_t n = projected.size(0), k = projected.size(1), h = projected.size(2),
                       e = source.size(0);
    torch::Tensor out = torch::zeros({n, h});
    const float *p = projected.data_ptr<float>(), *c = coefficients.data_ptr<float>(),
                *inv = inverse_in_degree.data_ptr<float>();
    const std::int64_t *src = source.data_ptr<std::int64_t>(), *dst = target.data_ptr<std::int64_t>();
    float* o = out.data_ptr<float>();
    for (std::int64_t i = 0; i < e; ++i) {
      float* row = o + dst[i] * h;
      for (std::int64_t b = 0; b < k; ++b) {
        const float w = c[i * k + b] * inv[dst[i]];
        const float* from = p + (src[i] * k + b) * h;
        for (std::int64_t j = 0; j < h; ++j) row[j] += w * from[j];
      }
    }
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const variable_list saved = ctx->get_saved_variables();
    const torch::Tensor &projected = saved[0], &coefficients = saved[1], &source = saved[2],
                        &target = saved[3], &inverse_in_degree = saved[4];
    const torch::Tensor grad = grad_outputs[0].contiguous();
    const std::int64_t k = projected.size(1), h = projected.size(2), e = source.size(0);
    torch::Tensor g_projected = torch::zeros_like(projected),
                  g_coefficients = torch::zeros_like(coefficients);
    const float *p = projected.data_ptr<float>(), *c = coefficients.data_ptr<float>(),
                *inv = inverse_in_degree.data_ptr<float>(), *g = grad.data_ptr<float>();
    const std::int64_t *src = source.data_ptr<std::int64_t>(), *dst = target.data_ptr<std::int64_t>();
    float *gp = g_projected.data_ptr<float>(), *gc = g_coefficients.data_ptr<float>();
    for (std::int64_t i = 0; i < e; ++i) {
      const float* gr = g + dst[i] * h;
      const float scale = inv[dst[i]];
      for (std::int64_t b = 0; b < k; ++b) {
        const float* from = p + (src[i] * k + b) * h;
        float* to = gp + (src[i] * k + b) * h;
        const float w = c[i * k + b] * scale;
        float dot = 0;
        for (std::int64_t j = 0; j < h; ++j) {
          to[j] += w * gr[j];
          dot += from[j] * gr[j];
        }
        gc[i * k + b] = dot * scale;
      }
    }
    return {g_projected, g_coefficients, torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor edge_aggregate(const torch::Tensor& projected, const torch::Tensor& coefficients,
                             const torch::Tensor& source, const torch::Tensor& target,
                             const torch::Tensor& inverse_in_degree) {
  return EdgeAggregate::apply(projected, coefficients, source, target, inverse_in_degree);
}

}  // namespace doppler::learn
