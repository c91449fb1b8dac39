#pragma once
// Contract: built-in workload generators, each returning a validated EinsumGraph whose final
// tensors are marked as outputs. Sizes come in a small options struct per generator; `dtype` is the
// dtype of every input and parameter (default bf16; f32 allowed), intermediates inherit it.
//   chain_mm        `length` independent n x n inputs m0.. multiplied pairwise in a balanced tree
//                   (products of one level run in parallel; an odd one out joins the next level);
//                   products p0, p1, ..., output `y` [n, n] (length 1: y = m0 by a copy op).
//   ffnn            per layer l: h{l} = relu(h{l-1} @ w{l} + b{l}), the last layer without relu;
//                   input `x` [batch, in], output `y` [batch, out]. `layers` >= 1.
//   llama_block     attention: RMSNorm, Q/K/V projections `bsh,hnd->bsnd` (heads n, head dim
//                   d = hidden / heads, even), rotary embedding of q and k (`q.rope`, `k.rope`;
//                   tables: inputs `rope.cos`, `rope.sin` [seq, d], real values from
//                   rotary_tables), scores `bsnd,btnd->bnst` scaled by 1/sqrt(d), softmax over t,
//                   context `bnst,btnd->bsnd`, projection `bsnd,ndh->bsh`, residual add. Input `x`
//                   [batch, seq, hidden], output `y`. No causal mask.
//   llama_layer     llama_block, then RMSNorm, SwiGLU MLP silu(gate) * up with `ffn` columns,
//                   down projection and residual add; output `y` [batch, seq, hidden]. With
//                   `layers` > 1, that many layers in sequence sharing the rope tables, their
//                   tensors prefixed "l0.", "l1.", ... (layer outputs lL.y; the last one is `y`).
//   *_training_step the forward graph plus `loss` = sum(y * loss.weight) (an einsum to a scalar,
//                   loss.weight an input shaped like y), then training_step_graph with the optimizer.
// Bad sizes (zero, hidden not divisible by heads, an odd head dim) throw doppler::Error naming the
// generator.
#include <cstdint>

#include "doppler/einsum/autodiff.hpp"
#include "doppler/einsum/einsum_graph.hpp"

namespace doppler::einsum {

struct ChainMmOptions {
  std::int64_t n = 1024;
  int length = 8;
  DType dtype = DType::kBF16;
};
EinsumGraph chain_mm(const ChainMmOptions& options);

struct FfnnOptions {
  std::int64_t batch = 64;
  std::int64_t in = 256;
  std::int64_t hidden = 512;
  std::int64_t out = 128;
  int layers = 3;
  DType dtype = DType::kBF16;
};
EinsumGraph ffnn(const FfnnOptions& options);

struct LlamaOptions {
  std::int64_t batch = 4;
  std::int64_t seq = 512;
  std::int64_t hidden = 1024;
  std::int64_t heads = 8;
  std::int64_t ffn = 0;  // llama_layer's MLP width; 0 = 4 * hidden
  int layers = 1;        // llama_layer: layers stacked (several: names prefixed "l0.", "l1.", ...)
  DType dtype = DType::kBF16;
};
EinsumGraph llama_block(const LlamaOptions& options);
EinsumGraph llama_layer(const LlamaOptions& options);

// ffnn + loss + training step.
EinsumGraph mlp_training_step(const FfnnOptions& options, const Optimizer& optimizer = Sgd{});
// llama_layer + loss + training step.
EinsumGraph llama_layer_training_step(const LlamaOptions& options, const Optimizer& optimizer = Sgd{});

}  // namespace doppler::einsum
