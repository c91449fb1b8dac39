// Google Benchmark of the simulator hot path (Simulator::makespan on random placements, as an RL
// trainer calls it). `doppler bench sim` reports the same figures from the CLI; docs/PERFORMANCE.md
// records both. Run: build/tools/bench/doppler_sim_bench --benchmark_min_time=1
#include <benchmark/benchmark.h>

#include <random>

#include "doppler/paper_graph_format.hpp"
#include "doppler/random_dag.hpp"
#include "doppler/sim/simulator.hpp"

namespace {

using doppler::DeviceId;

const std::string kPaper = std::string(DOPPLER_SOURCE_DIR) + "/configs/workloads/doppler-paper/";

std::vector<std::vector<DeviceId>> random_placements(std::size_t ops, std::size_t devices,
                                                     std::size_t count) {
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<DeviceId> pick(0, static_cast<DeviceId>(devices - 1));
  std::vector<std::vector<DeviceId>> placements(count, std::vector<DeviceId>(ops));
  for (auto& p : placements)
    for (auto& d : p) d = pick(rng);
  return placements;
}

void run(benchmark::State& state, const doppler::TaskGraph& graph, const doppler::Machine& machine,
         doppler::sim::CostModelKind model) {
  doppler::sim::Simulator simulator(graph, machine, model);
  const auto placements = random_placements(graph.num_ops(), machine.num_devices(), 256);
  std::size_t i = 0;
  std::uint64_t events = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(simulator.makespan(placements[i++ % placements.size()]));
    events += simulator.last_events();
  }
  state.counters["events/s"] = benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
  state.counters["events/placement"] = static_cast<double>(events) / static_cast<double>(state.iterations());
}

void PaperModelLlamaLayer4(benchmark::State& state) {
  const auto graph = doppler::read_paper_graph(kPaper + "full_transformer_layer_261nodes.txt");
  run(state, graph, doppler::abstract_machine(4), doppler::sim::CostModelKind::paper);
}
BENCHMARK(PaperModelLlamaLayer4)->Unit(benchmark::kMicrosecond);

void RooflineModelLlamaLayer4(benchmark::State& state) {
  const auto graph = doppler::read_paper_graph(kPaper + "full_transformer_layer_261nodes.txt");
  run(state, graph, doppler::abstract_machine(4), doppler::sim::CostModelKind::roofline);
}
BENCHMARK(RooflineModelLlamaLayer4)->Unit(benchmark::kMicrosecond);

void PaperModelRandom100k8(benchmark::State& state) {
  const auto graph = doppler::random_dag({.num_ops = 100000, .mean_fan_in = 2.0, .seed = 7});
  run(state, graph, doppler::abstract_machine(8), doppler::sim::CostModelKind::paper);
}
BENCHMARK(PaperModelRandom100k8)->Unit(benchmark::kMillisecond);

void RooflineModelRandom100k8(benchmark::State& state) {
  const auto graph = doppler::random_dag({.num_ops = 100000, .mean_fan_in = 2.0, .seed = 7});
  run(state, graph, doppler::abstract_machine(8), doppler::sim::CostModelKind::roofline);
}
BENCHMARK(RooflineModelRandom100k8)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
