#pragma once
// Contract: the host side of blocks on the GPU, shared by the executors: a load task's block of a
// tensor's input values (einsum::lowered_input_values) gathered and converted to the tensor's
// dtype, every load block staged once in pinned memory, a block read back from the GPU placed into
// its tensor, and the box of a whole tensor (for box_copy).
#include <cstddef>
#include <cstdint>
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

// Decodes task u's output block (`bytes`, its element type) and copies it into `tensor` (the whole
// tensor, row-major over `box`); `scratch` holds the decoded block.
void place_output_block(const einsum::LoweredGraph& lowered, const TaskKernels& kernels, OpId u,
                        const std::byte* bytes, const std::vector<einsum::Range>& box,
                        std::vector<float>& scratch, std::vector<float>& tensor);

}  // namespace doppler::hw
