#include "doppler/hw/memory_graph_run.hpp"

#include <algorithm>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <queue>
#include <string>
#include <thread>

#include "cuda_check.hpp"
#include "device_set.hpp"
#include "doppler/error.hpp"
#include "doppler/hw/executor.hpp"
#include "input_blocks.hpp"
#include "run_environment.hpp"
#include "task_kernels.hpp"

namespace doppler::hw {
namespace {

using memory::MemNode;
using memory::MemNodeId;
using memory::MemNodeKind;

constexpr int kNoStream = -1;

}  // namespace

struct MemoryGraphRunner::State {
  State(const einsum::EinsumGraph& g, const einsum::LoweredGraph& l, MemoryRunOptions o)
      : graph(g), lowered(l), options(std::move(o)), kernels(g, l, options.use_cublas) {}

  // Devices for an n-device graph (created, or re-created for another count) and the inputs'
  // pinned blocks (once).
  void open(std::size_t n);
  std::byte* host_arena(std::size_t bytes);

  const einsum::EinsumGraph& graph;
  const einsum::LoweredGraph& lowered;
  MemoryRunOptions options;
  TaskKernels kernels;
  std::unique_ptr<DeviceSet> devices;
  std::vector<const std::byte*> input_block;  // by op: a load task's block in pinned memory
  std::byte* host = nullptr;
  std::size_t host_bytes = 0;
  bool warmed = false;  // a run has gone through these devices (the first runs its kernels cold)
};

void MemoryGraphRunner::State::open(std::size_t n) {
  if (devices && devices->size() == n) return;
  std::string reason;
  const int gpus = visible_gpus(&reason);
  if (gpus < static_cast<int>(n))
    throw Error("hw: the memory graph uses " + std::to_string(n) + " GPUs, " + std::to_string(gpus) +
                " visible" + (reason.empty() ? "" : " (" + reason + ")"));
  std::vector<int> ordinals;
  for (std::size_t d = 0; d < n; ++d) ordinals.push_back(static_cast<int>(d));
  devices.reset();
  host = nullptr;
  host_bytes = 0;
  warmed = false;
  devices = std::make_unique<DeviceSet>(ordinals, 1);
  input_block = stage_load_blocks(graph, lowered, kernels, options.inputs, *devices);
}

// The host arena for evicted tensors: the current one when large enough, else a new one (the old
// one stays allocated until the runner goes).
std::byte* MemoryGraphRunner::State::host_arena(std::size_t bytes) {
  if (bytes > host_bytes) {
    host = devices->allocate_pinned(bytes);
    host_bytes = bytes;
  }
  return host;
}

namespace {

// The launch loop of one run: node states, per-stream ready heaps and in-flight FIFOs.
class MemoryRun {
 public:
  MemoryRun(MemoryGraphRunner::State& state, const memory::MemoryGraph& mg)
      : state_(state),
        graph_(state.graph),
        lowered_(state.lowered),
        mg_(mg),
        options_(state.options),
        kernels_(state.kernels) {}

  MemoryRunResult run();

 private:
  MemoryRunResult run_once();
  // kReady: in its stream's ready heap; kEnqueued: launched (its events recorded); kDone: finished
  // (an alloc/free: passed).
  enum class State : std::uint8_t { kWaiting, kReady, kEnqueued, kDone };
  struct Stream {
    cudaStream_t stream = nullptr;
    DeviceId device = 0;
    std::priority_queue<MemNodeId, std::vector<MemNodeId>, std::greater<>> ready;
    std::deque<MemNodeId> inflight;
  };

  void set_up();
  int stream_of(const MemNode& n) const;
  Where where(MemNodeId id) const;
  bool ready(MemNodeId id) const;
  bool waits_on_host(const MemNode& n) const {
    return !options_.issue_ahead ||
           (!options_.host_copies_ahead && (n.kind == MemNodeKind::kLoad || n.kind == MemNodeKind::kEvict));
  }
  std::vector<MemNodeId> pending_deps(MemNodeId id) const;
  void consider(MemNodeId id);
  void finish(MemNodeId id);
  void enqueue(MemNodeId id);
  std::byte* device_region(const memory::MemRegion& r) const { return arena_[r.device] + r.offset; }
  // A load reads a graph input's staged block, or an evicted tensor's host-arena region.
  const std::byte* load_source(const MemNode& n) const {
    const std::byte* input = state_.input_block[n.tensor];
    return input ? input : host_ + n.source.offset;
  }
  std::vector<float> assemble(einsum::TensorId t);

  MemoryGraphRunner::State& state_;
  const einsum::EinsumGraph& graph_;
  const einsum::LoweredGraph& lowered_;
  const memory::MemoryGraph& mg_;
  const MemoryRunOptions& options_;
  const TaskKernels& kernels_;
  DeviceSet* devices_ = nullptr;
  std::vector<std::byte*> arena_;
  std::vector<std::byte*> workspace_;
  std::byte* host_ = nullptr;
  std::vector<Stream> streams_;
  std::vector<std::vector<MemNodeId>> successors_;
  std::vector<State> node_state_;
  std::vector<std::vector<MemNodeId>> stands_for_;  // alloc/free: unfinished nodes when passed
  std::vector<std::vector<MemNodeId>> watchers_;    // host copies considered again when a node finishes
  std::vector<cudaEvent_t> start_event_, end_event_;
  std::vector<cudaEvent_t> base_;
  std::vector<double> passed_ms_;  // alloc/free: host time they were passed, from the clock start
  std::chrono::steady_clock::time_point host_start_;
  std::size_t done_ = 0;
};

// Streams: per device compute, host->device, device->host; then one per ordered device pair.
int MemoryRun::stream_of(const MemNode& n) const {
  const std::size_t devices = mg_.num_devices;
  switch (n.kind) {
    case MemNodeKind::kOp:
      return static_cast<int>(3 * n.region.device);
    case MemNodeKind::kLoad:
      return static_cast<int>(3 * n.region.device + 1);
    case MemNodeKind::kEvict:
      return static_cast<int>(3 * n.region.device + 2);
    case MemNodeKind::kCopy:
      return static_cast<int>(3 * devices + n.source.device * devices + n.region.device);
    default:
      return kNoStream;
  }
}

Where MemoryRun::where(MemNodeId id) const {
  const MemNode& n = mg_.nodes[id];
  return Where{mem_node_kind_name(n.kind),
               n.tensor == kNoOp ? "" : std::string_view(lowered_.graph.op(n.tensor).name),
               static_cast<int>(n.region.device == kHostDevice ? 0 : n.region.device)};
}

void MemoryRun::set_up() {
  const std::size_t n = mg_.num_devices;
  state_.open(n);
  devices_ = state_.devices.get();
  devices_->reset_events();
  std::size_t workspace = 0;
  for (const MemNode& node : mg_.nodes) {
    if (node.kind != MemNodeKind::kOp) continue;
    workspace = std::max(workspace, kernels_.workspace_bytes(node.tensor));
    if (node.region.size < kernels_.output_bytes(node.tensor))
      throw Error("hw: op '" + lowered_.graph.op(node.tensor).name + "': its region of " +
                  std::to_string(node.region.size) + " bytes is smaller than its block (" +
                  std::to_string(kernels_.output_bytes(node.tensor)) + " bytes)");
  }
  arena_.clear();
  workspace_.clear();
  // Each arena covers the highest region end on its device: within the budget, and sized right
  // for an unlimited one (budget 0).
  std::vector<std::size_t> extent(n, kArenaAlign);
  const auto cover = [&](const memory::MemRegion& r) {
    if (r.device != kHostDevice) extent[r.device] = std::max<std::size_t>(extent[r.device], r.end());
  };
  for (const MemNode& node : mg_.nodes) {
    cover(node.region);
    cover(node.source);
    for (const memory::MemOperand& o : node.operands) cover(o.region);
  }
  for (const memory::MemPlacement& kept : mg_.outputs) cover(kept.region);
  for (DeviceId d = 0; d < n; ++d) {
    arena_.push_back(devices_->arena(d, extent[d]));
    workspace_.push_back(workspace > 0 ? devices_->scratch(d, workspace) : nullptr);
  }
  host_ = state_.host_arena(std::max<std::size_t>(mg_.host_arena_bytes, 256));
  streams_.assign(3 * n + n * n, {});
  for (DeviceId d = 0; d < n; ++d) {
    const DeviceResources& r = (*devices_)[d];
    streams_[3 * d] = {r.compute[0], d, {}, {}};
    streams_[3 * d + 1] = {r.host_to_device, d, {}, {}};
    streams_[3 * d + 2] = {r.device_to_host, d, {}, {}};
    for (DeviceId e = 0; e < n; ++e)
      if (e != d) streams_[3 * n + d * n + e] = {r.to_device[e], d, {}, {}};
  }
  successors_.assign(mg_.nodes.size(), {});
  for (MemNodeId v = 0; v < mg_.nodes.size(); ++v)
    for (const MemNodeId u : mg_.nodes[v].deps) successors_[u].push_back(v);
  start_event_.assign(mg_.nodes.size(), nullptr);
  end_event_.assign(mg_.nodes.size(), nullptr);
  for (MemNodeId v = 0; v < mg_.nodes.size(); ++v) {
    const int s = stream_of(mg_.nodes[v]);
    if (s == kNoStream) continue;
    start_event_[v] = devices_->make_event(streams_[static_cast<std::size_t>(s)].device);
    end_event_[v] = devices_->make_event(streams_[static_cast<std::size_t>(s)].device);
  }
  base_.clear();
  for (DeviceId d = 0; d < n; ++d) base_.push_back(devices_->make_event(d));
}

// Ready: every dependency finished, or ahead of it on the node's own stream (in the ready heap,
// whose order puts it first, or launched), or (issue ahead) launched on another stream. A node that
// waits on the host (waits_on_host) also needs what its passed allocs/frees stand for finished,
// except on its own stream.
bool MemoryRun::ready(MemNodeId id) const {
  const MemNode& n = mg_.nodes[id];
  const int s = stream_of(n);
  for (const MemNodeId u : n.deps) {
    const State state = node_state_[u];
    if (state == State::kDone) continue;
    const bool same_stream = s != kNoStream && stream_of(mg_.nodes[u]) == s;
    if (same_stream && (state == State::kReady || state == State::kEnqueued)) continue;
    if (!waits_on_host(n) && state == State::kEnqueued) continue;
    return false;
  }
  if (s != kNoStream && options_.issue_ahead && waits_on_host(n)) {
    for (const MemNodeId w : pending_deps(id))
      if (stream_of(mg_.nodes[w]) != s) return false;
  }
  return true;
}

// The unfinished GPU nodes that node id's dependencies stand for: a node enqueued and not yet
// seen finished, or what a passed alloc/free stood for. (Issue ahead only.)
std::vector<MemNodeId> MemoryRun::pending_deps(MemNodeId id) const {
  std::vector<MemNodeId> pending;
  for (const MemNodeId u : mg_.nodes[id].deps) {
    if (stream_of(mg_.nodes[u]) != kNoStream) {
      if (node_state_[u] != State::kDone) pending.push_back(u);
      continue;
    }
    for (const MemNodeId w : stands_for_[u])
      if (node_state_[w] != State::kDone) pending.push_back(w);
  }
  std::sort(pending.begin(), pending.end());
  pending.erase(std::unique(pending.begin(), pending.end()), pending.end());
  return pending;
}

void MemoryRun::consider(MemNodeId id) {
  if (node_state_[id] != State::kWaiting) return;
  if (!ready(id)) {
    // A host copy held back by what a passed alloc/free stands for: looked at again when each finishes.
    if (options_.issue_ahead && waits_on_host(mg_.nodes[id]) && stream_of(mg_.nodes[id]) != kNoStream)
      for (const MemNodeId w : pending_deps(id)) watchers_[w].push_back(id);
    return;
  }
  const int s = stream_of(mg_.nodes[id]);
  if (s == kNoStream) {  // alloc / free: passed once their dependencies were launched or finished
    if (options_.issue_ahead) stands_for_[id] = pending_deps(id);
    passed_ms_[id] =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - host_start_).count();
    finish(id);
    return;
  }
  node_state_[id] = State::kReady;  // pushed once, launched from the heap
  streams_[static_cast<std::size_t>(s)].ready.push(id);
}

void MemoryRun::finish(MemNodeId id) {
  node_state_[id] = State::kDone;
  ++done_;
  for (const MemNodeId v : successors_[id]) consider(v);
  std::vector<MemNodeId> watchers;
  watchers.swap(watchers_[id]);
  for (const MemNodeId v : watchers) consider(v);
}

void MemoryRun::enqueue(MemNodeId id) {
  const MemNode& n = mg_.nodes[id];
  Stream& s = streams_[static_cast<std::size_t>(stream_of(n))];
  const Where at = where(id);
  devices_->use(s.device);
  if (options_.issue_ahead) {
    for (const MemNodeId u : pending_deps(id))
      if (stream_of(mg_.nodes[u]) != stream_of(n))
        check(cudaStreamWaitEvent(s.stream, end_event_[u], 0), at, "cudaStreamWaitEvent");
  }
  check(cudaEventRecord(start_event_[id], s.stream), at, "cudaEventRecord");
  switch (n.kind) {
    case MemNodeKind::kOp: {
      const einsum::TaskInfo& info = lowered_.tasks[n.tensor];
      std::vector<const void*> inputs;
      for (const OpId u : info.inputs) {
        const auto operand = std::find_if(n.operands.begin(), n.operands.end(),
                                          [&](const memory::MemOperand& o) { return o.tensor == u; });
        if (operand == n.operands.end())
          throw Error("hw: op '" + lowered_.graph.op(n.tensor).name + "' has no region for its input '" +
                      lowered_.graph.op(u).name + "'");
        inputs.push_back(device_region(operand->region));
      }
      kernels_.launch(n.tensor, inputs, device_region(n.region),
                      LaunchContext{s.stream, (*devices_)[s.device].blas[0], workspace_[s.device],
                                    static_cast<int>(s.device)});
      break;
    }
    case MemNodeKind::kLoad:
      check(cudaMemcpyAsync(device_region(n.region), load_source(n), static_cast<std::size_t>(n.bytes),
                            cudaMemcpyHostToDevice, s.stream),
            at, "cudaMemcpyAsync (load)");
      break;
    case MemNodeKind::kEvict:
      check(cudaMemcpyAsync(host_ + n.source.offset, device_region(n.region),
                            static_cast<std::size_t>(n.bytes), cudaMemcpyDeviceToHost, s.stream),
            at, "cudaMemcpyAsync (evict)");
      break;
    case MemNodeKind::kCopy:
      check(cudaMemcpyPeerAsync(device_region(n.region), (*devices_)[n.region.device].ordinal,
                                device_region(n.source), (*devices_)[n.source.device].ordinal,
                                static_cast<std::size_t>(n.bytes), s.stream),
            at, "cudaMemcpyPeerAsync");
      break;
    default:
      break;
  }
  check(cudaEventRecord(end_event_[id], s.stream), at, "cudaEventRecord");
  node_state_[id] = State::kEnqueued;
  s.inflight.push_back(id);
  for (const MemNodeId v : successors_[id])
    if (options_.issue_ahead || stream_of(mg_.nodes[v]) == stream_of(n)) consider(v);
}

MemoryRunResult MemoryRun::run() {
  set_up();
  const int timed = std::max(1, options_.repetitions);
  if (timed > 1 || !state_.warmed) run_once();
  state_.warmed = true;
  std::vector<double> makespans;
  MemoryRunResult result;
  for (int r = 0; r < timed; ++r) {
    result = run_once();
    makespans.push_back(result.makespan_ms);
  }
  std::sort(makespans.begin(), makespans.end());
  result.makespan_ms = makespans[makespans.size() / 2];
  if (options_.return_outputs) {
    result.values.resize(graph_.num_tensors());
    for (einsum::TensorId t = 0; t < graph_.num_tensors(); ++t)
      if (graph_.tensor(t).kind == einsum::TensorKind::kOutput) result.values[t] = assemble(t);
  }
  std::vector<int> ordinals;
  for (std::size_t d = 0; d < mg_.num_devices; ++d) ordinals.push_back(static_cast<int>(d));
  result.gpu = read_run_environment(ordinals);
  return result;
}

// One run of the graph on the set-up devices (inputs stay staged: loads only read them).
MemoryRunResult MemoryRun::run_once() {
  done_ = 0;
  if (options_.warm_up) devices_->warm_up();
  devices_->synchronize();
  for (DeviceId d = 0; d < mg_.num_devices; ++d) {
    devices_->use(d);
    check(cudaEventRecord(base_[d], (*devices_)[d].compute[0]), Where{"set-up", "", static_cast<int>(d)},
          "cudaEventRecord");
  }
  node_state_.assign(mg_.nodes.size(), State::kWaiting);
  stands_for_.assign(mg_.nodes.size(), {});
  watchers_.assign(mg_.nodes.size(), {});
  passed_ms_.assign(mg_.nodes.size(), 0.0);
  host_start_ = std::chrono::steady_clock::now();
  for (MemNodeId v = 0; v < mg_.nodes.size(); ++v)
    if (mg_.nodes[v].deps.empty()) consider(v);
  const std::size_t depth = static_cast<std::size_t>(std::max(1, options_.queue_depth));
  while (done_ < mg_.nodes.size()) {
    bool progress = false;
    for (Stream& s : streams_) {
      while (!s.inflight.empty()) {
        const MemNodeId id = s.inflight.front();
        const cudaError_t status = cudaEventQuery(end_event_[id]);
        if (status == cudaErrorNotReady) break;
        check(status, where(id), "cudaEventQuery");
        s.inflight.pop_front();
        finish(id);
        progress = true;
      }
      while (s.inflight.size() < depth && !s.ready.empty()) {
        const MemNodeId id = s.ready.top();
        s.ready.pop();
        enqueue(id);
        progress = true;
      }
    }
    if (!progress) {
      bool busy = false;
      for (const Stream& s : streams_) busy = busy || !s.inflight.empty() || !s.ready.empty();
      if (!busy)
        throw Error("hw: the memory graph stalled: no node in flight or ready, " +
                    std::to_string(mg_.nodes.size() - done_) + " left (a dependency cycle?)");
      std::this_thread::yield();
    }
  }
  MemoryRunResult result;
  result.host_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - host_start_).count();
  devices_->synchronize();
  result.nodes.resize(mg_.nodes.size());
  for (MemNodeId v = 0; v < mg_.nodes.size(); ++v) {
    const MemNode& n = mg_.nodes[v];
    const int s = stream_of(n);
    if (s == kNoStream) {
      result.nodes[v] = {passed_ms_[v], passed_ms_[v]};
      continue;
    }
    const DeviceId d = streams_[static_cast<std::size_t>(s)].device;
    float start = 0, end = 0;
    check(cudaEventElapsedTime(&start, base_[d], start_event_[v]), where(v), "cudaEventElapsedTime");
    check(cudaEventElapsedTime(&end, base_[d], end_event_[v]), where(v), "cudaEventElapsedTime");
    result.nodes[v] = {start, end};
    result.makespan_ms = std::max(result.makespan_ms, static_cast<double>(end));
    if (n.kind == MemNodeKind::kLoad) result.bytes_loaded += n.bytes;
    if (n.kind == MemNodeKind::kEvict) result.bytes_evicted += n.bytes;
  }
  return result;
}

// An output tensor from its blocks' kept regions (on a device or in the host arena).
std::vector<float> MemoryRun::assemble(einsum::TensorId t) {
  return assemble_tensor(graph_, lowered_, kernels_, t, [&](OpId u, std::byte* bytes) {
    const auto placed = std::find_if(mg_.outputs.begin(), mg_.outputs.end(),
                                     [&](const memory::MemPlacement& p) { return p.tensor == u; });
    if (placed == mg_.outputs.end())
      throw Error("hw: output block '" + lowered_.graph.op(u).name + "' is not kept by the memory graph");
    const std::size_t size = kernels_.output_bytes(u);
    if (placed->region.device == kHostDevice) {
      std::copy_n(host_ + placed->region.offset, size, bytes);
    } else {
      devices_->use(placed->region.device);
      check(cudaMemcpy(bytes, device_region(placed->region), size, cudaMemcpyDeviceToHost),
            Where{"output", lowered_.graph.op(u).name, static_cast<int>(placed->region.device)},
            "cudaMemcpy (result)");
    }
    return true;
  });
}

}  // namespace

MemoryGraphRunner::MemoryGraphRunner(const einsum::EinsumGraph& graph, const einsum::LoweredGraph& lowered,
                                     MemoryRunOptions options)
    : state_(std::make_unique<State>(graph, lowered, std::move(options))) {}

MemoryGraphRunner::~MemoryGraphRunner() = default;

MemoryRunResult MemoryGraphRunner::run(const memory::MemoryGraph& memory_graph) {
  return MemoryRun(*state_, memory_graph).run();
}

MemoryRunResult run_memory_graph(const einsum::EinsumGraph& graph, const einsum::LoweredGraph& lowered,
                                 const memory::MemoryGraph& memory_graph, const MemoryRunOptions& options) {
  return MemoryGraphRunner(graph, lowered, options).run(memory_graph);
}

}  // namespace doppler::hw
