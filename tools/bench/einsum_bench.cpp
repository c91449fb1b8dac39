// Google Benchmark of the einsum layer's planning steps: the EinDecomp optimizer (and the
// baselines beside it, as the ratio's reference) on a paper-scale Llama layer and its training step
// for 8 devices, and lowering to a task graph of over 100,000 tasks. Issue 3's targets: EinDecomp
// on a Llama layer for 8 devices < 1 s; lowering to 100,000 tasks < 1 s.
// Run: build/tools/bench/doppler_einsum_bench --benchmark_min_time=0.5
#include <benchmark/benchmark.h>

#include "doppler/einsum/decomposition.hpp"
#include "doppler/einsum/lowering.hpp"
#include "doppler/einsum/workloads.hpp"

namespace {

using namespace doppler::einsum;

const LlamaOptions kPaperLlama{.batch = 8, .seq = 2048, .hidden = 4096, .heads = 32};

void decompose_bench(benchmark::State& state, const EinsumGraph& graph, DecomposeMethod method, bool wide) {
  Decomposition d;
  for (auto _ : state) {
    d = decompose(graph, {.devices = 8, .method = method, .wide_search = wide});
    benchmark::DoNotOptimize(d.cost);
  }
  state.counters["cost_elements"] = d.cost.total();
  state.counters["einsum_ops"] = static_cast<double>(graph.num_ops());
}

void EinDecompLlamaLayer8(benchmark::State& state) {
  decompose_bench(state, llama_layer(kPaperLlama), DecomposeMethod::kEinDecomp, false);
}
BENCHMARK(EinDecompLlamaLayer8)->Unit(benchmark::kMillisecond);

void EinDecompWideLlamaLayer8(benchmark::State& state) {
  decompose_bench(state, llama_layer(kPaperLlama), DecomposeMethod::kEinDecomp, true);
}
BENCHMARK(EinDecompWideLlamaLayer8)->Unit(benchmark::kMillisecond);

void DataParallelLlamaLayer8(benchmark::State& state) {
  decompose_bench(state, llama_layer(kPaperLlama), DecomposeMethod::kDataParallel, false);
}
BENCHMARK(DataParallelLlamaLayer8)->Unit(benchmark::kMillisecond);

void EinDecompLlamaTrainingStep8(benchmark::State& state) {
  decompose_bench(state, llama_layer_training_step(kPaperLlama, Adam{}), DecomposeMethod::kEinDecomp, false);
}
BENCHMARK(EinDecompLlamaTrainingStep8)->Unit(benchmark::kMillisecond);

void LowerChainMmTo143kTasks(benchmark::State& state) {
  const EinsumGraph g = chain_mm({.n = 4096, .length = 32});
  std::vector<Partition> parts(g.num_ops());
  for (Partition& p : parts) p.set('i', 16).set('j', 16).set('k', 16);
  std::size_t tasks = 0;
  for (auto _ : state) {
    const LoweredGraph lowered = lower(g, parts);
    tasks = lowered.graph.num_ops();
    benchmark::DoNotOptimize(tasks);
  }
  state.counters["tasks"] = static_cast<double>(tasks);
}
BENCHMARK(LowerChainMmTo143kTasks)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
