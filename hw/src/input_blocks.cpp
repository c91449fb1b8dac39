#include "input_blocks.hpp"

#include <string>

#include "doppler/error.hpp"
#include "elements.hpp"
#include "strided_copy.hpp"

namespace doppler::hw {

std::vector<einsum::Range> whole_box(const std::vector<std::int64_t>& dims) {
  std::vector<einsum::Range> box;
  for (const std::int64_t n : dims) box.push_back(einsum::Range{0, n});
  return box;
}

void encode_input_block(const einsum::EinsumGraph& graph, const einsum::TaskInfo& info,
                        const std::vector<float>& values, std::byte* out) {
  const einsum::Tensor& tensor = graph.tensor(info.tensor);
  std::vector<float> block(static_cast<std::size_t>(einsum::elements_of(info.ranges)));
  if (auto copy = box_copy(whole_box(tensor.dims), info.ranges))
    run_copy_on_host(*copy, values.data(), block.data());
  encode(block, elem_type(tensor.dtype), out);
}

std::vector<const std::byte*> stage_load_blocks(const einsum::EinsumGraph& graph,
                                                const einsum::LoweredGraph& lowered,
                                                const TaskKernels& kernels,
                                                const einsum::ReferenceOptions& options, DeviceSet& devices) {
  std::size_t bytes = 0;
  for (OpId u = 0; u < lowered.tasks.size(); ++u)
    if (lowered.tasks[u].role == einsum::TaskRole::kLoad) bytes += align_up(kernels.output_bytes(u));
  std::byte* pinned = devices.allocate_pinned(bytes);
  std::vector<const std::byte*> blocks(lowered.tasks.size(), nullptr);
  std::vector<std::vector<float>> values(graph.num_tensors());
  for (OpId u = 0; u < lowered.tasks.size(); ++u) {
    const einsum::TaskInfo& info = lowered.tasks[u];
    if (info.role != einsum::TaskRole::kLoad) continue;
    if (values[info.tensor].empty())
      values[info.tensor] = einsum::lowered_input_values<float>(graph, info.tensor, options);
    encode_input_block(graph, info, values[info.tensor], pinned);
    blocks[u] = pinned;
    pinned += align_up(kernels.output_bytes(u));
  }
  return blocks;
}

std::vector<float> assemble_tensor(const einsum::EinsumGraph& graph, const einsum::LoweredGraph& lowered,
                                   const TaskKernels& kernels, einsum::TensorId t, const ReadBlock& read) {
  const einsum::Tensor& tensor = graph.tensor(t);
  const std::vector<einsum::Range> box = whole_box(tensor.dims);
  std::vector<float> values(static_cast<std::size_t>(tensor.elements()));
  std::vector<std::byte> bytes;
  std::vector<float> block;
  for (const OpId u : lowered.tensors[t].tasks) {
    bytes.resize(kernels.output_bytes(u));
    if (!read(u, bytes.data())) continue;
    const ElemType type = kernels.output_type(u);
    block.resize(bytes.size() / elem_bytes(type));
    decode(bytes.data(), type, block);
    if (auto copy = box_copy(lowered.tasks[u].ranges, box))
      run_copy_on_host(*copy, block.data(), values.data());
  }
  return values;
}

}  // namespace doppler::hw
