#pragma once
// Contract: PLC's logits for every recorded step and device of a batch of episodes, as one fused
// autograd function (forward and backward hand-written over float arrays): the same values as
// applying the PLC head to [device features, h(op), summed h of the ops already on the device]
// with the sums built by an exclusive cumulative sum, without materialising the
// steps x devices x head_hidden tensors that formulation needs in both passes.
#include <torch/torch.h>

namespace doppler::learn {

// plc_op, plc_sum: N x M projections; device_weight: M x F; bias: M; out_weight: 1 x M;
// out_bias: 1. ops, devices: int64, B x T (episode-major); features: B x T x D x F.
// Returns logits B x T x D, differentiable in the first six arguments.
torch::Tensor plc_scores(const torch::Tensor& plc_op, const torch::Tensor& plc_sum,
                         const torch::Tensor& device_weight, const torch::Tensor& bias,
                         const torch::Tensor& out_weight, const torch::Tensor& out_bias,
                         const torch::Tensor& ops, const torch::Tensor& devices,
                         const torch::Tensor& features);

}  // namespace doppler::learn
