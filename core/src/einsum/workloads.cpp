#include "doppler/einsum/workloads.hpp"

#include <cmath>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "doppler/einsum/einsum_builder.hpp"
#include "doppler/error.hpp"

namespace doppler::einsum {
namespace {

using NamedSize = std::pair<const char*, std::int64_t>;

void require_positive(const char* generator, std::initializer_list<NamedSize> sizes) {
  for (const auto& [what, value] : sizes) {
    if (value <= 0) {
      throw Error(std::string(generator) + ": " + what + " must be positive, got " + std::to_string(value));
    }
  }
}

// The init scale of a weight that sums over `fan_in` inputs: keeps activations near unit size.
double fan_in_scale(std::int64_t fan_in) {
  return 1.0 / std::sqrt(static_cast<double>(fan_in));
}

EinsumGraph finished(EinsumGraph graph, TensorId output) {
  graph.mark_output(output);
  graph.validate();
  return graph;
}

// x [rows, in] -> relu?(x @ w + b) [rows, out], parameters w{l}, b{l}; the result is named `name`.
TensorId dense_layer(EinsumGraph& g, int layer, TensorId x, std::int64_t out, bool with_relu, DType dtype,
                     const std::string& name) {
  const std::string l = std::to_string(layer);
  const std::int64_t in = g.tensor(x).dims.back();
  const TensorId w = g.add_parameter("w" + l, {in, out}, dtype, fan_in_scale(in));
  const TensorId b = g.add_parameter("b" + l, {out}, dtype);
  const TensorId z = matmul(g, "z" + l, x, w);
  const TensorId biased = g.add_einsum(with_relu ? "a" + l : name, "ij,j->ij | join=a+b", {z, b});
  return with_relu ? relu(g, name, biased) : biased;
}

TensorId ffnn_into(EinsumGraph& g, const FfnnOptions& o) {
  require_positive(
      "ffnn", {{"batch", o.batch}, {"in", o.in}, {"hidden", o.hidden}, {"out", o.out}, {"layers", o.layers}});
  TensorId h = g.add_input("x", {o.batch, o.in}, o.dtype);
  for (int l = 0; l < o.layers; ++l) {
    const bool last = l + 1 == o.layers;
    h = dense_layer(g, l, h, last ? o.out : o.hidden, !last, o.dtype, last ? "y" : "h" + std::to_string(l));
  }
  return h;
}

std::int64_t head_dim(const char* generator, const LlamaOptions& o) {
  require_positive(generator, {{"batch", o.batch}, {"seq", o.seq}, {"hidden", o.hidden}, {"heads", o.heads}});
  if (o.hidden % o.heads != 0) {
    throw Error(std::string(generator) + ": hidden " + std::to_string(o.hidden) +
                " is not divisible by heads " + std::to_string(o.heads));
  }
  if ((o.hidden / o.heads) % 2 != 0) {
    throw Error(std::string(generator) + ": head dim " + std::to_string(o.hidden / o.heads) +
                " is odd (rotary needs it even)");
  }
  return o.hidden / o.heads;
}

TensorId head_projection(EinsumGraph& g, const std::string& prefix, const std::string& name, TensorId x,
                         const LlamaOptions& o, std::int64_t d) {
  const TensorId w =
      g.add_parameter(prefix + "w" + name, {o.hidden, o.heads, d}, o.dtype, fan_in_scale(o.hidden));
  return g.add_einsum(prefix + name, "bsh,hnd->bsnd", {x, w});
}

// The rotary tables rope.cos / rope.sin [seq, head dim], inputs shared by every layer.
struct RopeTables {
  TensorId cos;
  TensorId sin;
};

// The attention block on x [b, s, h]; returns `name` = x + attention(rms_norm(x)). Its tensors
// are named PREFIX + the names of the contract (workloads.hpp).
TensorId attention_into(EinsumGraph& g, TensorId x, const LlamaOptions& o, std::int64_t d,
                        const RopeTables& rope, const std::string& p, const std::string& name) {
  const TensorId norm_w = g.add_parameter(p + "attn_norm.w", {o.hidden}, o.dtype);
  const TensorId xn = rms_norm(g, p + "attn_norm", x, norm_w, 2);
  const TensorId q = rotary(g, p + "q.rope", head_projection(g, p, "q", xn, o, d), rope.cos, rope.sin, 1, 3);
  const TensorId k = rotary(g, p + "k.rope", head_projection(g, p, "k", xn, o, d), rope.cos, rope.sin, 1, 3);
  const TensorId v = head_projection(g, p, "v", xn, o, d);
  const TensorId raw = g.add_einsum(p + "scores.raw", "bsnd,btnd->bnst", {q, k});
  const TensorId scores = scale(g, p + "scores", raw, 1.0 / std::sqrt(static_cast<double>(d)));
  const TensorId probs = softmax(g, p + "probs", scores, 3);
  const TensorId context = g.add_einsum(p + "context", "bnst,btnd->bsnd", {probs, v});
  const TensorId wo = g.add_parameter(p + "wo", {o.heads, d, o.hidden}, o.dtype, fan_in_scale(o.heads * d));
  const TensorId projected = g.add_einsum(p + "attn", "bsnd,ndh->bsh", {context, wo});
  return add(g, name, x, projected);
}

// SwiGLU MLP on x [b, s, h]; returns `name` = x + down(silu(x' @ gate) * (x' @ up)), x' = rms_norm(x).
TensorId mlp_into(EinsumGraph& g, TensorId x, const LlamaOptions& o, const std::string& p,
                  const std::string& name) {
  const std::int64_t f = o.ffn == 0 ? 4 * o.hidden : o.ffn;
  require_positive("llama_layer", {{"ffn", f}});
  const TensorId norm_w = g.add_parameter(p + "mlp_norm.w", {o.hidden}, o.dtype);
  const TensorId xn = rms_norm(g, p + "mlp_norm", x, norm_w, 2);
  const TensorId gate =
      g.add_einsum(p + "gate", "bsh,hf->bsf",
                   {xn, g.add_parameter(p + "wgate", {o.hidden, f}, o.dtype, fan_in_scale(o.hidden))});
  const TensorId up =
      g.add_einsum(p + "up", "bsh,hf->bsf",
                   {xn, g.add_parameter(p + "wup", {o.hidden, f}, o.dtype, fan_in_scale(o.hidden))});
  const TensorId act = elementwise(g, p + "swiglu", "silu(a)*b", {gate, up});
  const TensorId down =
      g.add_einsum(p + "down", "bsf,fh->bsh",
                   {act, g.add_parameter(p + "wdown", {f, o.hidden}, o.dtype, fan_in_scale(f))});
  return add(g, name, x, down);
}

RopeTables rope_inputs(EinsumGraph& g, const LlamaOptions& o, std::int64_t d) {
  return {g.add_input("rope.cos", {o.seq, d}, o.dtype), g.add_input("rope.sin", {o.seq, d}, o.dtype)};
}

// `layers` Llama layers on x; one layer keeps the plain names, several prefix theirs "l0.", "l1.", ...
// (layer l's output is "lL.y"; the last one's is "y").
TensorId llama_layer_into(EinsumGraph& g, const LlamaOptions& o) {
  const std::int64_t d = head_dim("llama_layer", o);
  require_positive("llama_layer", {{"layers", o.layers}});
  TensorId h = g.add_input("x", {o.batch, o.seq, o.hidden}, o.dtype);
  const RopeTables rope = rope_inputs(g, o, d);
  for (int l = 0; l < o.layers; ++l) {
    const std::string p = o.layers == 1 ? "" : "l" + std::to_string(l) + ".";
    const std::string out = l + 1 == o.layers ? "y" : p + "y";
    h = mlp_into(g, attention_into(g, h, o, d, rope, p, p + "h"), o, p, out);
  }
  return h;
}

// Adds `loss` = sum(y * loss.weight) and returns the training-step graph.
EinsumGraph with_training_step(EinsumGraph forward, TensorId y, const Optimizer& optimizer) {
  const Tensor out = forward.tensor(y);  // a copy: adding a tensor may move the graph's tensors
  const TensorId weight = forward.add_input("loss.weight", out.dims, out.dtype);
  const std::string letters = index_letters(out.dims.size());
  const TensorId loss = forward.add_einsum(std::string("loss"), letters + "," + letters + "->", {y, weight});
  forward.mark_output(y);
  forward.mark_output(loss);
  EinsumGraph step = training_step_graph(forward, loss, optimizer);
  step.validate();
  return step;
}

}  // namespace

EinsumGraph chain_mm(const ChainMmOptions& o) {
  require_positive("chain_mm", {{"n", o.n}, {"length", o.length}});
  EinsumGraph g;
  std::vector<TensorId> level;
  for (int i = 0; i < o.length; ++i)
    level.push_back(g.add_input("m" + std::to_string(i), {o.n, o.n}, o.dtype));
  int product = 0;
  while (level.size() > 1) {
    std::vector<TensorId> next;
    for (std::size_t i = 0; i + 1 < level.size(); i += 2) {
      const bool final_product = level.size() == 2;
      const std::string name = final_product ? "y" : "p" + std::to_string(product++);
      next.push_back(matmul(g, name, level[i], level[i + 1]));
    }
    if (level.size() % 2 == 1) next.push_back(level.back());
    level = std::move(next);
  }
  const TensorId y = g.tensor(level[0]).producer == kNoProducer ? scale(g, "y", level[0], 1.0) : level[0];
  return finished(std::move(g), y);
}

EinsumGraph ffnn(const FfnnOptions& o) {
  EinsumGraph g;
  const TensorId h = ffnn_into(g, o);
  return finished(std::move(g), h);
}

EinsumGraph llama_block(const LlamaOptions& o) {
  const std::int64_t d = head_dim("llama_block", o);
  EinsumGraph g;
  const TensorId x = g.add_input("x", {o.batch, o.seq, o.hidden}, o.dtype);
  const TensorId y = attention_into(g, x, o, d, rope_inputs(g, o, d), "", "y");
  return finished(std::move(g), y);
}

EinsumGraph llama_layer(const LlamaOptions& o) {
  EinsumGraph g;
  const TensorId y = llama_layer_into(g, o);
  return finished(std::move(g), y);
}

EinsumGraph mlp_training_step(const FfnnOptions& o, const Optimizer& optimizer) {
  EinsumGraph g;
  const TensorId y = ffnn_into(g, o);
  return with_training_step(std::move(g), y, optimizer);
}

EinsumGraph llama_layer_training_step(const LlamaOptions& o, const Optimizer& optimizer) {
  EinsumGraph g;
  const TensorId y = llama_layer_into(g, o);
  return with_training_step(std::move(g), y, optimizer);
}

}  // namespace doppler::einsum
