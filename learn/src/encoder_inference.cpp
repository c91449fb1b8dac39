// EncoderImpl::infer: the encoder's forward pass for placement (float64, no autograd), reordered so
// that a block of ops is finished while its rows are in cache. Per step and per block of ops:
//   S[t]  = inverse_in_degree[t] * sum over in-edges e of t: coefficients[e] (x) h[source(e)]
//   x     = relu(S @ E + h @ root^T + root_bias)     E: the edge weights stacked per basis
//   h'    = GRU(x, h)                               gates r, z, n as torch::nn::GRUCell
// E's rows are edge_weights' (basis, input) pairs, so S @ E is the mean over in-edges of
// (sum_k coefficients[e][k] A_k + B) h[source], the message of EncoderImpl::forward. The blocks
// of a step are shared among `threads` workers; a block's arithmetic is the same whichever worker
// runs it, so the result does not depend on the thread count.
#include <algorithm>
#include <barrier>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "doppler/error.hpp"
#include "doppler/learn/policy_net.hpp"
#include "torch_threads.hpp"

namespace doppler::learn {
namespace {

constexpr std::int64_t kBlockRows = 64;

// In-edges grouped by target, each group in edge order.
struct InEdges {
  std::vector<std::int64_t> begin;  // N + 1
  std::vector<std::int64_t> edge;   // edge ids
};

InEdges in_edges(const torch::Tensor& target, std::int64_t n) {
  const std::int64_t edges = target.size(0);
  const std::int64_t* t = target.data_ptr<std::int64_t>();
  InEdges in;
  in.begin.assign(static_cast<std::size_t>(n + 1), 0);
  for (std::int64_t e = 0; e < edges; ++e) ++in.begin[static_cast<std::size_t>(t[e] + 1)];
  for (std::int64_t o = 0; o < n; ++o) in.begin[o + 1] += in.begin[o];
  in.edge.resize(static_cast<std::size_t>(edges));
  std::vector<std::int64_t> at(in.begin.begin(), in.begin.end() - 1);
  for (std::int64_t e = 0; e < edges; ++e) in.edge[static_cast<std::size_t>(at[t[e]]++)] = e;
  return in;
}

// Rows [first, first + rows) of S (row stride basis * hidden), from h.
void gather_block(const InEdges& in, const double* __restrict h, const double* __restrict coefficients,
                  const std::int64_t* __restrict source, const double* __restrict inverse_in_degree,
                  std::int64_t first, std::int64_t rows, std::int64_t basis, std::int64_t hidden,
                  double* __restrict s) {
  std::fill(s, s + rows * basis * hidden, 0.0);
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::int64_t t = first + r;
    const double scale = inverse_in_degree[t];
    for (std::int64_t i = in.begin[t]; i < in.begin[t + 1]; ++i) {
      const std::int64_t e = in.edge[static_cast<std::size_t>(i)];
      const double* __restrict from = h + source[e] * hidden;
      for (std::int64_t k = 0; k < basis; ++k) {
        const double w = coefficients[e * basis + k] * scale;
        double* __restrict to = s + (r * basis + k) * hidden;
        for (std::int64_t j = 0; j < hidden; ++j) to[j] += w * from[j];
      }
    }
  }
}

// One worker's scratch rows for a block.
struct BlockBuffers {
  BlockBuffers(std::int64_t rows, std::int64_t basis, std::int64_t hidden,
               const torch::TensorOptions& options)
      : s(torch::empty({rows, basis * hidden}, options)),
        hq(torch::empty({rows, 4 * hidden}, options)),
        x(torch::empty({rows, hidden}, options)),
        gx(torch::empty({rows, 3 * hidden}, options)),
        rz(torch::empty({rows, 2 * hidden}, options)),
        candidate(torch::empty({rows, hidden}, options)),
        step(torch::empty({rows, hidden}, options)) {}
  torch::Tensor s, hq, x, gx, rz, candidate, step;
};

}  // namespace

torch::Tensor EncoderImpl::infer(const GraphTensors& g, std::size_t threads) {
  if (g.features.scalar_type() != torch::kFloat64 || edge_weights_.scalar_type() != torch::kFloat64)
    throw Error("internal: the inference encoder runs in float64 (weights and graph tensors)");
  torch::NoGradGuard no_grad;
  const std::int64_t n = g.features.size(0), hidden = hidden_, basis = basis_ + 1;
  const torch::Tensor coefficients =
      torch::cat({torch::tanh(edge_net_(g.edge_feature)),
                  torch::ones({g.edge_feature.size(0), 1}, g.edge_feature.options())},
                 1)
          .contiguous();
  const torch::Tensor stacked = edge_weights_.view({hidden, basis, hidden})
                                    .permute({1, 0, 2})
                                    .reshape({basis * hidden, hidden})
                                    .contiguous();
  // h's products in one: [root | GRU hidden-side gates r, z, n], with their biases.
  const torch::Tensor h_weights = torch::cat({root_->weight.t(), gru_->weight_hh.t()}, 1).contiguous();
  const torch::Tensor h_bias = torch::cat({root_->bias, gru_->bias_hh}).unsqueeze(0);
  const torch::Tensor x_weights = gru_->weight_ih.t().contiguous();
  const torch::Tensor x_bias = gru_->bias_ih.unsqueeze(0);
  const torch::Tensor source = g.source.contiguous(), inverse = g.inverse_in_degree.contiguous();
  const InEdges in = in_edges(g.target.contiguous(), n);

  const auto options = g.features.options();
  const std::int64_t block = std::min(kBlockRows, std::max<std::int64_t>(n, 1));
  const std::int64_t blocks = (n + block - 1) / block;
  const std::size_t workers = std::max<std::size_t>(1, std::min<std::size_t>(threads, blocks));
  std::vector<BlockBuffers> buffers;
  for (std::size_t w = 0; w < workers; ++w) buffers.emplace_back(block, basis, hidden, options);
  torch::Tensor h = torch::relu(input_(g.features)).contiguous();
  torch::Tensor next = torch::empty_like(h);
  // Block b of a step is worker (b mod workers)'s; its arithmetic does not depend on the worker.
  const auto run_blocks = [&](std::size_t worker) {
    BlockBuffers& b = buffers[worker];
    for (std::int64_t first = static_cast<std::int64_t>(worker) * block; first < n;
         first += static_cast<std::int64_t>(workers) * block) {
      const std::int64_t rows = std::min(block, n - first);
      const auto part = [rows](const torch::Tensor& t) { return t.narrow(0, 0, rows); };
      torch::Tensor s_rows = part(b.s), hq_rows = part(b.hq), x_rows = part(b.x), gx_rows = part(b.gx),
                    rz_rows = part(b.rz), n_rows = part(b.candidate), step_rows = part(b.step);
      const torch::Tensor h_rows = h.narrow(0, first, rows);
      gather_block(in, h.data_ptr<double>(), coefficients.data_ptr<double>(), source.data_ptr<std::int64_t>(),
                   inverse.data_ptr<double>(), first, rows, basis, hidden, s_rows.data_ptr<double>());
      torch::addmm_out(hq_rows, h_bias, h_rows, h_weights);
      torch::addmm_out(x_rows, hq_rows.narrow(1, 0, hidden), s_rows, stacked);
      x_rows.relu_();
      torch::addmm_out(gx_rows, x_bias, x_rows, x_weights);
      torch::add_out(rz_rows, gx_rows.narrow(1, 0, 2 * hidden), hq_rows.narrow(1, hidden, 2 * hidden));
      rz_rows.sigmoid_();
      torch::addcmul_out(n_rows, gx_rows.narrow(1, 2 * hidden, hidden), rz_rows.narrow(1, 0, hidden),
                         hq_rows.narrow(1, 3 * hidden, hidden));
      n_rows.tanh_();
      torch::sub_out(step_rows, h_rows, n_rows);
      torch::Tensor out_rows = next.narrow(0, first, rows);
      torch::addcmul_out(out_rows, n_rows, rz_rows.narrow(1, hidden, hidden), step_rows);
    }
  };
  // The workers live for all steps and meet at a barrier after each; its completion swaps h and
  // next. A worker that throws keeps arriving, so that the others finish; the error is rethrown.
  std::exception_ptr failure;
  std::mutex failure_lock;
  std::barrier step_done(static_cast<std::ptrdiff_t>(workers), [&]() noexcept { std::swap(h, next); });
  const auto work = [&](std::size_t worker) {
    const torch::NoGradGuard no_grad_here;  // grad mode is per thread
    use_one_torch_thread();  // OpenMP's thread count is per thread: a new thread starts at all cores
    for (std::int64_t round = 0; round < steps_; ++round) {
      try {
        run_blocks(worker);
      } catch (...) {
        const std::lock_guard<std::mutex> lock(failure_lock);
        if (!failure) failure = std::current_exception();
      }
      step_done.arrive_and_wait();
    }
  };
  std::vector<std::thread> others;
  for (std::size_t w = 1; w < workers; ++w) others.emplace_back(work, w);
  work(0);
  for (std::thread& t : others) t.join();
  if (failure) std::rethrow_exception(failure);
  return h;
}

}  // namespace doppler::learn
