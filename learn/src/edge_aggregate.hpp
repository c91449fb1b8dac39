#pragma once
// Contract: the edge-conditioned convolution's mean aggregation as one fused autograd function
// (forward and backward hand-written): for every directed edge e = (source, target),
//   out[target] += inverse_in_degree[target] * sum_k coefficients[e][k] * projected[source][k]
// without materialising the edges x basis x hidden tensor of the gather formulation.
#include <torch/torch.h>

namespace doppler::learn {

// projected: N x K x H; coefficients: E x K; source, target: int64 E; inverse_in_degree: N x 1.
// Returns N x H, differentiable in projected and coefficients.
torch::Tensor edge_aggregate(const torch::Tensor& projected, const torch::Tensor& coefficients,
                             const torch::Tensor& source, const torch::Tensor& target,
                             const torch::Tensor& inverse_in_degree);

}  // namespace doppler::learn
