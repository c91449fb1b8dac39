#include "output_check.hpp"

#include <algorithm>
#include <cmath>

namespace doppler::cli {

double output_tolerance(const einsum::EinsumGraph& graph) {
  double tol = 1e-4;
  for (const einsum::Tensor& t : graph.tensors())
    if (t.dtype != einsum::DType::kF32) tol = 5e-2;
  return tol;
}

double max_output_error(const einsum::EinsumGraph& graph, const std::vector<std::vector<float>>& got,
                        const std::vector<std::vector<double>>& want) {
  double worst = 0;
  for (einsum::TensorId t = 0; t < graph.num_tensors(); ++t) {
    if (graph.tensor(t).kind != einsum::TensorKind::kOutput) continue;
    double scale = 1e-30, diff = 0;
    for (std::size_t e = 0; e < want[t].size(); ++e) {
      scale = std::max(scale, std::abs(want[t][e]));
      diff = std::max(diff, std::abs(static_cast<double>(got[t][e]) - want[t][e]));
    }
    worst = std::max(worst, diff / scale);
  }
  return worst;
}

}  // namespace doppler::cli
