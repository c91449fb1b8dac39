// The memory-plan compiler (memory_plan.hpp): one walk over the ops in compile order.
#include "doppler/memory/memory_plan.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>

#include "doppler/error.hpp"
#include "doppler/exec_graph.hpp"
#include "doppler/memory/offset_allocator.hpp"
#include "release_tracker.hpp"

namespace doppler::memory {
namespace {

constexpr std::uint32_t kNever = std::numeric_limits<std::uint32_t>::max();
constexpr std::uint64_t kUnlimited = std::numeric_limits<std::uint64_t>::max() / 4;

std::uint64_t tensor_bytes(const TaskGraph& graph, OpId t) {
  return static_cast<std::uint64_t>(std::ceil(std::max(0.0, graph.op(t).output_bytes)));
}

bool marked(const std::vector<bool>& flags, OpId v) {
  return !flags.empty() && flags[v];
}

std::size_t device_count(const Plan& plan) {
  DeviceId most = 0;
  for (const DeviceId d : plan.device) most = std::max(most, d);
  return plan.device.empty() ? 0 : static_cast<std::size_t>(most) + 1;
}

// A tensor's copy in one arena.
struct Residency {
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
  MemNodeId writer = kNoNode;  // none: a graph input in host memory from the start
  std::vector<MemNodeId> readers;
};

// Thrown inside the compiler when only the placed op's own tensors are left on its device and
// the next allocation still finds no free block.
struct Fragmented {
  OpId op;
};

class Compiler {
 public:
  Compiler(const TaskGraph& graph, const Plan& plan, const MemoryPlanOptions& options)
      : graph_(graph), plan_(plan), options_(options), exec_(ExecGraph::from(graph)) {
    if (plan.device.size() != graph.num_ops())
      throw Error("memory plan: the plan has " + std::to_string(plan.device.size()) + " devices for " +
                  std::to_string(graph.num_ops()) + " ops");
    if (!options.host_input.empty() && options.host_input.size() != graph.num_ops())
      throw Error("memory plan: host_input has the wrong length");
    if (!options.keep.empty() && options.keep.size() != graph.num_ops())
      throw Error("memory plan: keep has the wrong length");
    devices_ = device_count(plan);
    host_input_ = options.host_input;
    keep_.assign(graph.num_ops(), false);
    for (OpId v = 0; v < graph.num_ops(); ++v) {
      keep_[v] = options.keep.empty() ? exec_.successors(v).empty() : bool(options.keep[v]);
      if (marked(host_input_, v) && exec_.in_degree(v) > 0)
        throw Error("memory plan: op '" + graph.op(v).name + "' is marked a host input but has inputs");
    }
  }

  MemoryGraph run() {
    const OffsetAllocator sizing(1, options_.alignment);
    std::uint64_t capacity = options_.budget;
    if (capacity == 0) {
      capacity = sizing.alignment();
      for (OpId v = 0; v < graph_.num_ops(); ++v) capacity += sizing.aligned(tensor_bytes(graph_, v));
    } else {
      const OpNeed need = largest_op_need(graph_, options_);
      if (need.bytes > capacity) {
        throw Error("memory budget of " + std::to_string(capacity) + " bytes per device is below what op '" +
                    graph_.op(need.op).name + "' needs: " + std::to_string(need.bytes) +
                    " bytes (its inputs and output, aligned to " + std::to_string(sizing.alignment()) + ")");
      }
    }
    out_.num_devices = devices_;
    out_.alignment = sizing.alignment();
    out_.budget = capacity - capacity % sizing.alignment();
    out_.planned_peak.assign(devices_, 0);
    for (std::size_t a = 0; a <= devices_; ++a) {
      const bool host = a == devices_;
      arenas_.emplace_back(host ? (options_.host_capacity ? options_.host_capacity : kUnlimited) : capacity,
                           options_.alignment);
    }
    released_.resize(devices_ + 1);
    resident_.resize(devices_ + 1);
    place_host_inputs();
    out_.order = compile_order(graph_, plan_, host_input_, options_.order);
    record_uses();
    for (position_ = 0; position_ < out_.order.size(); ++position_) place(out_.order[position_]);
    record_outputs();
    out_.host_arena_bytes = host_high_;
    return std::move(out_);
  }

 private:
  std::size_t arena(DeviceId d) const { return d == kHostDevice ? devices_ : d; }
  DeviceId home(OpId t) const { return marked(host_input_, t) ? kHostDevice : plan_.device[t]; }
  bool resident(DeviceId d, OpId t) const { return resident_[arena(d)].contains(t); }
  Residency& residency(DeviceId d, OpId t) { return resident_[arena(d)].at(t); }

  void place_host_inputs() {
    for (OpId t = 0; t < graph_.num_ops(); ++t) {
      if (!marked(host_input_, t)) continue;
      const std::uint64_t offset = host_allocate(tensor_bytes(graph_, t), t);
      Residency r{offset, arenas_[devices_].aligned(tensor_bytes(graph_, t)), kNoNode, {}};
      resident_[devices_][t] = r;
      out_.host_inputs.push_back({t, {kHostDevice, r.offset, r.size}});
    }
  }

  void record_uses() {
    uses_.resize(graph_.num_ops());
    for (std::uint32_t p = 0; p < out_.order.size(); ++p) {
      const OpId v = out_.order[p];
      for (const OpId t : exec_.predecessors(v)) uses_[t].push_back({p, plan_.device[v]});
    }
  }

  // The next position after the current one at which the copy of t on d is needed: by an op on d,
  // or (d being t's home and the host holding no copy) by an op on a device without its own copy.
  std::uint32_t next_use(OpId t, DeviceId d) const {
    const auto& uses = uses_[t];
    auto it = std::upper_bound(uses.begin(), uses.end(),
                               std::pair<std::uint32_t, DeviceId>{position_, kHostDevice});
    const bool source = d == home(t) && !resident(kHostDevice, t);
    for (; it != uses.end(); ++it) {
      if (it->second == d) return it->first;
      if (source && !resident(it->second, t)) return it->first;
    }
    return kNever;
  }
  bool used_after(OpId t) const {
    const auto& uses = uses_[t];
    return !uses.empty() && uses.back().first > position_;
  }

  MemNodeId emit(MemNode node) {
    const auto id = static_cast<MemNodeId>(out_.nodes.size());
    auto& deps = node.deps;
    deps.erase(std::remove(deps.begin(), deps.end(), kNoNode), deps.end());
    std::sort(deps.begin(), deps.end());
    deps.erase(std::unique(deps.begin(), deps.end()), deps.end());
    out_.nodes.push_back(std::move(node));
    return id;
  }

  std::uint64_t host_allocate(std::uint64_t bytes, OpId t) {
    const auto offset = arenas_[devices_].allocate(bytes);
    if (!offset) {
      throw Error("memory plan: the host arena of " + std::to_string(arenas_[devices_].capacity()) +
                  " bytes has no room for tensor '" + graph_.op(t).name + "' (" + std::to_string(bytes) +
                  " bytes)");
    }
    host_high_ = std::max(host_high_, *offset + arenas_[devices_].aligned(bytes));
    return *offset;
  }

  // Releases t's copy on d: a free node (or `by`, an evict that already released it).
  void release(DeviceId d, OpId t, MemNodeId by = kNoNode) {
    Residency& r = residency(d, t);
    if (by == kNoNode) {
      MemNode node;
      node.kind = MemNodeKind::kFree;
      node.tensor = t;
      node.region = {d, r.offset, r.size};
      node.deps = r.readers;
      node.deps.push_back(r.writer);
      by = emit(std::move(node));
    }
    arenas_[arena(d)].release(r.offset, r.size);
    released_[arena(d)].set(r.offset, r.size, by);
    resident_[arena(d)].erase(t);
  }

  // Clears a contiguous range of d large enough for `bytes` (aligned): the window of neighbouring
  // free blocks and unpinned copies, covering `bytes`, whose copies are needed again latest (the
  // soonest next use among them is the furthest; a window of free blocks and dead copies best),
  // ties: the fewest bytes to drop or evict. Its copies are dropped or evicted. False when every
  // such window holds a pinned copy.
  bool clear_window(DeviceId d, std::uint64_t bytes, const std::set<OpId>& pinned) {
    struct Segment {
      std::uint64_t offset = 0, size = 0;
      OpId tensor = kNoOp;       // kNoOp: a free block
      std::uint64_t needed = 0;  // the copy's next use; kNever + 1 when dead or a free block
    };
    std::vector<Segment> segments;
    for (const auto& [offset, size] : arenas_[d].free_blocks())
      segments.push_back({offset, size, kNoOp, std::uint64_t{kNever} + 1});
    for (const auto& [t, r] : resident_[d]) {
      const std::uint32_t next = next_use(t, d);
      const bool dead = next == kNever && !keep_[t];
      segments.push_back({r.offset, r.size, t, dead ? std::uint64_t{kNever} + 1 : next});
    }
    std::sort(segments.begin(), segments.end(),
              [](const Segment& a, const Segment& b) { return a.offset < b.offset; });
    const std::uint64_t size = arenas_[d].aligned(bytes);
    std::optional<std::pair<std::size_t, std::size_t>> chosen;  // [first, last)
    std::pair<std::uint64_t, std::int64_t> best{};  // (soonest next use, -bytes dropped or evicted)
    for (std::size_t first = 0; first < segments.size(); ++first) {
      std::uint64_t span = 0, dropped = 0, soonest = std::uint64_t{kNever} + 1;
      std::size_t last = first;
      for (; last < segments.size() && span < size; ++last) {
        const Segment& s = segments[last];
        if (s.offset != segments[first].offset + span || pinned.contains(s.tensor)) break;
        span += s.size;
        if (s.needed > kNever) continue;
        soonest = std::min(soonest, s.needed);
        dropped += s.size;
      }
      if (span < size) continue;
      const std::pair<std::uint64_t, std::int64_t> score{soonest, -static_cast<std::int64_t>(dropped)};
      if (!chosen || score > best) {
        chosen = {first, last};
        best = score;
      }
    }
    if (!chosen) return false;
    for (std::size_t k = chosen->first; k < chosen->second; ++k) {
      const Segment& s = segments[k];
      if (s.tensor != kNoOp) evict_or_drop(d, s.tensor, s.needed <= kNever);
    }
    return true;
  }

  // Removes t's copy from d: a free when it is not `needed` or the host holds a copy, else an evict.
  void evict_or_drop(DeviceId d, OpId t, bool needed) {
    if (!needed || resident(kHostDevice, t)) {
      release(d, t);
      return;
    }
    Residency& r = residency(d, t);
    const std::uint64_t bytes = tensor_bytes(graph_, t);
    const std::uint64_t host_offset = host_allocate(bytes, t);
    const std::uint64_t host_size = arenas_[devices_].aligned(bytes);
    MemNode node;
    node.kind = MemNodeKind::kEvict;
    node.tensor = t;
    node.region = {d, r.offset, r.size};
    node.source = {kHostDevice, host_offset, host_size};
    node.bytes = static_cast<double>(bytes);
    node.deps = r.readers;
    node.deps.push_back(r.writer);
    for (const MemNodeId n : released_[devices_].over(host_offset, host_size)) node.deps.push_back(n);
    const MemNodeId evict = emit(std::move(node));
    release(d, t, evict);
    resident_[devices_][t] = Residency{host_offset, host_size, evict, {}};
  }

  // A free range of d for `bytes` whose last release is the oldest (never-used memory first; ties:
  // the lowest offset), so that its alloc waits for as little as possible and loads into it can
  // start early. Candidates: both ends of every free block large enough. nullopt when none fits.
  std::optional<std::uint64_t> allocate_least_recently_released(DeviceId d, std::uint64_t bytes) {
    const std::uint64_t size = arenas_[d].aligned(bytes);
    std::optional<std::uint64_t> chosen;
    std::int64_t chosen_release = 0;
    for (const auto& [begin, length] : arenas_[d].free_blocks()) {
      if (length < size) continue;
      for (const std::uint64_t offset : {begin, begin + length - size}) {
        const std::vector<MemNodeId> released = released_[d].over(offset, size);
        const std::int64_t last = released.empty() ? -1 : static_cast<std::int64_t>(released.back());
        if (!chosen || last < chosen_release) {
          chosen = offset;
          chosen_release = last;
        }
      }
    }
    if (chosen) arenas_[d].allocate_at(*chosen, bytes);
    return chosen;
  }

  // Allocates t's bytes on d (evicting when forced) and emits the alloc node.
  std::pair<Residency, MemNodeId> allocate(DeviceId d, OpId t, const std::set<OpId>& pinned, OpId for_op) {
    const std::uint64_t bytes = tensor_bytes(graph_, t);
    std::optional<std::uint64_t> offset;
    while (!(offset = allocate_least_recently_released(d, bytes))) {
      if (!clear_window(d, bytes, pinned)) throw Fragmented{for_op};
    }
    out_.planned_peak[d] = std::max(out_.planned_peak[d], arenas_[d].used());
    Residency r{*offset, arenas_[d].aligned(bytes), kNoNode, {}};
    MemNode node;
    node.kind = MemNodeKind::kAlloc;
    node.tensor = t;
    node.region = {d, r.offset, r.size};
    node.deps = released_[d].over(r.offset, r.size);
    r.writer = emit(std::move(node));  // until the region is written, releasing it waits for the alloc
    return {r, r.writer};
  }

  // Brings t to d for op `for_op`: a copy from a device holding it (its home first), else a load.
  void acquire(OpId t, DeviceId d, const std::set<OpId>& pinned, OpId for_op) {
    auto [r, alloc] = allocate(d, t, pinned, for_op);
    MemNode node;
    node.tensor = t;
    node.region = {d, r.offset, r.size};
    node.bytes = static_cast<double>(tensor_bytes(graph_, t));
    DeviceId source = kHostDevice;
    if (home(t) != kHostDevice && resident(home(t), t)) {
      source = home(t);
    } else if (!resident(kHostDevice, t)) {
      for (DeviceId s = 0; s < devices_ && source == kHostDevice; ++s)
        if (resident(s, t)) source = s;
      if (source == kHostDevice)
        throw std::logic_error("memory plan: tensor '" + graph_.op(t).name + "' is nowhere to copy from");
    }
    Residency& from = residency(source, t);
    node.kind = source == kHostDevice ? MemNodeKind::kLoad : MemNodeKind::kCopy;
    node.source = {source, from.offset, from.size};
    node.deps = {alloc, from.writer};
    const MemNodeId id = emit(std::move(node));
    residency(source, t).readers.push_back(id);
    r.writer = id;
    resident_[d][t] = r;
  }

  // The output's alloc node, after every input and then the output are on v's device (inputs
  // first: their loads take the memory released longest ago and can start earliest; the output is
  // written only once they are in). When the operands already there fragment memory so that the
  // rest does not fit, every tensor leaves the device (operands evicted, or dropped when the host
  // has them) and the op starts over on an empty device, where its need (at most the budget) always
  // fits.
  MemNodeId bring_operands(OpId v) {
    const DeviceId d = plan_.device[v];
    const auto inputs = exec_.predecessors(v);
    std::set<OpId> pinned(inputs.begin(), inputs.end());
    pinned.insert(v);
    for (int attempt = 0;; ++attempt) {
      try {
        for (const OpId t : inputs) {
          if (!resident(d, t)) acquire(t, d, pinned, v);
        }
        auto [output, alloc] = allocate(d, v, pinned, v);
        resident_[d][v] = output;
        return alloc;
      } catch (const Fragmented&) {
        if (attempt > 0) throw std::logic_error("memory plan: an empty device cannot hold an op's need");
        while (!resident_[d].empty()) {
          const OpId t = resident_[d].begin()->first;
          const bool needed = t == v ? false : (pinned.contains(t) || next_use(t, d) != kNever || keep_[t]);
          evict_or_drop(d, t, needed);
        }
      }
    }
  }

  void place(OpId v) {
    const DeviceId d = plan_.device[v];
    const auto inputs = exec_.predecessors(v);
    const MemNodeId alloc = bring_operands(v);
    MemNode node;
    node.kind = MemNodeKind::kOp;
    node.tensor = v;
    const Residency& output = residency(d, v);
    node.region = {d, output.offset, output.size};
    node.deps.push_back(alloc);
    for (const OpId t : inputs) {
      const Residency& r = residency(d, t);
      node.operands.push_back({t, {d, r.offset, r.size}});
      node.deps.push_back(r.writer);
    }
    const MemNodeId op = emit(std::move(node));
    for (const OpId t : inputs) residency(d, t).readers.push_back(op);
    residency(d, v).writer = op;
    for (const OpId t : inputs) {
      if (keep_[t]) continue;
      if (!used_after(t)) {
        for (DeviceId s = 0; s < devices_; ++s)
          if (resident(s, t)) release(s, t);
        if (resident(kHostDevice, t) && !marked(host_input_, t)) release(kHostDevice, t);
      } else if (resident(d, t) && next_use(t, d) == kNever) {
        release(d, t);
      }
    }
    if (!keep_[v] && uses_[v].empty()) release(d, v);
  }

  void record_outputs() {
    for (OpId t = 0; t < graph_.num_ops(); ++t) {
      if (!keep_[t] || marked(host_input_, t)) continue;
      DeviceId where = kHostDevice;
      if (resident(home(t), t)) {
        where = home(t);
      } else {
        for (DeviceId s = 0; s < devices_ && where == kHostDevice; ++s)
          if (resident(s, t)) where = s;
      }
      const Residency& r = residency(where, t);
      out_.outputs.push_back({t, {where, r.offset, r.size}});
    }
  }

  const TaskGraph& graph_;
  const Plan& plan_;
  const MemoryPlanOptions& options_;
  ExecGraph exec_;
  std::size_t devices_ = 0;
  std::vector<bool> host_input_, keep_;
  std::vector<OffsetAllocator> arenas_;  // devices, then the host arena
  std::vector<ReleaseTracker> released_;
  std::vector<std::map<OpId, Residency>> resident_;
  std::vector<std::vector<std::pair<std::uint32_t, DeviceId>>> uses_;  // per tensor: (position, device)
  std::uint32_t position_ = 0;
  std::uint64_t host_high_ = 0;
  MemoryGraph out_;
};

}  // namespace

MemoryGraph compile_memory_graph(const TaskGraph& graph, const Plan& plan, const MemoryPlanOptions& options) {
  return Compiler(graph, plan, options).run();
}

OpNeed largest_op_need(const TaskGraph& graph, const MemoryPlanOptions& options) {
  const OffsetAllocator sizing(1, options.alignment);
  OpNeed most;
  for (OpId v = 0; v < graph.num_ops(); ++v) {
    if (marked(options.host_input, v)) continue;
    std::uint64_t need = sizing.aligned(tensor_bytes(graph, v));
    for (const OpId t : graph.predecessors(v)) need += sizing.aligned(tensor_bytes(graph, t));
    if (most.op == kNoOp || need > most.bytes) most = {v, need};
  }
  return most;
}

std::uint64_t working_set_bytes(const TaskGraph& graph, const Plan& plan, MemoryPlanOptions options) {
  options.budget = 0;
  const MemoryGraph unlimited = compile_memory_graph(graph, plan, options);
  std::uint64_t most = 0;
  for (const std::uint64_t peak : unlimited.planned_peak) most = std::max(most, peak);
  return most;
}

MemoryGraph with_fixed_order(MemoryGraph graph) {
  std::map<std::pair<int, std::uint64_t>, MemNodeId> last;  // resource -> its latest node
  for (MemNodeId id = 0; id < graph.nodes.size(); ++id) {
    MemNode& node = graph.nodes[id];
    std::pair<int, std::uint64_t> resource;
    switch (node.kind) {
      case MemNodeKind::kOp:
        resource = {0, node.region.device};
        break;
      case MemNodeKind::kLoad:
        resource = {1, node.region.device};
        break;
      case MemNodeKind::kEvict:
        resource = {2, node.region.device};
        break;
      case MemNodeKind::kCopy:
        resource = {3, std::uint64_t{node.source.device} * graph.num_devices + node.region.device};
        break;
      default:
        continue;
    }
    const auto previous = last.find(resource);
    if (previous != last.end() && !std::binary_search(node.deps.begin(), node.deps.end(), previous->second)) {
      node.deps.insert(std::upper_bound(node.deps.begin(), node.deps.end(), previous->second),
                       previous->second);
    }
    last[resource] = id;
  }
  graph.fixed_order = true;
  return graph;
}

}  // namespace doppler::memory
