#include "doppler/sim/memory_graph_engine.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <queue>
#include <stdexcept>
#include <string>

#include "doppler/sim/event_queue.hpp"
#include "memory_resources.hpp"

namespace doppler::sim {
namespace {

using memory::MemNode;
using memory::MemNodeId;
using memory::MemNodeKind;
using memory::MemRegion;

// Live regions of one arena; refuses overlaps and regions beyond the budget.
class LiveRegions {
 public:
  std::uint64_t used = 0;
  std::uint64_t peak = 0;

  void acquire(const MemRegion& r, std::uint64_t limit, const char* what) {
    if (limit != 0 && r.end() > limit)
      throw std::logic_error(std::string("internal error: ") + what + " region [" + std::to_string(r.offset) +
                             ", " + std::to_string(r.end()) + ") is beyond the budget of " +
                             std::to_string(limit) + " bytes");
    auto next = live_.lower_bound(r.offset);
    const bool overlaps_next = next != live_.end() && next->first < r.end();
    const bool overlaps_previous = next != live_.begin() && std::prev(next)->second > r.offset;
    if (overlaps_next || overlaps_previous)
      throw std::logic_error(std::string("internal error: ") + what + " region [" + std::to_string(r.offset) +
                             ", " + std::to_string(r.end()) + ") overlaps a live region on device " +
                             std::to_string(r.device));
    live_[r.offset] = r.end();
    used += r.size;
    if (limit != 0 && used > limit)
      throw std::logic_error("internal error: device " + std::to_string(r.device) + " uses " +
                             std::to_string(used) + " bytes, over its budget of " + std::to_string(limit));
    peak = std::max(peak, used);
  }
  void release(const MemRegion& r) {
    const auto it = live_.find(r.offset);
    if (it == live_.end() || it->second != r.end())
      throw std::logic_error("internal error: release of a region that is not live on device " +
                             std::to_string(r.device) + " at offset " + std::to_string(r.offset));
    live_.erase(it);
    used -= r.size;
  }

 private:
  std::map<std::uint64_t, std::uint64_t> live_;  // offset -> end
};

class Runner {
 public:
  Runner(const memory::MemoryGraph& mg, const TaskGraph& graph, const Machine& machine,
         const CostTable& costs, const MemoryRunOptions& options)
      : mg_(mg),
        machine_(machine),
        costs_(costs),
        record_(options.record_trace),
        jitter_(options.jitter),
        seed_(options.seed),
        slowdown_(options.durations.empty() && machine.calibration ? machine.calibration->concurrency_slowdown
                                                                   : 1.0),
        copy_dispatch_(machine.calibration ? machine.calibration->copy_dispatch : 0.0),
        copy_gap_(machine.calibration ? machine.calibration->copy_gap : 0.0),
        arrival_latency_(machine.calibration ? machine.calibration->arrival_latency : 0.0),
        durations_(options.durations),
        n_(mg.num_devices) {
    if (mg.nodes.size() >= kSlotBit) throw std::logic_error("run_memory_graph: more than 2^30 nodes");
    if (!durations_.empty() && durations_.size() != mg.nodes.size())
      throw std::logic_error("run_memory_graph: " + std::to_string(durations_.size()) + " durations for " +
                             std::to_string(mg.nodes.size()) + " nodes");
    if (!(options.jitter >= 0 && options.jitter < 1))
      throw std::logic_error("run_memory_graph: jitter must be in [0, 1)");
    if (machine.num_devices() < n_)
      throw std::logic_error("run_memory_graph: the machine has fewer devices than the memory graph");
    const std::size_t resources = 3 * n_ + n_ * n_;
    slots_.assign(resources, 1);
    for (std::size_t d = 0; d < n_; ++d) slots_[d] = std::max(1, machine.devices[d].streams);
    ready_.resize(resources);
    free_streams_.resize(n_);
    for (std::size_t d = 0; d < n_; ++d)
      for (int k = slots_[d] - 1; k >= 0; --k) free_streams_[d].push_back(k);
    arenas_.resize(n_ + 1);
    waiting_.resize(mg.nodes.size());
    dependents_begin_.assign(mg.nodes.size() + 1, 0);
    for (const MemNode& node : mg.nodes)
      for (const MemNodeId dep : node.deps) ++dependents_begin_[dep + 1];
    for (std::size_t i = 0; i < mg.nodes.size(); ++i) dependents_begin_[i + 1] += dependents_begin_[i];
    dependents_.resize(dependents_begin_.back());
    std::vector<std::uint32_t> fill(dependents_begin_.begin(), dependents_begin_.end() - 1);
    for (MemNodeId id = 0; id < mg.nodes.size(); ++id) {
      waiting_[id] = static_cast<std::uint32_t>(mg.nodes[id].deps.size());
      for (const MemNodeId dep : mg.nodes[id].deps) dependents_[fill[dep]++] = id;
    }
    for (const MemNode& node : mg.nodes)
      if (node.tensor >= graph.num_ops())
        throw std::logic_error("run_memory_graph: a node names op " + std::to_string(node.tensor) + " of " +
                               std::to_string(graph.num_ops()));
    start_.assign(mg.nodes.size(), 0);
    stream_.assign(mg.nodes.size(), 0);
    origin_.assign(mg.nodes.size(), kInstant);
  }

  MemoryRunResult run() {
    for (const memory::MemPlacement& input : mg_.host_inputs)
      arenas_[n_].acquire(input.region, 0, "host input");
    for (MemNodeId id = 0; id < mg_.nodes.size(); ++id)
      if (waiting_[id] == 0) became_ready(id);
    drain(0);
    while (!events_.empty()) {
      const EventQueue::Entry event = events_.pop();
      ++result_.events;
      const double now = event.time();
      const std::uint32_t payload = event.payload();
      if (payload & kReleaseBit) {
        became_ready(payload & ~kReleaseBit);
      } else if (payload & kSlotBit) {
        ++slots_[payload & ~kSlotBit];
        touched_.push_back(payload & ~kSlotBit);
      } else {
        finish_timed(payload, now);
      }
      drain(now);
    }
    if (finished_ != mg_.nodes.size())
      throw std::logic_error("internal error: " + std::to_string(mg_.nodes.size() - finished_) +
                             " memory-graph nodes never became ready (a dependency cycle)");
    result_.peak_bytes.resize(n_);
    for (std::size_t d = 0; d < n_; ++d) result_.peak_bytes[d] = arenas_[d].peak;
    bounds();
    if (record_) {
      result_.trace.time_unit = machine_.time_unit;
      for (std::size_t d = 0; d < n_; ++d) result_.trace.device_names.push_back(machine_.devices[d].name);
    }
    return std::move(result_);
  }

 private:
  std::size_t resource_of(const MemNode& node) const { return memory_node_resource(node, n_); }

  double duration(MemNodeId id) const {
    if (!durations_.empty()) return durations_[id];
    const MemNode& node = mg_.nodes[id];
    switch (node.kind) {
      case MemNodeKind::kOp:
        return costs_.compute(node.tensor, node.region.device);
      case MemNodeKind::kLoad:
        return machine_.host_to_device[node.region.device].transfer_time(node.bytes);
      case MemNodeKind::kEvict:
        return machine_.device_to_host[node.region.device].transfer_time(node.bytes);
      case MemNodeKind::kCopy:
        return machine_.link(node.source.device, node.region.device).transfer_time(node.bytes);
      default:
        return 0;
    }
  }

  // 1 + jitter x u, u uniform in [-1, 1) from (seed, node): splitmix64 of the pair.
  double factor(MemNodeId id) const {
    if (jitter_ == 0) return 1;
    std::uint64_t z = seed_ + 0x9e3779b97f4a7c15ull * (std::uint64_t{id} + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    const double u = static_cast<double>(z >> 11) * 0x1.0p-53;
    return 1 + jitter_ * (2 * u - 1);
  }

  std::size_t arena_of(DeviceId d) const { return d == kHostDevice ? n_ : d; }

  // A kernel of `time` alone, started while copies on its device run for `covered` more: it
  // advances at 1 / slowdown while they run (copies started after it do not slow it).
  double slowed(double time, double covered) const {
    if (slowdown_ <= 1 || covered <= 0) return time;
    if (covered >= time * slowdown_) return time * slowdown_;
    return covered + (time - covered / slowdown_);
  }

  void became_ready(MemNodeId id) {
    const std::size_t resource = resource_of(mg_.nodes[id]);
    if (resource == kInstant) {
      instant_.push_back(id);
    } else {
      ready_[resource].push(id);
      touched_.push_back(resource);
    }
  }

  // Runs instant nodes and starts whatever resources can start, until nothing changes at `now`.
  void drain(double now) {
    while (!instant_.empty() || !touched_.empty()) {
      while (!instant_.empty()) {
        const MemNodeId id = instant_.back();
        instant_.pop_back();
        const MemNode& node = mg_.nodes[id];
        if (node.kind == MemNodeKind::kAlloc) {
          arenas_[node.region.device].acquire(node.region, mg_.budget, "alloc");
        } else {
          arenas_[arena_of(node.region.device)].release(node.region);
        }
        complete(id, origin_[id], now);
      }
      std::vector<std::size_t> touched;
      touched.swap(touched_);
      std::sort(touched.begin(), touched.end());
      touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
      // Links first: a kernel starting at the same instant as a copy runs under it.
      for (const std::size_t resource : touched)
        if (resource >= n_) start_ready(resource, now);
      for (const std::size_t resource : touched)
        if (resource < n_) start_ready(resource, now);
    }
  }

  void start_ready(std::size_t resource, double now) {
    auto& queue = ready_[resource];
    while (slots_[resource] > 0 && !queue.empty()) {
      const MemNodeId id = queue.top();
      queue.pop();
      --slots_[resource];
      const MemNode& node = mg_.nodes[id];
      start_[id] = now;
      const double time = duration(id) * factor(id);
      double takes = time;
      if (node.kind == MemNodeKind::kOp) {
        stream_[id] = free_streams_[node.region.device].back();
        free_streams_[node.region.device].pop_back();
        compute_[node.region.device] += time;
        takes = slowed(time, copies_until_[node.region.device] - now);
      } else {
        if (node.kind == MemNodeKind::kEvict) arenas_[n_].acquire(node.source, 0, "host");
        for (const DeviceId d : {node.region.device, node.source.device})
          if (d != kHostDevice && d < n_) copies_until_[d] = std::max(copies_until_[d], now + time);
      }
      events_.push(now + takes, EventQueue::tag(sequence_++, id));
    }
  }

  void finish_timed(MemNodeId id, double now) {
    const MemNode& node = mg_.nodes[id];
    const std::size_t resource = resource_of(node);
    if (resource >= n_ && copy_gap_ > 0) {
      events_.push(now + copy_gap_,
                   EventQueue::tag(sequence_++, static_cast<std::uint32_t>(resource) | kSlotBit));
    } else {
      ++slots_[resource];
      touched_.push_back(resource);
    }
    result_.makespan = std::max(result_.makespan, now);
    switch (node.kind) {
      case MemNodeKind::kOp:
        free_streams_[node.region.device].push_back(stream_[id]);
        std::sort(free_streams_[node.region.device].rbegin(), free_streams_[node.region.device].rend());
        break;
      case MemNodeKind::kLoad:
        result_.bytes_loaded += node.bytes;
        loaded_[node.region.device] += node.bytes * factor(id);
        break;
      case MemNodeKind::kEvict:
        result_.bytes_evicted += node.bytes;
        evicted_[node.region.device] += node.bytes * factor(id);
        arenas_[node.region.device].release(node.region);
        break;
      default:
        result_.bytes_copied += node.bytes;
        break;
    }
    if (record_) {
      const int stream = node.kind == MemNodeKind::kOp ? stream_[id] : 0;
      if (const auto record = memory::node_trace_record(node, start_[id], now, stream))
        result_.trace.records.push_back(*record);
    }
    complete(id, resource, now);
  }

  // `id` is done at `now`; `origin` is the resource of the timed node whose end made it so
  // (kInstant: none, the start). Dependents it makes ready start after the calibration's latency.
  void complete(MemNodeId id, std::size_t origin, double now) {
    ++finished_;
    for (std::uint32_t k = dependents_begin_[id]; k < dependents_begin_[id + 1]; ++k) {
      const MemNodeId next = dependents_[k];
      if (--waiting_[next] != 0) continue;
      origin_[next] = origin;
      const double delay = release_delay(mg_.nodes[next], origin);
      if (delay > 0) {
        events_.push(now + delay, EventQueue::tag(sequence_++, next | kReleaseBit));
      } else {
        became_ready(next);
      }
    }
  }

  double release_delay(const MemNode& node, std::size_t origin) const {
    if (origin == kInstant) return 0;
    if (node.kind == MemNodeKind::kLoad || node.kind == MemNodeKind::kEvict) return copy_dispatch_;
    if (node.kind == MemNodeKind::kOp && origin != node.region.device) return arrival_latency_;
    return 0;
  }

  void bounds() {
    double compute = 0, link = 0;
    for (std::size_t d = 0; d < n_; ++d) {
      compute = std::max(compute, compute_[d] / std::max(1, machine_.devices[d].streams));
      link = std::max(link, loaded_[d] / machine_.host_to_device[d].bandwidth);
      link = std::max(link, evicted_[d] / machine_.device_to_host[d].bandwidth);
    }
    result_.compute_bound = compute;
    result_.host_link_bound = link;
    result_.lower_bound = std::max(compute, link);
  }

  static constexpr std::size_t kInstant = kNoResource;
  static constexpr std::uint32_t kReleaseBit = 1u << 31;  // event: a node's latency has passed
  static constexpr std::uint32_t kSlotBit = 1u << 30;     // event: a link's copy gap has passed
  const memory::MemoryGraph& mg_;
  const Machine& machine_;
  const CostTable& costs_;
  bool record_;
  double jitter_;
  std::uint64_t seed_;
  double slowdown_;  // the calibration's concurrency_slowdown (1 without one or with durations)
  double copy_dispatch_;
  double copy_gap_;
  double arrival_latency_;
  const std::vector<double>& durations_;
  std::size_t n_;
  std::vector<int> slots_;  // free slots per resource
  std::vector<std::priority_queue<MemNodeId, std::vector<MemNodeId>, std::greater<>>> ready_;
  std::vector<std::vector<int>> free_streams_;  // per device, lowest id last
  std::vector<LiveRegions> arenas_;             // devices, then the host
  std::vector<std::uint32_t> waiting_;
  std::vector<std::uint32_t> dependents_begin_;
  std::vector<MemNodeId> dependents_;
  std::vector<double> start_;
  std::vector<int> stream_;
  std::vector<std::size_t> origin_;  // per node: the resource whose end made it ready
  std::vector<MemNodeId> instant_;
  std::vector<std::size_t> touched_;
  EventQueue events_;
  std::uint32_t sequence_ = 0;
  std::size_t finished_ = 0;
  std::vector<double> compute_ = std::vector<double>(n_, 0.0);       // kernel time alone, per device
  std::vector<double> copies_until_ = std::vector<double>(n_, 0.0);  // latest end of a running copy
  std::vector<double> loaded_ = std::vector<double>(n_, 0.0);
  std::vector<double> evicted_ = std::vector<double>(n_, 0.0);
  MemoryRunResult result_;
};

}  // namespace

MemoryRunResult run_memory_graph(const memory::MemoryGraph& memory_graph, const TaskGraph& graph,
                                 const Machine& machine, const CostTable& costs,
                                 const MemoryRunOptions& options) {
  return Runner(memory_graph, graph, machine, costs, options).run();
}

MemoryRunResult run_memory_graph(const memory::MemoryGraph& memory_graph, const TaskGraph& graph,
                                 const Machine& machine, const CostTable& costs, bool record_trace) {
  return run_memory_graph(memory_graph, graph, machine, costs,
                          MemoryRunOptions{.record_trace = record_trace});
}

}  // namespace doppler::sim
