#pragma once
// Contract: Doppler's SEL and PLC networks (LibTorch, stable C++ API only). Each policy has its own
// Encoder: an input layer, then `steps` rounds of edge-conditioned convolution (NNConv: the message
// along an edge is W(e) h_source with W(e) = sum_k phi_k(e) A_k + B, phi = tanh(Linear(1, basis)),
// mean over in-edges, plus a root term) feeding a GRU cell, on the bidirectional graph. Heads:
//   SEL(op)   = MLP([h(op), op features, sum of h along op's longest path to exit,
//                    sum of h along its longest path from entry])
//   PLC(op,d) = MLP([device features(d), h(op), sum of h over the ops already on d]).
// Neither encoder depends on actions: forward_graph() runs once per batch of episodes; rollouts
// use its export (PolicyArrays), and batch_log_probs() scores the recorded episodes in one batched
// forward whose gradient reaches every parameter.
#include <torch/torch.h>

#include <span>
#include <vector>

#include "doppler/learn/graph_inputs.hpp"
#include "doppler/learn/learn_config.hpp"
#include "doppler/learn/policy_arrays.hpp"
#include "doppler/learn/rollout.hpp"

namespace doppler::learn {

struct GraphTensors {
  torch::Tensor features;           // N x kOpFeatureCount
  torch::Tensor source, target;     // int64, directed edges (both directions)
  torch::Tensor edge_feature;       // edges x 1
  torch::Tensor inverse_in_degree;  // N x 1 (1 where an op has no neighbour)
  // Pointer-doubling jumps along each op's longest path to an exit / from an entry: jumps[i][o] is
  // the op 2^i steps further (index N: past the end). Path sums cost O(N log N), not O(N^2).
  std::vector<torch::Tensor> exit_jumps, entry_jumps;
};
// The inputs as tensors, the real-valued ones of `dtype` (float32 in training; float64 for
// inference that does not depend on the CPU's vector kernels, learned_policy.hpp).
GraphTensors graph_tensors(const GraphInputs& inputs, torch::ScalarType dtype = torch::kFloat32);

// Pointer-doubling jumps for next-pointers (kNoOp: the path ends), and the sums of h over the ops
// after each op on its path, from them.
std::vector<torch::Tensor> path_jumps(const std::vector<OpId>& next);
torch::Tensor path_sums(const torch::Tensor& h, const std::vector<torch::Tensor>& jumps);

class EncoderImpl : public torch::nn::Module {
 public:
  explicit EncoderImpl(const PolicySizes& sizes);
  torch::Tensor forward(const GraphTensors& graph);  // N x hidden
  // The same function for placement: float64 weights and graph tensors, no autograd, computed a
  // block of ops at a time on up to `threads` threads (encoder_inference.cpp); equal to forward()
  // up to rounding, and to the bit whatever `threads` is.
  torch::Tensor infer(const GraphTensors& graph, std::size_t threads = 1);

 private:
  std::int64_t hidden_, basis_, steps_;
  torch::nn::Linear input_{nullptr}, edge_net_{nullptr}, root_{nullptr};
  torch::Tensor edge_weights_;  // hidden x (basis + 1) * hidden: A_1..A_basis, B
  torch::nn::GRUCell gru_{nullptr};
};
TORCH_MODULE(Encoder);

// The networks evaluated on one graph.
struct GraphOutputs {
  torch::Tensor sel_logits;       // N
  torch::Tensor plc_embedding;    // N x hidden
  torch::Tensor plc_op, plc_sum;  // N x head_hidden: the PLC first layer's op and sum projections
};

// Per recorded step, the log-probabilities the torch networks give: of the chosen op and device,
// of the teacher's tied sets (with teacher data), and the entropies of both distributions.
struct StepLogProbs {
  torch::Tensor sel, plc;                  // B x T
  torch::Tensor sel_teacher, plc_teacher;  // B x T (undefined without teacher data)
  torch::Tensor sel_entropy, plc_entropy;  // B x T
};

class PolicyNetImpl : public torch::nn::Module {
 public:
  // mean_device_sum: PLC's per-device sums are of the ops' embeddings divided by the op count
  // (PolicyMode::mean_device_sum); plc_head then expects device_sums divided likewise.
  explicit PolicyNetImpl(const PolicySizes& sizes, bool mean_device_sum = false);
  const PolicySizes& sizes() const { return sizes_; }

  GraphOutputs forward_graph(const GraphTensors& graph);
  // forward_graph for placement: float64, no autograd, the encoders' infer() on `threads` threads
  // (with two or more, the SEL and PLC encoders side by side, each on half of them; torch and its
  // BLAS stay on one thread each). The outputs are the same to the bit for every thread count.
  GraphOutputs infer_graph(const GraphTensors& graph, std::size_t threads);
  PolicyArrays export_arrays(const GraphOutputs& outputs) const;
  // All episodes must come from the same graph and number of devices.
  StepLogProbs batch_log_probs(const GraphOutputs& outputs, std::span<const Episode> episodes,
                               std::size_t devices, bool teacher);
  // The PLC head applied to its concatenated input (device features, h(op), summed h): logits D.
  torch::Tensor plc_head(const torch::Tensor& device_features, const torch::Tensor& embedding,
                         const torch::Tensor& device_sums);

 private:
  GraphOutputs heads(const GraphTensors& graph, const torch::Tensor& sel_embedding,
                     const torch::Tensor& plc_embedding);

  PolicySizes sizes_;
  bool mean_device_sum_ = false;
  Encoder sel_encoder_{nullptr}, plc_encoder_{nullptr};
  torch::nn::Linear sel_hidden_{nullptr}, sel_out_{nullptr}, plc_hidden_{nullptr}, plc_out_{nullptr};
};
TORCH_MODULE(PolicyNet);

}  // namespace doppler::learn
