#pragma once
// Contract: a MEMORY GRAPH (TURNIP, arXiv 2405.16283): the value a memory plan compiles to. Nodes:
//  alloc   reserve `region` on a device (instant);
//  free    release `region` (instant) once the tensor's writer and every reader are done;
//  op      run task-graph op `tensor` on `region.device`, reading `operands`, writing `region`;
//  copy    device -> device: the tensor from `source` (a device region) into `region`;
//  load    host -> device: from `source` (a host-arena region) into `region`;
//  evict   device -> host: `region` into `source` (a host-arena region), then releases `region`.
// Every node lists the nodes it waits for in `deps`, including memory-reuse edges: an alloc (or an
// evict's host region) waits for whatever last released an overlapping region. `nodes` is a
// topological order (every dep has a smaller index); the graph leaves any other order free. A
// device region lies in [0, budget); host regions in the host arena (device kHostDevice). Sizes
// are aligned; `bytes` is the data a copy/load/evict moves.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "doppler/machine.hpp"
#include "doppler/task_graph.hpp"
#include "doppler/trace.hpp"

namespace doppler::memory {

using MemNodeId = std::uint32_t;
inline constexpr MemNodeId kNoNode = static_cast<MemNodeId>(-1);

enum class MemNodeKind : std::uint8_t { kAlloc, kFree, kOp, kCopy, kLoad, kEvict };
const char* mem_node_kind_name(MemNodeKind kind);  // "alloc", "free", "op", "copy", "load", "evict"

struct MemRegion {
  DeviceId device = 0;  // kHostDevice for the host arena
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
  std::uint64_t end() const { return offset + size; }
  bool overlaps(const MemRegion& other) const {
    return device == other.device && offset < other.end() && other.offset < end();
  }
};

struct MemOperand {
  OpId tensor = kNoOp;  // the producing op of the operand
  MemRegion region;     // where the op reads it (on the op's device)
};

struct MemNode {
  MemNodeKind kind = MemNodeKind::kAlloc;
  OpId tensor = kNoOp;  // op: the op run; others: the producer of the tensor the node concerns
  MemRegion region;     // see the kinds above
  MemRegion source;     // copy: source device region; load: host region read; evict: host region written
  double bytes = 0;     // copy / load / evict: bytes moved
  std::vector<MemOperand> operands;  // op: one per distinct input
  std::vector<MemNodeId> deps;       // distinct, each < this node's index
};

// Where a tensor that must survive the run (a graph output) ends up.
struct MemPlacement {
  OpId tensor = kNoOp;
  MemRegion region;
};

struct MemoryGraph {
  std::size_t num_devices = 0;
  std::uint64_t budget = 0;     // bytes per device
  std::uint64_t alignment = 1;  // of every region
  std::vector<MemNode> nodes;
  std::vector<OpId> order;                  // the compile order of the ops run
  std::vector<MemPlacement> host_inputs;    // graph inputs, in the host arena at the start
  std::vector<MemPlacement> outputs;        // kept tensors at the end (on a device or the host)
  std::vector<std::uint64_t> planned_peak;  // per device: most bytes allocated at once in `order`
  std::uint64_t host_arena_bytes = 0;       // end of the highest host region used
  bool fixed_order = false;                 // chain edges impose one order per resource

  double bytes_of(MemNodeKind kind) const;  // summed `bytes` of that kind's nodes
  std::size_t count(MemNodeKind kind) const;
};

// The trace row of a node that ran from `start` to `end`: an op is a compute row on its device
// (`stream`), a load / evict / copy a transfer row (host = kHostDevice) with its bytes; alloc and
// free have none. Shared by the simulator and the GPU runner's measured runs.
std::optional<TraceRecord> node_trace_record(const MemNode& node, double start, double end, int stream = 0);

}  // namespace doppler::memory
