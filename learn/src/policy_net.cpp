#include "doppler/learn/policy_net.hpp"

#include <algorithm>
#include <cmath>
#include <future>
#include <limits>

#include "edge_aggregate.hpp"
#include "plc_scores.hpp"
#include "torch_threads.hpp"

namespace doppler::learn {
namespace {

constexpr auto kF = static_cast<std::int64_t>(kDeviceFeatureCount);

torch::Tensor int64_tensor(const std::vector<std::int64_t>& values) {
  return torch::tensor(torch::ArrayRef<std::int64_t>(values), torch::kInt64);
}

std::vector<float> to_vector(const torch::Tensor& t) {
  const torch::Tensor c = t.detach().to(torch::kFloat32).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

}  // namespace

// Pointer doubling over a path's next-pointers: N + 1 entries, the extra one (index N) a sentinel
// that points to itself; ceil(log2(N + 1)) rounds, as jumps of 1, 2, 4, ... ops.
std::vector<torch::Tensor> path_jumps(const std::vector<OpId>& next) {
  const std::size_t n = next.size();
  std::vector<std::int64_t> first(n + 1, static_cast<std::int64_t>(n));
  for (std::size_t o = 0; o < n; ++o) {
    if (next[o] != kNoOp) first[o] = next[o];
  }
  std::vector<torch::Tensor> jumps;
  torch::Tensor jump = torch::tensor(torch::ArrayRef<std::int64_t>(first), torch::kInt64);
  for (std::size_t reach = 1;; reach *= 2) {
    jumps.push_back(jump);
    if (reach >= n) return jumps;
    jump = jump.index_select(0, jump);
  }
}

// Row o: the sum of h over the ops after o on its path (jumps from path_jumps).
torch::Tensor path_sums(const torch::Tensor& h, const std::vector<torch::Tensor>& jumps) {
  const torch::Tensor padded = torch::cat({h, torch::zeros({1, h.size(1)}, h.options())}, 0);
  torch::Tensor sums = padded.index_select(0, jumps.front());  // the next op's h
  for (std::size_t i = 0; i + 1 < jumps.size(); ++i) {
    // sums covers 2^i ops after each op; add the next 2^i after those.
    sums = sums + sums.index_select(0, jumps[i]);
  }
  return sums.narrow(0, 0, h.size(0));
}

GraphTensors graph_tensors(const GraphInputs& in, torch::ScalarType dtype) {
  const auto n = static_cast<std::int64_t>(in.num_ops);
  const auto edges = static_cast<std::int64_t>(in.edge_source.size());
  GraphTensors g;
  g.features = torch::from_blob(const_cast<float*>(in.op_features.data()),
                                {n, static_cast<std::int64_t>(kOpFeatureCount)})
                   .to(dtype, false, true);
  g.source = int64_tensor(in.edge_source);
  g.target = int64_tensor(in.edge_target);
  g.edge_feature =
      torch::from_blob(const_cast<float*>(in.edge_feature.data()), {edges, 1}).to(dtype, false, true);
  std::vector<float> inverse(in.num_ops, 0.0f);
  for (const std::int64_t t : in.edge_target) inverse[t] += 1;
  for (float& x : inverse) x = 1.0f / std::max(1.0f, x);
  g.inverse_in_degree = torch::from_blob(inverse.data(), {n, 1}).to(dtype, false, true);
  g.exit_jumps = path_jumps(in.next_on_exit_path);
  g.entry_jumps = path_jumps(in.previous_on_entry_path);
  return g;
}

EncoderImpl::EncoderImpl(const PolicySizes& sizes)
    : hidden_(static_cast<std::int64_t>(sizes.hidden)),
      basis_(static_cast<std::int64_t>(sizes.edge_basis)),
      steps_(static_cast<std::int64_t>(sizes.steps)) {
  input_ = register_module("input", torch::nn::Linear(static_cast<std::int64_t>(kOpFeatureCount), hidden_));
  edge_net_ = register_module("edge_net", torch::nn::Linear(1, basis_));
  root_ = register_module("root", torch::nn::Linear(hidden_, hidden_));
  const double bound = 1.0 / std::sqrt(static_cast<double>(hidden_ * (basis_ + 1)));
  edge_weights_ = register_parameter("edge_weights",
                                     torch::empty({hidden_, (basis_ + 1) * hidden_}).uniform_(-bound, bound));
  gru_ = register_module("gru", torch::nn::GRUCell(hidden_, hidden_));
}

torch::Tensor EncoderImpl::forward(const GraphTensors& g) {
  const std::int64_t n = g.features.size(0);
  torch::Tensor h = torch::relu(input_(g.features));
  const torch::Tensor coefficients =
      torch::cat({torch::tanh(edge_net_(g.edge_feature)),
                  torch::ones({g.edge_feature.size(0), 1}, g.edge_feature.options())},
                 1)
          .unsqueeze(2);
  for (std::int64_t step = 0; step < steps_; ++step) {
    const torch::Tensor projected = h.matmul(edge_weights_).view({n, basis_ + 1, hidden_});
    const torch::Tensor mean =
        edge_aggregate(projected, coefficients, g.source, g.target, g.inverse_in_degree);
    h = gru_(torch::relu(root_(h) + mean), h);
  }
  return h;
}

PolicyNetImpl::PolicyNetImpl(const PolicySizes& sizes, bool mean_device_sum)
    : sizes_(sizes), mean_device_sum_(mean_device_sum) {
  const auto h = static_cast<std::int64_t>(sizes.hidden);
  const auto m = static_cast<std::int64_t>(sizes.head_hidden);
  sel_encoder_ = register_module("sel_encoder", Encoder(sizes));
  plc_encoder_ = register_module("plc_encoder", Encoder(sizes));
  sel_hidden_ =
      register_module("sel_hidden", torch::nn::Linear(3 * h + static_cast<std::int64_t>(kOpFeatureCount), m));
  sel_out_ = register_module("sel_out", torch::nn::Linear(m, 1));
  plc_hidden_ = register_module("plc_hidden", torch::nn::Linear(kF + 2 * h, m));
  plc_out_ = register_module("plc_out", torch::nn::Linear(m, 1));
}

GraphOutputs PolicyNetImpl::forward_graph(const GraphTensors& g) {
  const torch::Tensor sel = sel_encoder_(g);
  return heads(g, sel, plc_encoder_(g));
}

GraphOutputs PolicyNetImpl::infer_graph(const GraphTensors& g, std::size_t threads) {
  torch::NoGradGuard no_grad;
  if (threads < 2) {
    const torch::Tensor sel = sel_encoder_->infer(g);
    return heads(g, sel, plc_encoder_->infer(g));
  }
  const std::size_t half = threads / 2;
  std::future<torch::Tensor> plc = std::async(std::launch::async, [this, &g, half] {
    const torch::NoGradGuard no_grad_here;
    use_one_torch_thread();
    return plc_encoder_->infer(g, half);
  });
  const torch::Tensor sel = sel_encoder_->infer(g, threads - half);
  return heads(g, sel, plc.get());
}

GraphOutputs PolicyNetImpl::heads(const GraphTensors& g, const torch::Tensor& sel,
                                  const torch::Tensor& plc_embedding) {
  const auto h = static_cast<std::int64_t>(sizes_.hidden);
  GraphOutputs out;
  const torch::Tensor sel_input =
      torch::cat({sel, g.features, path_sums(sel, g.exit_jumps), path_sums(sel, g.entry_jumps)}, 1);
  out.sel_logits = sel_out_(torch::relu(sel_hidden_(sel_input))).squeeze(1);
  out.plc_embedding = plc_embedding;
  const torch::Tensor& w = plc_hidden_->weight;
  out.plc_op = out.plc_embedding.mm(w.narrow(1, kF, h).t());
  out.plc_sum = out.plc_embedding.mm(w.narrow(1, kF + h, h).t());
  if (mean_device_sum_) out.plc_sum = out.plc_sum / static_cast<double>(g.features.size(0));
  return out;
}

PolicyArrays PolicyNetImpl::export_arrays(const GraphOutputs& outputs) const {
  PolicyArrays a;
  a.num_ops = static_cast<std::size_t>(outputs.sel_logits.size(0));
  a.head_hidden = sizes_.head_hidden;
  a.sel_logits = to_vector(outputs.sel_logits);
  a.plc_op = to_vector(outputs.plc_op);
  a.plc_sum = to_vector(outputs.plc_sum);
  a.plc_device_weight = to_vector(plc_hidden_->weight.narrow(1, 0, kF));
  a.plc_bias = to_vector(plc_hidden_->bias);
  a.plc_out_weight = to_vector(plc_out_->weight);
  a.plc_out_bias = to_vector(plc_out_->bias)[0];
  return a;
}

torch::Tensor PolicyNetImpl::plc_head(const torch::Tensor& device_features, const torch::Tensor& embedding,
                                      const torch::Tensor& device_sums) {
  const std::int64_t devices = device_features.size(0);
  const torch::Tensor input = torch::cat(
      {device_features, embedding.unsqueeze(0).expand({devices, embedding.size(0)}), device_sums}, 1);
  return plc_out_(torch::relu(plc_hidden_(input))).squeeze(1);
}

StepLogProbs PolicyNetImpl::batch_log_probs(const GraphOutputs& outputs, std::span<const Episode> episodes,
                                            std::size_t devices, bool teacher) {
  const auto b = static_cast<std::int64_t>(episodes.size());
  const auto t = static_cast<std::int64_t>(episodes.front().ops.size());
  const auto d = static_cast<std::int64_t>(devices);
  const std::int64_t rows = b * t;
  std::size_t width = 1;
  for (const Episode& e : episodes) {
    for (std::size_t s = 0; s + 1 < e.legal_begin.size(); ++s) {
      width = std::max<std::size_t>(width, e.legal_begin[s + 1] - e.legal_begin[s]);
    }
  }
  const auto l = static_cast<std::int64_t>(width);
  std::vector<std::int64_t> index(rows * l, 0), chosen(rows), ops(rows), devs(rows);
  std::vector<std::uint8_t> legal_mask(rows * l, 0), teacher_mask(teacher ? rows * l : 0, 0),
      teacher_devices(teacher ? rows * d : 0, 0);
  std::vector<float> features(static_cast<std::size_t>(rows * d * kF));
  for (std::int64_t i = 0; i < b; ++i) {
    const Episode& e = episodes[i];
    std::copy(e.device_inputs.begin(), e.device_inputs.end(), features.begin() + i * t * d * kF);
    if (teacher)
      std::copy(e.teacher_device.begin(), e.teacher_device.end(), teacher_devices.begin() + i * t * d);
    for (std::int64_t s = 0; s < t; ++s) {
      const std::int64_t row = i * t + s;
      chosen[row] = e.chosen[s];
      ops[row] = e.ops[s];
      devs[row] = e.devices[s];
      for (std::uint32_t k = e.legal_begin[s]; k < e.legal_begin[s + 1]; ++k) {
        const std::int64_t at = row * l + (k - e.legal_begin[s]);
        index[at] = e.legal[k];
        legal_mask[at] = 1;
        if (teacher) teacher_mask[at] = e.teacher_op[k];
      }
    }
  }
  const auto bool_tensor = [](std::vector<std::uint8_t>& v, std::vector<std::int64_t> shape) {
    return torch::from_blob(v.data(), shape, torch::kUInt8).to(torch::kBool);
  };
  const float minus_infinity = -std::numeric_limits<float>::infinity();
  StepLogProbs out;

  const torch::Tensor mask = bool_tensor(legal_mask, {rows, l});
  const torch::Tensor gathered = outputs.sel_logits.index_select(0, int64_tensor(index)).view({rows, l});
  const torch::Tensor log_z = gathered.masked_fill(~mask, minus_infinity).logsumexp(1, true);
  const torch::Tensor log_p = torch::where(mask, gathered - log_z, torch::zeros_like(gathered));
  out.sel = log_p.gather(1, int64_tensor(chosen).unsqueeze(1)).view({b, t});
  out.sel_entropy = -(log_p.exp() * mask * log_p).sum(1).view({b, t});
  if (teacher) {
    const torch::Tensor tied = bool_tensor(teacher_mask, {rows, l});
    out.sel_teacher = (gathered.masked_fill(~tied, minus_infinity).logsumexp(1, true) - log_z).view({b, t});
  }

  const torch::Tensor dev_index = int64_tensor(devs);
  const torch::Tensor x = torch::from_blob(features.data(), {b, t, d, kF}).clone();
  const torch::Tensor logits =
      plc_scores(outputs.plc_op, outputs.plc_sum, plc_hidden_->weight.narrow(1, 0, kF), plc_hidden_->bias,
                 plc_out_->weight, plc_out_->bias, int64_tensor(ops), dev_index, x);
  const torch::Tensor plc_log_p = torch::log_softmax(logits, 2);
  out.plc = plc_log_p.gather(2, dev_index.view({b, t, 1})).squeeze(2);
  out.plc_entropy = -(plc_log_p.exp() * plc_log_p).sum(2);
  if (teacher) {
    const torch::Tensor tied = bool_tensor(teacher_devices, {b, t, d});
    out.plc_teacher = plc_log_p.masked_fill(~tied, minus_infinity).logsumexp(2);
  }
  return out;
}

}  // namespace doppler::learn
