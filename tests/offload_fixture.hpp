#pragma once
// Test helper: a lowered einsum workload ready for a memory plan: decomposed for `devices`, every
// task on a seeded random device, graph inputs in host memory, output blocks kept.
#include <random>

#include "doppler/einsum/decomposition.hpp"
#include "doppler/einsum/memory_graph_executor.hpp"
#include "doppler/memory/memory_plan.hpp"

namespace doppler::test_support {

struct Offload {
  einsum::EinsumGraph graph;
  einsum::LoweredGraph lowered{TaskGraph("lowered"), {}, {}};
  Plan plan;
  memory::MemoryPlanOptions options;
};

inline Offload prepare_offload(einsum::EinsumGraph graph, int devices, std::uint64_t seed) {
  Offload o;
  o.graph = std::move(graph);
  o.lowered = einsum::lower(
      o.graph, einsum::decompose(o.graph, einsum::DecomposeOptions{.devices = devices}).partitions);
  std::mt19937_64 rng(seed);
  for (OpId v = 0; v < o.lowered.graph.num_ops(); ++v)
    o.plan.device.push_back(static_cast<DeviceId>(rng() % static_cast<std::uint64_t>(devices)));
  o.options.host_input = einsum::load_tasks(o.lowered);
  o.options.keep = einsum::output_blocks(o.graph, o.lowered);
  return o;
}

}  // namespace doppler::test_support
