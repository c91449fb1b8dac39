#include "doppler/memory/memory_graph.hpp"

namespace doppler::memory {

const char* mem_node_kind_name(MemNodeKind kind) {
  switch (kind) {
    case MemNodeKind::kAlloc:
      return "alloc";
    case MemNodeKind::kFree:
      return "free";
    case MemNodeKind::kOp:
      return "op";
    case MemNodeKind::kCopy:
      return "copy";
    case MemNodeKind::kLoad:
      return "load";
    case MemNodeKind::kEvict:
      return "evict";
  }
  return "?";
}

double MemoryGraph::bytes_of(MemNodeKind kind) const {
  double bytes = 0;
  for (const MemNode& node : nodes)
    if (node.kind == kind) bytes += node.bytes;
  return bytes;
}

std::size_t MemoryGraph::count(MemNodeKind kind) const {
  std::size_t n = 0;
  for (const MemNode& node : nodes) n += node.kind == kind;
  return n;
}

}  // namespace doppler::memory
