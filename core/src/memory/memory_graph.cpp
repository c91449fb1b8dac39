#include "doppler/memory/memory_graph.hpp"

namespace doppler::memory {

std::optional<TraceRecord> node_trace_record(const MemNode& node, double start, double end, int stream) {
  TraceRecord r;
  r.op = node.tensor;
  r.start = start;
  r.end = end;
  switch (node.kind) {
    case MemNodeKind::kOp:
      r.kind = TraceRecord::Kind::compute;
      r.device = node.region.device;
      r.stream = stream;
      return r;
    case MemNodeKind::kLoad:
      r.src = kHostDevice;
      r.device = node.region.device;
      break;
    case MemNodeKind::kEvict:
      r.src = node.region.device;
      r.device = kHostDevice;
      break;
    case MemNodeKind::kCopy:
      r.src = node.source.device;
      r.device = node.region.device;
      break;
    default:
      return std::nullopt;
  }
  r.kind = TraceRecord::Kind::transfer;
  r.bytes = node.bytes;
  return r;
}

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
