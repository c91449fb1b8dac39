#pragma once
// Contract: the host side of blocks on the GPU, shared by the executors: a load task's block of a
// tensor's input values (einsum::lowered_input_values) gathered and converted to the tensor's
// dtype, every load block staged once in pinned memory, a tensor assembled from the blocks read
// back from the GPU, and the box of a whole tensor (for box_copy).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "device_set.hpp"
#include "doppler/einsum/lowering.hpp"
#include "doppler/einsum/reference_executor.hpp"
#include "task_kernels.hpp"

namespace doppler::hw {

std::vector<einsum::Range> whole_box(const std::vector<std::int64_t>& dims);

// Writes the block of `info` (a load task of tensor info.tensor) from `values` (the whole tensor)
// at `out`, in the tensor's dtype.
void encode_input_block(const einsum::EinsumGraph& graph, const einsum::TaskInfo& info,
                        const std::vector<float>& values, std::byte* out);

// Every load task's block, converted, in one pinned allocation of `devices` (blocks aligned to
// kArenaAlign); by op, null for other tasks.
std::vector<const std::byte*> stage_load_blocks(const einsum::EinsumGraph& graph,
                                                const einsum::LoweredGraph& lowered,
                                                const TaskKernels& kernels,
                                                const einsum::ReferenceOptions& options, DeviceSet& devices);

// Tensor t (row-major, float) from its blocks: `read(u, bytes)` copies block u (output_bytes(u),
// in its element type) into `bytes`, or returns false when the block is not held here (its
// elements stay 0); each block read is decoded and placed at its ranges.
using ReadBlock = std::function<bool(OpId, std::byte*)>;
std::vector<float> assemble_tensor(const einsum::EinsumGraph& graph, const einsum::LoweredGraph& lowered,
                                   const TaskKernels& kernels, einsum::TensorId t, const ReadBlock& read);

}  // namespace doppler::hw
