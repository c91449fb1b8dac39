#pragma once
// Test helper for graph rewrites (fusion.hpp): small built-in workloads, and the largest relative
// error of a rewritten graph's outputs against the original's, both run by the float64 reference
// on the original's seeded inputs (matched by name). Every original output must keep its name,
// kind and dims in the rewritten graph.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "doppler/einsum/reference_executor.hpp"
#include "doppler/einsum/workloads.hpp"
#include "max_relative_error.hpp"

namespace doppler::test_support {

inline einsum::LlamaOptions small_llama() {
  return {.batch = 2, .seq = 4, .hidden = 8, .heads = 2, .ffn = 8};
}

// Every built-in workload, small: ChainMM, FFNN, Llama block and layer, two training steps.
inline std::vector<std::pair<std::string, einsum::EinsumGraph>> small_builtin_workloads() {
  using namespace einsum;
  const FfnnOptions ffnn_options{.batch = 4, .in = 5, .hidden = 7, .out = 3, .layers = 3};
  return {{"chain_mm", chain_mm({.n = 6, .length = 5, .dtype = DType::kF32})},
          {"ffnn", ffnn(ffnn_options)},
          {"llama_block", llama_block(small_llama())},
          {"llama_layer 2 layers",
           llama_layer({.batch = 2, .seq = 4, .hidden = 8, .heads = 2, .ffn = 8, .layers = 2})},
          {"mlp_adam", mlp_training_step(ffnn_options, Adam{})},
          {"llama_sgd", llama_layer_training_step(small_llama())}};
}

inline double output_error(const einsum::EinsumGraph& original, const einsum::EinsumGraph& rewritten) {
  using namespace einsum;
  ReferenceOptions want_options;
  ReferenceOptions got_options;
  for (TensorId t = 0; t < original.num_tensors(); ++t) {
    const Tensor& tensor = original.tensor(t);
    if (tensor.kind != TensorKind::kInput && tensor.kind != TensorKind::kParameter) continue;
    got_options.given[rewritten.find_tensor(tensor.name)] = seeded_input_values(original, t, want_options);
  }
  const auto want = run_reference<double>(original, want_options);
  const auto got = run_reference<double>(rewritten, got_options);
  double worst = 0;
  int outputs = 0;
  for (TensorId t = 0; t < original.num_tensors(); ++t) {
    if (original.tensor(t).kind != TensorKind::kOutput) continue;
    const TensorId f = rewritten.find_tensor(original.tensor(t).name);
    EXPECT_EQ(rewritten.tensor(f).kind, TensorKind::kOutput);
    EXPECT_EQ(rewritten.tensor(f).dims, original.tensor(t).dims);
    worst = std::max(worst, max_relative_error(got[f], want[t]));
    ++outputs;
  }
  EXPECT_GT(outputs, 0);
  return worst;
}

}  // namespace doppler::test_support
