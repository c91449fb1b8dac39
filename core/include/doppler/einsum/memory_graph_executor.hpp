#pragma once
// Contract: runs a MemoryGraph (memory/memory_graph.hpp) compiled from a lowered einsum graph on
// the CPU with REAL buffers: one arena of `budget` slots per device and one host arena, every
// tensor block stored at its region's offset (one slot per byte of the region, so a block of e
// elements fits any region of >= e bytes). The load tasks' blocks start in the host arena; alloc
// and free poison their region with NaN, evict poisons the device region after copying; ops run
// the lowered executor's kernels (lowering.hpp) on the blocks read from their operand regions.
// Nodes run in index order, or with `order_seed` != 0 in a seeded random order that respects the
// dependency edges: a missing edge then shows up as wrong values. Returns the values of the einsum
// graph's output tensors (others empty), assembled from the kept blocks where `outputs` says.
#include <cstdint>
#include <vector>

#include "doppler/einsum/lowering.hpp"
#include "doppler/einsum/reference_executor.hpp"
#include "doppler/memory/memory_graph.hpp"

namespace doppler::einsum {

// Per task: true for the load tasks (graph inputs and parameters, held in host memory).
std::vector<bool> load_tasks(const LoweredGraph& lowered);
// Per task: true for the final blocks of the einsum graph's outputs (they must survive the run).
std::vector<bool> output_blocks(const EinsumGraph& graph, const LoweredGraph& lowered);

template <typename T>
std::vector<std::vector<T>> run_memory_graph_on_cpu(const EinsumGraph& graph, const LoweredGraph& lowered,
                                                    const memory::MemoryGraph& memory_graph,
                                                    const ReferenceOptions& values = {},
                                                    std::uint64_t order_seed = 0);

}  // namespace doppler::einsum
