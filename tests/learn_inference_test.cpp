// The learned policies' inference: normalised graph inputs on a hand-worked graph, the
// hand-written C++ SEL/PLC inference against the torch networks (1e-5 on probabilities), and the
// batched torch scoring of recorded episodes against the log-probabilities the rollout computed;
// loading a policy runs torch on one thread.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>

#include "checkpoint.hpp"
#include "diamond_graph.hpp"
#include "doppler/error.hpp"
#include "doppler/learn/graph_inputs.hpp"
#include "doppler/learn/learned_policy.hpp"
#include "doppler/learn/policy_net.hpp"
#include "doppler/learn/rollout.hpp"
#include "doppler/paper_graph_format.hpp"
#include "edge_aggregate.hpp"
#include "plc_scores.hpp"

namespace doppler::learn {
namespace {

using test_support::diamond;

TEST(LearnInference, GraphInputsByHand) {
  const TaskGraph graph = diamond();
  const sim::Simulator simulator(graph, abstract_machine(2), sim::CostModelKind::paper);
  const GraphInputs in = graph_inputs(simulator);
  // Raw rows (placement_env_test): a {2,19,0,0,20} b {3,5,12,10,1} c {5,7,12,10,1} d {1,1,18,2,0};
  // column maxima 5, 19, 18, 10, 20.
  const std::vector<float> want = {2 / 5.f,   1,       0,        0, 1,        3 / 5.f,   5 / 19.f,
                                   12 / 18.f, 1,       1 / 20.f, 1, 7 / 19.f, 12 / 18.f, 1,
                                   1 / 20.f,  1 / 5.f, 1 / 19.f, 1, 2 / 10.f, 0};
  ASSERT_EQ(in.op_features.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) EXPECT_FLOAT_EQ(in.op_features[i], want[i]) << i;
  // Edges both ways, feature = producer's comm over the largest (10): a->b, b->a, a->c, c->a, ...
  EXPECT_EQ(in.edge_source, (std::vector<std::int64_t>{0, 1, 0, 2, 1, 3, 2, 3}));
  EXPECT_EQ(in.edge_target, (std::vector<std::int64_t>{1, 0, 2, 0, 3, 1, 3, 2}));
  EXPECT_EQ(in.edge_feature, (std::vector<float>{1, 1, 1, 1, 0.1f, 0.1f, 0.1f, 0.1f}));
  EXPECT_EQ(in.time_scale, 19);
  policies::PlacementEnv env(simulator);
  env.step(0, 0);
  std::vector<float> rows(2 * kDeviceFeatureCount);
  device_inputs(env, 2, rows);
  // Raw rows {2,2,2,2,2} and {0,0,0,0,12}: columns over their largest (2, 2, 2, 2, 12); earliest
  // starts 2 and 12 -> 0 and 1.
  EXPECT_EQ(rows, (std::vector<float>{1, 1, 1, 1, 2 / 12.f, 0, 0, 0, 0, 0, 1, 1}));
}

struct Fixture {
  TaskGraph graph = read_paper_graph(std::string(DOPPLER_SOURCE_DIR) +
                                     "/configs/workloads/doppler-paper/chain_mm_112nodes.txt");
  sim::Simulator simulator{graph, abstract_machine(4), sim::CostModelKind::paper};
  GraphInputs inputs = graph_inputs(simulator);
  GraphTensors tensors = graph_tensors(inputs);
};

// With and without policy.device_sum: mean (the per-device sums of embeddings divided by the op count).
class LearnInferenceSums : public ::testing::TestWithParam<bool> {};

TEST_P(LearnInferenceSums, HandWrittenInferenceEqualsTorch) {
  Fixture f;
  torch::manual_seed(3);
  const bool mean = GetParam();
  PolicyNet net(PolicySizes{.hidden = 32, .steps = 3, .edge_basis = 3, .head_hidden = 24}, mean);
  torch::NoGradGuard no_grad;
  const GraphOutputs out = net->forward_graph(f.tensors);
  const PolicyArrays arrays = net->export_arrays(out);
  policies::PlacementEnv env(f.simulator);
  std::mt19937_64 rng(7);
  RolloutOptions options;
  options.epsilon = 0.2;
  const Episode e = rollout(env, f.simulator, arrays, options, rng);
  const std::size_t devices = 4, n = f.graph.num_ops();
  ASSERT_EQ(e.ops.size(), n);

  torch::Tensor sums = torch::zeros({4, 32});
  PlcSums cpp_sums;
  cpp_sums.reset(devices, arrays.head_hidden);
  for (std::size_t step = 0; step < n; ++step) {
    // SEL: softmax of the torch logits over the legal set.
    std::vector<std::int64_t> legal(e.legal.begin() + e.legal_begin[step],
                                    e.legal.begin() + e.legal_begin[step + 1]);
    const torch::Tensor sel = torch::softmax(out.sel_logits.index_select(0, torch::tensor(legal)), 0);
    EXPECT_NEAR(std::exp(e.sel_log_prob[step]), sel[e.chosen[step]].item<double>(), 1e-5) << step;
    // PLC: the head on its concatenated input; every device's probability.
    const OpId op = e.ops[step];
    const torch::Tensor features =
        torch::from_blob(const_cast<float*>(e.device_inputs.data()) + step * devices * kDeviceFeatureCount,
                         {4, static_cast<std::int64_t>(kDeviceFeatureCount)});
    const torch::Tensor plc = torch::softmax(net->plc_head(features, out.plc_embedding[op], sums), 0);
    std::vector<double> cpp(devices);
    plc_logits(arrays, cpp_sums, op, std::span<const float>(features.data_ptr<float>(), features.numel()),
               cpp);
    softmax_in_place(cpp);
    for (std::size_t d = 0; d < devices; ++d) EXPECT_NEAR(cpp[d], plc[d].item<double>(), 1e-5) << step;
    EXPECT_NEAR(std::exp(e.plc_log_prob[step]), plc[e.devices[step]].item<double>(), 1e-5) << step;
    sums[e.devices[step]] += out.plc_embedding[op] / (mean ? static_cast<double>(n) : 1.0);
    cpp_sums.add(arrays, op, e.devices[step]);
  }
}
INSTANTIATE_TEST_SUITE_P(LearnInference, LearnInferenceSums, ::testing::Values(false, true));

// Placement's float64 encoders (a block of ops at a time, no autograd) compute what the torch
// modules compute, and the thread count changes no bit.
TEST(LearnInference, PlacementEncodersEqualTheTorchModules) {
  const TaskGraph graph =
      read_paper_graph(std::string(DOPPLER_SOURCE_DIR) +
                       "/configs/workloads/doppler-paper/full_transformer_layer_261nodes.txt");
  ASSERT_GT(graph.num_ops(), 3 * 64u);  // four blocks of ops (encoder_inference.cpp)
  const sim::Simulator simulator(graph, abstract_machine(4), sim::CostModelKind::paper);
  torch::manual_seed(4);
  PolicyNet net(PolicySizes{.hidden = 32, .steps = 3, .edge_basis = 3, .head_hidden = 24});
  net->to(torch::kFloat64);
  const GraphTensors tensors = graph_tensors(graph_inputs(simulator), torch::kFloat64);
  torch::NoGradGuard no_grad;
  const GraphOutputs want = net->forward_graph(tensors);
  const GraphOutputs one = net->infer_graph(tensors, 1);
  const auto scale = [](const torch::Tensor& t) { return t.abs().max().item<double>(); };
  ASSERT_GT(scale(want.plc_embedding), 0.01);
  EXPECT_LT((one.sel_logits - want.sel_logits).abs().max().item<double>(),
            1e-12 * scale(want.sel_logits) + 1e-14);
  EXPECT_LT((one.plc_embedding - want.plc_embedding).abs().max().item<double>(), 1e-12);
  EXPECT_LT((one.plc_op - want.plc_op).abs().max().item<double>(), 1e-12);
  EXPECT_LT((one.plc_sum - want.plc_sum).abs().max().item<double>(), 1e-12);
  for (const std::size_t threads : {2, 3, 8}) {
    const GraphOutputs other = net->infer_graph(tensors, threads);
    EXPECT_TRUE(torch::equal(one.sel_logits, other.sel_logits)) << threads;
    EXPECT_TRUE(torch::equal(one.plc_embedding, other.plc_embedding)) << threads;
    EXPECT_TRUE(torch::equal(one.plc_op, other.plc_op)) << threads;
    EXPECT_TRUE(torch::equal(one.plc_sum, other.plc_sum)) << threads;
  }
}

TEST(LearnInference, PlacementEncodersRefuseFloat32) {
  Fixture f;
  PolicyNet net(PolicySizes{.hidden = 8, .steps = 1, .edge_basis = 1, .head_hidden = 8});
  EXPECT_THROW(net->infer_graph(f.tensors, 1), Error);
}

TEST(LearnInference, BatchedScoringEqualsRollouts) {
  Fixture f;
  torch::manual_seed(5);
  PolicyNet net(PolicySizes{.hidden = 16, .steps = 2, .edge_basis = 2, .head_hidden = 16});
  const GraphOutputs out = net->forward_graph(f.tensors);
  const PolicyArrays arrays = net->export_arrays(out);
  policies::PlacementEnv env(f.simulator);
  std::mt19937_64 rng(11);
  std::vector<Episode> episodes;
  const Teacher critical_path;
  RolloutOptions options;
  options.teacher = &critical_path;
  for (int i = 0; i < 3; ++i) episodes.push_back(rollout(env, f.simulator, arrays, options, rng));
  const StepLogProbs lp = net->batch_log_probs(out, episodes, 4, true);
  for (std::size_t b = 0; b < episodes.size(); ++b) {
    for (std::size_t t = 0; t < episodes[b].ops.size(); ++t) {
      EXPECT_NEAR(std::exp(lp.sel[b][t].item<double>()), std::exp(episodes[b].sel_log_prob[t]), 1e-5);
      EXPECT_NEAR(std::exp(lp.plc[b][t].item<double>()), std::exp(episodes[b].plc_log_prob[t]), 1e-5);
      // The teacher's tied sets are non-empty subsets of the choices.
      EXPECT_LE(lp.sel_teacher[b][t].item<double>(), 1e-6);
      EXPECT_LE(lp.plc_teacher[b][t].item<double>(), 1e-6);
      EXPECT_TRUE(std::isfinite(lp.sel_teacher[b][t].item<double>()));
    }
  }
  // Gradients reach both encoders and both heads.
  (-(lp.sel_teacher + lp.plc_teacher).mean() - (lp.sel_entropy + lp.plc_entropy).mean()).backward();
  for (const auto& p : net->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_TRUE(torch::isfinite(p.value().grad()).all().item<bool>()) << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0) << p.key();
  }
}

TEST(LearnInference, PathSumsWalkTheLongestPaths) {
  for (const char* name : {"chain_mm_112nodes", "full_transformer_layer_261nodes"}) {
    const TaskGraph graph = read_paper_graph(std::string(DOPPLER_SOURCE_DIR) +
                                             "/configs/workloads/doppler-paper/" + name + ".txt");
    const sim::Simulator simulator(graph, abstract_machine(4), sim::CostModelKind::paper);
    const GraphInputs in = graph_inputs(simulator);
    const torch::Tensor h =
        torch::randn({static_cast<std::int64_t>(in.num_ops), 3}, torch::kFloat64).to(torch::kFloat32);
    for (const auto* next : {&in.next_on_exit_path, &in.previous_on_entry_path}) {
      const torch::Tensor got = path_sums(h, path_jumps(*next));
      for (std::size_t o = 0; o < in.num_ops; ++o) {
        torch::Tensor want = torch::zeros({3});
        for (OpId v = (*next)[o]; v != kNoOp; v = (*next)[v]) want += h[v];
        EXPECT_LT((got[o] - want).abs().max().item<double>(), 1e-4) << name << " op " << o;
      }
    }
  }
  // A single chain of 6 (not a power of two): every suffix.
  const torch::Tensor h = torch::arange(1, 7, torch::kFloat32).unsqueeze(1);
  const torch::Tensor got = path_sums(h, path_jumps({1, 2, 3, 4, 5, kNoOp}));
  EXPECT_TRUE(torch::equal(got.squeeze(1), torch::tensor({20.f, 18.f, 15.f, 11.f, 6.f, 0.f})));
}

TEST(LearnInference, FusedEdgeAggregationEqualsTorchAutograd) {
  torch::manual_seed(4);
  const std::int64_t n = 6, k = 3, h = 5;
  const torch::Tensor projected = torch::randn({n, k, h}).requires_grad_(true);
  const torch::Tensor coefficients = torch::randn({8, k}).requires_grad_(true);
  const torch::Tensor source = torch::tensor({0, 1, 0, 2, 1, 3, 4, 5}, torch::kInt64);
  const torch::Tensor target = torch::tensor({1, 0, 2, 0, 3, 1, 5, 4}, torch::kInt64);
  const torch::Tensor inverse = torch::tensor({0.5f, 0.5f, 1.f, 1.f, 1.f, 1.f}).unsqueeze(1);
  const torch::Tensor fused = edge_aggregate(projected, coefficients, source, target, inverse);
  const torch::Tensor messages = (projected.index_select(0, source) * coefficients.unsqueeze(2)).sum(1);
  const torch::Tensor reference = torch::zeros({n, h}).index_add(0, target, messages) * inverse;
  EXPECT_LT((fused - reference).abs().max().item<double>(), 1e-5);
  const torch::Tensor mix = torch::randn({n, h});
  const auto got = torch::autograd::grad({(fused * mix).sum()}, {projected, coefficients});
  const auto want = torch::autograd::grad({(reference * mix).sum()}, {projected, coefficients});
  for (std::size_t i = 0; i < 2; ++i) EXPECT_LT((got[i] - want[i]).abs().max().item<double>(), 1e-5) << i;
}

TEST(LearnInference, FusedPlcScoresEqualTorchAutograd) {
  torch::manual_seed(9);
  const std::int64_t n = 7, m = 5, f = static_cast<std::int64_t>(kDeviceFeatureCount), b = 2, t = 7, d = 3;
  const auto param = [](std::vector<std::int64_t> shape) { return torch::randn(shape).requires_grad_(true); };
  const torch::Tensor op = param({n, m}), sum = param({n, m}), weight = param({m, f}), bias = param({m}),
                      out_weight = param({1, m}), out_bias = param({1});
  const torch::Tensor ops = torch::cat({torch::randperm(n), torch::randperm(n)});
  const torch::Tensor devs = torch::randint(d, {b * t}, torch::kInt64);
  const torch::Tensor x = torch::rand({b, t, d, f});
  const torch::Tensor fused = plc_scores(op, sum, weight, bias, out_weight, out_bias, ops, devs, x);
  // The same head with the per-device sums materialised by an exclusive cumulative sum.
  const torch::Tensor one_hot =
      torch::zeros({b * t, d}).scatter_(1, devs.unsqueeze(1), 1.0).view({b, t, d, 1});
  const torch::Tensor contribution = one_hot * sum.index_select(0, ops).view({b, t, 1, m});
  const torch::Tensor pre = x.matmul(weight.t()) + op.index_select(0, ops).view({b, t, 1, m}) +
                            (contribution.cumsum(1) - contribution) + bias;
  const torch::Tensor reference = torch::relu(pre).matmul(out_weight.t()).squeeze(3) + out_bias;
  EXPECT_LT((fused - reference).abs().max().item<double>(), 1e-5);
  const torch::Tensor mix = torch::randn({b, t, d});
  const std::vector<torch::Tensor> inputs = {op, sum, weight, bias, out_weight, out_bias};
  const auto got = torch::autograd::grad({(fused * mix).sum()}, inputs);
  const auto want = torch::autograd::grad({(reference * mix).sum()}, inputs);
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    EXPECT_LT((got[i] - want[i]).abs().max().item<double>(), 1e-4) << i;
  }
}

// Loading a policy puts torch on one thread, as training does, so a policy's greedy placement is the
// one its training reported, whatever the machine's core count (with several BLAS threads, matrix
// products round differently and greedy near-ties can flip).
TEST(LearnInference, LoadingAPolicyRunsTorchOnOneThread) {
  torch::manual_seed(2);
  PolicyNet net(PolicySizes{.hidden = 8, .steps = 1, .edge_basis = 1, .head_hidden = 8});
  const std::string path = testing::TempDir() + "doppler_one_thread.pt";
  CheckpointState state;
  state.sizes = net->sizes();
  state.devices = 4;
  save_policy_file(path, state, net);
  torch::set_num_threads(2);
  ASSERT_EQ(torch::get_num_threads(), 2);
  const LearnedPolicy policy = LearnedPolicy::load(path, 4);
  EXPECT_EQ(torch::get_num_threads(), 1);
}

TEST(LearnInference, CheckpointWithOtherFeatureSizesIsAnError) {
  torch::manual_seed(1);
  PolicyNet net(PolicySizes{.hidden = 8, .steps = 1, .edge_basis = 1, .head_hidden = 8});
  const std::string path = testing::TempDir() + "doppler_other_features.ckpt";
  CheckpointState state;
  state.sizes = net->sizes();
  state.devices = 4;
  save_checkpoint(path, state, net, nullptr);
  EXPECT_EQ(read_checkpoint_state(path).sizes, net->sizes());
  // The same archive claiming 7 op features (a policy from another build).
  torch::serialize::OutputArchive archive;
  for (const auto& [key, value] : std::vector<std::pair<std::string, double>>{{"format", 1},
                                                                              {"hidden", 8},
                                                                              {"steps", 1},
                                                                              {"edge_basis", 1},
                                                                              {"head_hidden", 8},
                                                                              {"learned_sel", 1},
                                                                              {"learned_plc", 1},
                                                                              {"priority", 1},
                                                                              {"devices", 4},
                                                                              {"op_features", 7},
                                                                              {"device_features", 6},
                                                                              {"episode", 0},
                                                                              {"running", 0},
                                                                              {"best", 0}}) {
    archive.write(key, torch::tensor(value, torch::kFloat64));
  }
  archive.write("seed", torch::tensor(std::int64_t{1}, torch::kInt64));
  archive.save_to(path);
  try {
    LearnedPolicy::load(path, 4);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              path +
                  ": the policy uses 7 op and 6 device features; this build uses 5 and 6 "
                  "(retrain the policy)");
  }
}

}  // namespace
}  // namespace doppler::learn
