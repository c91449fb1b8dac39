#pragma once
// Contract: the MEMORY PLAN COMPILER (TURNIP): task graph + plan + per-device budget -> MemoryGraph
// (memory_graph.hpp). It walks the ops in a compile order (compile_order.hpp) and for each op, on
// its plan device: brings every input there (a copy from the device holding it, else a load from
// the host), allocates its output (inputs first: their loads take the memory released longest ago
// and can start earliest), runs it, then frees every input it was the last consumer of on that
// device. Memory is allocated ahead while it is free (an allocation of never-used or long-released
// memory waits for nothing, so loads prefetch); eviction happens only when an allocation fails: it
// clears the contiguous window of free blocks and resident copies, large enough for the request,
// whose copies are needed again latest (furthest next use first, as Belady; never an operand or the
// output of the op being placed; ties: fewest bytes), so fragmentation does not force extra
// evictions. A copy that is dead there or already has a host copy is freed, not written back. A
// device region is placed where the last release is oldest (never-used memory first), so its alloc
// waits for as little as possible. A consumer on another device gets its own copy, which occupies
// memory there.
// Graph inputs marked `host_input` start in the host arena and are loaded; `keep` tensors (default:
// ops without successors) survive to the end. A budget below what one op needs (inputs + output)
// throws a doppler::Error naming the op and the bytes it needs.
#include <cstdint>
#include <vector>

#include "doppler/memory/compile_order.hpp"
#include "doppler/memory/memory_graph.hpp"
#include "doppler/plan.hpp"
#include "doppler/task_graph.hpp"

namespace doppler::memory {

struct MemoryPlanOptions {
  std::uint64_t budget = 0;  // bytes per device; 0 = unlimited (no eviction ever)
  std::uint64_t alignment = 256;
  std::uint64_t host_capacity = 0;  // host arena bytes; 0 = unlimited
  CompileOrder order = CompileOrder::kPlan;
  std::vector<bool> host_input;  // per op, or empty: graph inputs held in host memory
  std::vector<bool> keep;        // per op, or empty (= ops without successors)
};

MemoryGraph compile_memory_graph(const TaskGraph& graph, const Plan& plan, const MemoryPlanOptions& options);

// The same graph with chain edges: per resource (a device's compute, its host->device and
// device->host links, each device->device link) its nodes run in index order.
MemoryGraph with_fixed_order(MemoryGraph graph);

// The working set: the most bytes one device holds at once when the ops run in compile order with
// unlimited memory (the planned peak of such a compile). A budget of this many bytes may still
// evict a little when memory fragments.
std::uint64_t working_set_bytes(const TaskGraph& graph, const Plan& plan, MemoryPlanOptions options);

// The most bytes one op needs at once (its distinct inputs + output, aligned) and that op.
struct OpNeed {
  OpId op = kNoOp;
  std::uint64_t bytes = 0;
};
OpNeed largest_op_need(const TaskGraph& graph, const MemoryPlanOptions& options);

}  // namespace doppler::memory
