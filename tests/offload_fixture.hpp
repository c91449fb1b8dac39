#pragma once
// Test helper: a lowered einsum workload ready for a memory plan: decomposed for `devices` (and
// lowered with an aggregate fan-in when given), every
// task on a seeded random device, graph inputs in host memory, output blocks kept; and its plan
// options under a budget given as a share of the working set.
#include <algorithm>
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

inline Offload prepare_offload(einsum::EinsumGraph graph, int devices, std::uint64_t seed,
                               int aggregate_fan_in = 0) {
  Offload o;
  o.graph = std::move(graph);
  o.lowered = einsum::lower(
      o.graph, einsum::decompose(o.graph, einsum::DecomposeOptions{.devices = devices}).partitions,
      aggregate_fan_in);
  std::mt19937_64 rng(seed);
  for (OpId v = 0; v < o.lowered.graph.num_ops(); ++v)
    o.plan.device.push_back(static_cast<DeviceId>(rng() % static_cast<std::uint64_t>(devices)));
  o.options.host_input = einsum::load_tasks(o.lowered);
  o.options.keep = einsum::output_blocks(o.graph, o.lowered);
  return o;
}

// o's plan options in `order` with a budget of `fraction` of its working set (at least the largest
// op's need; above 1: unlimited, 0); `working_set` receives the working set.
inline memory::MemoryPlanOptions budgeted_options(const Offload& o, double fraction,
                                                  memory::CompileOrder order, std::uint64_t& working_set) {
  memory::MemoryPlanOptions options = o.options;
  options.order = order;
  const std::uint64_t need = memory::largest_op_need(o.lowered.graph, options).bytes;
  working_set = memory::working_set_bytes(o.lowered.graph, o.plan, options);
  options.budget =
      fraction > 1 ? 0
                   : std::max(need, static_cast<std::uint64_t>(static_cast<double>(working_set) * fraction));
  return options;
}

}  // namespace doppler::test_support
