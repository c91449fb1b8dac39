#pragma once
// Contract: the resource a memory-graph node holds, as the memory-graph simulator numbers them and
// the fits of measured runs read them: on a graph of n devices, device d's compute is d, its
// host->device link n + d, its device->host link 2n + d, the directed link s -> d 3n + s n + d.
// alloc and free are instant and hold none (kNoResource).
#include <cstddef>

#include "doppler/memory/memory_graph.hpp"

namespace doppler::sim {

inline constexpr std::size_t kNoResource = static_cast<std::size_t>(-1);

inline std::size_t memory_node_resource(const memory::MemNode& node, std::size_t devices) {
  switch (node.kind) {
    case memory::MemNodeKind::kOp:
      return node.region.device;
    case memory::MemNodeKind::kLoad:
      return devices + node.region.device;
    case memory::MemNodeKind::kEvict:
      return 2 * devices + node.region.device;
    case memory::MemNodeKind::kCopy:
      return 3 * devices + node.source.device * devices + node.region.device;
    default:
      return kNoResource;
  }
}

}  // namespace doppler::sim
