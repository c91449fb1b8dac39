#include "edge_aggregate.hpp"

namespace doppler::learn {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// out[target] += inverse_in_degree[target] * sum_k coefficients[e][k] * projected[source][k], in T
// (float in training; double for CPU-independent inference, learned_policy.hpp).
template <typename T>
void aggregate(const torch::Tensor& projected, const torch::Tensor& coefficients, const torch::Tensor& source,
               const torch::Tensor& target, const torch::Tensor& inverse_in_degree, torch::Tensor& out) {
  const std::int64_t k = projected.size(1), h = projected.size(2), e = source.size(0);
  const T *p = projected.data_ptr<T>(), *c = coefficients.data_ptr<T>(),
          *inv = inverse_in_degree.data_ptr<T>();
  const std::int64_t *src = source.data_ptr<std::int64_t>(), *dst = target.data_ptr<std::int64_t>();
  T* o = out.data_ptr<T>();
  for (std::int64_t i = 0; i < e; ++i) {
    T* row = o + dst[i] * h;
    for (std::int64_t b = 0; b < k; ++b) {
      const T w = c[i * k + b] * inv[dst[i]];
      const T* from = p + (src[i] * k + b) * h;
      for (std::int64_t j = 0; j < h; ++j) row[j] += w * from[j];
    }
  }
}

template <typename T>
void aggregate_grad(const torch::Tensor& projected, const torch::Tensor& coefficients,
                    const torch::Tensor& source, const torch::Tensor& target,
                    const torch::Tensor& inverse_in_degree, const torch::Tensor& grad,
                    torch::Tensor& g_projected, torch::Tensor& g_coefficients) {
  const std::int64_t k = projected.size(1), h = projected.size(2), e = source.size(0);
  const T *p = projected.data_ptr<T>(), *c = coefficients.data_ptr<T>(),
          *inv = inverse_in_degree.data_ptr<T>(), *g = grad.data_ptr<T>();
  const std::int64_t *src = source.data_ptr<std::int64_t>(), *dst = target.data_ptr<std::int64_t>();
  T *gp = g_projected.data_ptr<T>(), *gc = g_coefficients.data_ptr<T>();
  for (std::int64_t i = 0; i < e; ++i) {
    const T* gr = g + dst[i] * h;
    const T scale = inv[dst[i]];
    for (std::int64_t b = 0; b < k; ++b) {
      const T* from = p + (src[i] * k + b) * h;
      T* to = gp + (src[i] * k + b) * h;
      const T w = c[i * k + b] * scale;
      T dot = 0;
      for (std::int64_t j = 0; j < h; ++j) {
        to[j] += w * gr[j];
        dot += from[j] * gr[j];
      }
      gc[i * k + b] = dot * scale;
    }
  }
}

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
    torch::Tensor out = torch::zeros({projected.size(0), projected.size(2)}, projected.options());
    if (projected.scalar_type() == torch::kFloat64) {
      aggregate<double>(projected, coefficients, source, target, inverse_in_degree, out);
    } else {
      aggregate<float>(projected, coefficients, source, target, inverse_in_degree, out);
    }
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const variable_list saved = ctx->get_saved_variables();
    const torch::Tensor &projected = saved[0], &coefficients = saved[1], &source = saved[2],
                        &target = saved[3], &inverse_in_degree = saved[4];
    const torch::Tensor grad = grad_outputs[0].contiguous();
    torch::Tensor g_projected = torch::zeros_like(projected),
                  g_coefficients = torch::zeros_like(coefficients);
    if (projected.scalar_type() == torch::kFloat64) {
      aggregate_grad<double>(projected, coefficients, source, target, inverse_in_degree, grad, g_projected,
                             g_coefficients);
    } else {
      aggregate_grad<float>(projected, coefficients, source, target, inverse_in_degree, grad, g_projected,
                            g_coefficients);
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
