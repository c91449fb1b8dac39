// The multi-GPU executor of a lowered graph (declared in doppler/hw/executor.hpp).
#include "doppler/hw/executor.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>

#include "cuda_check.hpp"
#include "device_set.hpp"
#include "doppler/exec_graph.hpp"
#include "doppler/scheduler.hpp"
#include "elements.hpp"
#include "input_blocks.hpp"
#include "nccl_group.hpp"
#include "run_environment.hpp"
#include "task_kernels.hpp"
#include "worker_threads.hpp"

namespace doppler::hw {
namespace {

using einsum::TaskRole;

constexpr std::size_t kAlign = 256;

std::size_t align_up(std::size_t bytes) {
  return (bytes + kAlign - 1) / kAlign * kAlign;
}

std::size_t plan_devices(const Plan& plan) {
  std::size_t n = 1;
  for (const DeviceId d : plan.device) n = std::max<std::size_t>(n, d + 1);
  return n;
}

// One run of a plan on the executor's devices.
class Run {
 public:
  Run(Executor::State& state, const Plan& plan);
  ExecuteResult run();

 private:
  struct Inflight {
    bool transfer;
    std::uint32_t id;
    cudaEvent_t end;
  };

  Where where_of(const Inflight& f) const;
  void allocate();
  void resolve_inputs();
  void preload();
  void make_events();
  void start_clock();
  void device_loop(DeviceId d);
  bool launch_ops(DeviceId d);
  void launch(OpId u, DeviceId d, int index);
  void launch_transfers(DeviceId src);
  void order_remote_transfers();
  void post_remote(DeviceId d);
  bool local(DeviceId d) const { return devices_.is_local(d); }
  void op_done(OpId u);
  void transfer_done(TransferId t);
  void check_stall();
  double elapsed(DeviceId d, cudaEvent_t event) const;
  ExecuteResult collect();
  void gather_timings(ExecuteResult& result);
  template <typename T>
  void all_reduce(std::vector<T>& values);
  std::vector<float> assemble(einsum::TensorId t);

  Executor::State& state_;
  const einsum::EinsumGraph& graph_;
  const einsum::LoweredGraph& lowered_;
  const ExecuteOptions& options_;
  const ExecGraph& exec_;
  Scheduler& scheduler_;
  const TaskKernels& kernels_;
  DeviceSet& devices_;
  NcclGroup* nccl_;  // multi-process mode: transfers to and from other processes' devices

  std::vector<std::byte*> out_;
  std::vector<std::byte*> transfer_buffer_;
  std::vector<std::vector<std::byte*>> workspace_;
  std::vector<std::size_t> input_begin_;
  std::vector<const void*> inputs_;

  std::vector<cudaEvent_t> start_event_, end_event_, transfer_start_, transfer_end_, base_;
  std::vector<std::vector<int>> queued_;  // by device and compute stream: enqueued, not finished
  std::vector<int> stream_of_;            // compute stream index; -1: the host->device stream
  // One host thread per device launches its ops and outgoing transfers and polls their events;
  // a device's entries below are touched by its thread only, the scheduler under mutex_.
  std::vector<std::uint8_t> finished_;
  std::vector<std::uint8_t> resident_;           // preloaded loads: nothing to run, finished when released
  std::vector<std::vector<Inflight>> inflight_;  // by device
  std::mutex mutex_;
  std::size_t in_progress_ = 0;  // ops taken and transfers queued, not finished (under mutex_)
  std::atomic<std::size_t> done_{0};
  std::size_t local_ops_ = 0;  // ops on this process's devices
  std::atomic<bool> abort_{false};
  // Multi-process mode: the transfers between this process and the others, in the one order
  // every process uses (NCCL matches a pair's sends and receives in issue order); the next one to
  // post, and which sends are ready (their producer is enqueued).
  std::vector<TransferId> remote_order_;
  std::size_t remote_next_ = 0;
  std::vector<std::uint8_t> send_ready_;
};

}  // namespace

// What an Executor keeps between runs.
struct Executor::State {
  State(const einsum::EinsumGraph& g, const einsum::LoweredGraph& l, ExecuteOptions o)
      : graph(g),
        lowered(l),
        options(std::move(o)),
        exec(ExecGraph::from(l.graph)),
        kernels(g, l, options.use_cublas) {}

  // First run: picks the GPUs and creates their resources.
  void open(const Plan& plan);
  void stage_loads();

  const einsum::EinsumGraph& graph;
  const einsum::LoweredGraph& lowered;
  ExecuteOptions options;
  ExecGraph exec;
  TaskKernels kernels;
  std::unique_ptr<DeviceSet> devices;
  std::unique_ptr<Scheduler> scheduler;
  std::vector<const std::byte*> host_block;  // by op: a load's block in pinned memory
  GpuInfo environment;
  std::unique_ptr<NcclGroup> nccl;         // multi-process mode
  std::unique_ptr<WorkerThreads> workers;  // one host thread per local device, kept across runs
};

namespace {

Run::Run(Executor::State& state, const Plan& plan)
    : state_(state),
      graph_(state.graph),
      lowered_(state.lowered),
      options_(state.options),
      exec_(state.exec),
      scheduler_(*state.scheduler),
      kernels_(state.kernels),
      devices_(*state.devices),
      nccl_(state.nccl.get()) {
  scheduler_.start(plan.device, plan.priority);
  scheduler_.build_transfers();
  allocate();
  if (state_.host_block.empty()) state_.stage_loads();
  resolve_inputs();
  preload();
  make_events();
  if (nccl_) order_remote_transfers();
}

ExecuteResult Run::run() {
  for (const OpId v : scheduler_.sources())
    if (local(scheduler_.device_of(v))) scheduler_.make_ready(v);
  std::exception_ptr error;
  std::mutex error_mutex;
  // The threads spin until the clock starts (a blocking wait would wake them tens of us late).
  std::atomic<std::size_t> waiting{0};
  std::atomic<bool> go{false};
  std::chrono::steady_clock::time_point host_start;
  std::vector<DeviceId> mine;
  for (DeviceId d = 0; d < devices_.size(); ++d)
    if (local(d)) mine.push_back(d);
  if (!state_.workers || state_.workers->size() != mine.size())
    state_.workers = std::make_unique<WorkerThreads>(mine.size());
  state_.workers->start([&](std::size_t i) {
    ++waiting;
    while (!go) std::this_thread::yield();
    try {
      device_loop(mine[i]);
    } catch (...) {
      const std::lock_guard lock(error_mutex);
      if (!error) error = std::current_exception();
      abort_ = true;
    }
  });
  while (waiting < mine.size()) std::this_thread::yield();
  try {
    start_clock();
  } catch (...) {
    const std::lock_guard lock(error_mutex);
    error = std::current_exception();
    abort_ = true;
  }
  host_start = std::chrono::steady_clock::now();
  go = true;
  state_.workers->wait();
  if (error) {
    devices_.synchronize();
    std::rethrow_exception(error);
  }
  const double host_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - host_start).count();
  devices_.synchronize();
  ExecuteResult result = collect();
  result.host_ms = host_ms;
  return result;
}

// Device d's host thread: launch what the scheduler releases, poll what is in flight, until every
// op has finished and d's transfers have landed.
void Run::device_loop(DeviceId d) {
  devices_.use(d);
  std::vector<Inflight>& mine = inflight_[d];
  if (nccl_) post_remote(d);
  while (!abort_) {
    bool progress = launch_ops(d);
    for (std::size_t i = 0; i < mine.size();) {
      const Inflight f = mine[i];
      const cudaError_t status = cudaEventQuery(f.end);
      if (status == cudaErrorNotReady) {
        ++i;
        continue;
      }
      check(status, where_of(f), "cudaEventQuery");
      mine[i] = mine.back();
      mine.pop_back();
      progress = true;
      if (f.transfer) {
        transfer_done(f.id);
      } else {
        op_done(f.id);
      }
    }
    if (done_ == local_ops_ && mine.empty()) return;
    if (!progress) {
      if (mine.empty()) check_stall();
      std::this_thread::yield();
    }
  }
}

// A stall: nothing in flight, nothing ready, ops left. (With other processes, their progress is
// not visible here: no check.)
void Run::check_stall() {
  if (nccl_) return;
  const std::lock_guard lock(mutex_);
  if (in_progress_ > 0 || done_ == local_ops_) return;
  for (DeviceId e = 0; e < devices_.size(); ++e)
    if (scheduler_.ready_count(e) > 0) return;
  throw Error("hw: the run stalled: no task or transfer in flight");
}

Where Run::where_of(const Inflight& f) const {
  if (f.transfer) {
    const Transfer& t = scheduler_.transfer(f.id);
    return Where{"transfer of", lowered_.graph.op(t.tensor).name, static_cast<int>(t.src)};
  }
  return Where{"task", lowered_.graph.op(f.id).name, static_cast<int>(scheduler_.device_of(f.id))};
}

// One arena per local device: task outputs, transfer copies arriving there, the compute streams'
// workspaces. Other processes' blocks have no buffer here.
void Run::allocate() {
  const std::size_t n = devices_.size();
  const std::size_t ops = exec_.num_ops;
  const auto streams = static_cast<std::size_t>(options_.streams);
  std::vector<std::size_t> used(n, 0), workspace(n, 0);
  std::vector<std::size_t> out_offset(ops), transfer_offset(scheduler_.num_transfers());
  for (OpId u = 0; u < ops; ++u) {
    const DeviceId d = scheduler_.device_of(u);
    out_offset[u] = used[d];
    used[d] += align_up(kernels_.output_bytes(u));
    workspace[d] = std::max(workspace[d], kernels_.workspace_bytes(u));
  }
  for (TransferId t = 0; t < scheduler_.num_transfers(); ++t) {
    const Transfer& tr = scheduler_.transfer(t);
    transfer_offset[t] = used[tr.dst];
    used[tr.dst] += align_up(kernels_.output_bytes(tr.tensor));
  }
  std::vector<std::size_t> workspace_offset(n);
  for (DeviceId d = 0; d < n; ++d) {
    workspace_offset[d] = used[d];
    used[d] += workspace[d] * streams;
  }
  out_.resize(ops);
  transfer_buffer_.resize(scheduler_.num_transfers());
  workspace_.assign(n, {});
  std::vector<std::byte*> base(n, nullptr);
  for (DeviceId d = 0; d < n; ++d) {
    if (!local(d)) continue;
    base[d] = devices_.arena(d, used[d]);
    for (std::size_t s = 0; s < streams; ++s)
      workspace_[d].push_back(base[d] + workspace_offset[d] + workspace[d] * s);
  }
  local_ops_ = 0;
  for (OpId u = 0; u < ops; ++u) {
    const DeviceId d = scheduler_.device_of(u);
    out_[u] = local(d) ? base[d] + out_offset[u] : nullptr;
    local_ops_ += local(d);
  }
  for (TransferId t = 0; t < scheduler_.num_transfers(); ++t) {
    const DeviceId d = scheduler_.transfer(t).dst;
    transfer_buffer_[t] = local(d) ? base[d] + transfer_offset[t] : nullptr;
  }
}

// Each task input's buffer: the producer's output on the same device, else its transfer's copy.
void Run::resolve_inputs() {
  input_begin_.assign(exec_.num_ops + 1, 0);
  for (OpId v = 0; v < exec_.num_ops; ++v) {
    const DeviceId d = scheduler_.device_of(v);
    input_begin_[v] = inputs_.size();
    if (!local(d)) {
      inputs_.insert(inputs_.end(), lowered_.tasks[v].inputs.size(), nullptr);
      continue;
    }
    for (const OpId u : lowered_.tasks[v].inputs) {
      const void* buffer = nullptr;
      if (scheduler_.device_of(u) == d) {
        buffer = out_[u];
      } else {
        for (const TransferId t : scheduler_.transfers_of(u))
          if (scheduler_.transfer(t).dst == d) buffer = transfer_buffer_[t];
      }
      if (!buffer) {
        throw Error("hw: task '" + lowered_.graph.op(v).name + "' reads '" + lowered_.graph.op(u).name +
                    "', which is no predecessor in the task graph");
      }
      inputs_.push_back(buffer);
    }
  }
  input_begin_[exec_.num_ops] = inputs_.size();
}

// With preload_inputs, the load blocks are copied to their devices before the clock starts.
void Run::preload() {
  if (!options_.preload_inputs) return;
  for (OpId u = 0; u < exec_.num_ops; ++u) {
    const DeviceId d = scheduler_.device_of(u);
    if (!state_.host_block[u] || !local(d)) continue;
    devices_.use(d);
    check(cudaMemcpyAsync(out_[u], state_.host_block[u], kernels_.output_bytes(u), cudaMemcpyHostToDevice,
                          devices_[d].host_to_device),
          Where{"task", lowered_.graph.op(u).name, static_cast<int>(d)}, "cudaMemcpyAsync (preload)");
  }
  devices_.synchronize();
}

void Run::make_events() {
  devices_.reset_events();
  start_event_.resize(exec_.num_ops);
  end_event_.resize(exec_.num_ops);
  for (OpId u = 0; u < exec_.num_ops; ++u) {
    const DeviceId d = scheduler_.device_of(u);
    start_event_[u] = local(d) ? devices_.make_event(d) : nullptr;
    end_event_[u] = local(d) ? devices_.make_event(d) : nullptr;
  }
  // A transfer's events are on its source (the sending side), or on its destination when only
  // the destination is local (a receive).
  transfer_start_.resize(scheduler_.num_transfers());
  transfer_end_.resize(scheduler_.num_transfers());
  for (TransferId t = 0; t < scheduler_.num_transfers(); ++t) {
    const Transfer& tr = scheduler_.transfer(t);
    const bool any = local(tr.src) || local(tr.dst);
    const DeviceId side = local(tr.src) ? tr.src : tr.dst;
    transfer_start_[t] = any ? devices_.make_event(side) : nullptr;
    transfer_end_[t] = any ? devices_.make_event(side) : nullptr;
  }
  base_.assign(devices_.size(), nullptr);
  for (DeviceId d = 0; d < devices_.size(); ++d)
    if (local(d)) base_[d] = devices_.make_event(d);
  queued_.assign(devices_.size(), std::vector<int>(static_cast<std::size_t>(options_.streams), 0));
  stream_of_.assign(exec_.num_ops, 0);
  finished_.assign(exec_.num_ops, 0);
  resident_.assign(exec_.num_ops, 0);
  if (options_.preload_inputs)
    for (OpId u = 0; u < exec_.num_ops; ++u) resident_[u] = lowered_.tasks[u].role == TaskRole::kLoad;
  inflight_.assign(devices_.size(), {});
}

// Base events: recorded at one host instant; across processes right after a barrier (an
// all-reduce), which every GPU leaves at nearly the same time.
void Run::start_clock() {
  if (options_.warm_up) devices_.warm_up();
  devices_.synchronize();
  for (DeviceId d = 0; d < devices_.size(); ++d) {
    if (!local(d)) continue;
    const Where where{"set-up", "", static_cast<int>(d)};
    devices_.use(d);
    const cudaStream_t stream = devices_[d].compute[0];
    if (nccl_)
      nccl_->all_reduce_sum(reinterpret_cast<double*>(devices_.scratch(d, sizeof(double))), 1, stream);
    check(cudaEventRecord(base_[d], stream), where, "cudaEventRecord");
    if (nccl_) check(cudaStreamSynchronize(stream), where, "cudaStreamSynchronize (barrier)");
  }
}

// Enqueues every op the scheduler releases on device d, on its least loaded compute stream (a
// resident load finishes at once); the op's same-device successors count its output as arrived
// at once (ordered by stream or event). Then its transfers queue behind it (after the kernels,
// so that their launch costs do not delay the kernels). Returns whether any op was released.
bool Run::launch_ops(DeviceId d) {
  bool any = false;
  for (;;) {
    OpId u = kNoOp;
    {
      const std::lock_guard lock(mutex_);
      u = scheduler_.next_op(d);
      if (u == kNoOp) break;
      ++in_progress_;
    }
    any = true;
    if (resident_[u]) {
      finished_[u] = 1;
    } else {
      std::vector<int>& queued = queued_[d];
      const int stream = static_cast<int>(std::min_element(queued.begin(), queued.end()) - queued.begin());
      ++queued[static_cast<std::size_t>(stream)];
      launch(u, d, stream);
      inflight_[d].push_back({false, u, end_event_[u]});
    }
    {
      const std::lock_guard lock(mutex_);
      for (const OpId v : exec_.successors(u))
        if (scheduler_.device_of(v) == d && scheduler_.input_arrived(v)) scheduler_.make_ready(v);
      for (const TransferId t : scheduler_.transfers_of(u)) {
        if (local(scheduler_.transfer(t).dst)) {
          scheduler_.transfer_ready(t);
        } else {
          send_ready_[t] = 1;
        }
        ++in_progress_;
      }
      if (resident_[u]) {
        scheduler_.op_finished(u);
        ++done_;
        --in_progress_;
      }
    }
  }
  launch_transfers(d);
  return any;
}

void Run::launch(OpId u, DeviceId d, int index) {
  const DeviceResources& dev = devices_[d];
  const Where where{"task", lowered_.graph.op(u).name, static_cast<int>(d)};
  check(cudaSetDevice(dev.ordinal), where, "cudaSetDevice");
  const bool copy_in = lowered_.tasks[u].role == TaskRole::kLoad && !options_.preload_inputs;
  const auto slot = static_cast<std::size_t>(index);
  const cudaStream_t stream = copy_in ? dev.host_to_device : dev.compute[slot];
  stream_of_[u] = copy_in ? -1 : index;
  for (const OpId p : exec_.predecessors(u)) {
    if (finished_[p] || scheduler_.device_of(p) != d || stream_of_[p] == stream_of_[u]) continue;
    check(cudaStreamWaitEvent(stream, end_event_[p], 0), where, "cudaStreamWaitEvent");
  }
  check(cudaEventRecord(start_event_[u], stream), where, "cudaEventRecord");
  if (copy_in) {
    check(cudaMemcpyAsync(out_[u], state_.host_block[u], kernels_.output_bytes(u), cudaMemcpyHostToDevice,
                          stream),
          where, "cudaMemcpyAsync");
  } else if (lowered_.tasks[u].role != TaskRole::kLoad) {
    const std::span<const void* const> inputs(inputs_.data() + input_begin_[u],
                                              inputs_.data() + input_begin_[u + 1]);
    kernels_.launch(u, inputs, out_[u],
                    LaunchContext{stream, dev.blas[slot], workspace_[d][slot], static_cast<int>(d)});
  }
  check(cudaEventRecord(end_event_[u], stream), where, "cudaEventRecord");
}

// Every transfer the scheduler releases from `src` (its FIFO, in release order) is enqueued at once
// on the copy stream of its destination, behind its producer's end event.
void Run::launch_transfers(DeviceId src) {
  if (nccl_) post_remote(src);
  for (;;) {
    TransferId t = kNoTransfer;
    {
      const std::lock_guard lock(mutex_);
      t = scheduler_.next_transfer(src, src);  // the source's FIFO head, to whichever destination
      if (t == kNoTransfer) break;
      scheduler_.transfer_finished(t);
    }
    const OpId producer = scheduler_.transfer(t).tensor;
    const DeviceId dst = scheduler_.transfer(t).dst;
    const Where where{"transfer of", lowered_.graph.op(producer).name, static_cast<int>(src)};
    const DeviceResources& from = devices_[src];
    const cudaStream_t stream = from.to_device[dst];
    check(cudaSetDevice(from.ordinal), where, "cudaSetDevice");
    if (!finished_[producer])
      check(cudaStreamWaitEvent(stream, end_event_[producer], 0), where, "cudaStreamWaitEvent");
    check(cudaEventRecord(transfer_start_[t], stream), where, "cudaEventRecord");
    check(cudaMemcpyPeerAsync(transfer_buffer_[t], devices_[dst].ordinal, out_[producer], from.ordinal,
                              kernels_.output_bytes(producer), stream),
          where, "cudaMemcpyPeerAsync");
    check(cudaEventRecord(transfer_end_[t], stream), where, "cudaEventRecord");
    inflight_[src].push_back({true, t, transfer_end_[t]});
  }
}

void Run::op_done(OpId u) {
  const DeviceId d = scheduler_.device_of(u);
  finished_[u] = 1;
  if (stream_of_[u] >= 0) --queued_[d][static_cast<std::size_t>(stream_of_[u])];
  const std::lock_guard lock(mutex_);
  scheduler_.op_finished(u);
  ++done_;
  --in_progress_;
}

void Run::transfer_done(TransferId t) {
  const std::lock_guard lock(mutex_);
  if (local(scheduler_.transfer(t).dst))
    for (const OpId v : scheduler_.consumers_of(t))
      if (scheduler_.input_arrived(v)) scheduler_.make_ready(v);
  --in_progress_;
}

// Every process orders all transfers by the producer's topological position (ties by transfer
// id) and posts those it takes part in, in that order, on its one NCCL stream. So each pair's
// sends and receives meet in the same order, and the first transfer not yet done can always
// complete (its producer depends only on earlier ones): no deadlock.
void Run::order_remote_transfers() {
  std::vector<std::size_t> position(exec_.num_ops);
  for (std::size_t i = 0; i < exec_.topo.size(); ++i) position[exec_.topo[i]] = i;
  remote_order_.clear();
  for (TransferId t = 0; t < scheduler_.num_transfers(); ++t) {
    const Transfer& tr = scheduler_.transfer(t);
    if (local(tr.src) != local(tr.dst)) remote_order_.push_back(t);
  }
  std::sort(remote_order_.begin(), remote_order_.end(), [&](TransferId a, TransferId b) {
    const std::size_t pa = position[scheduler_.transfer(a).tensor],
                      pb = position[scheduler_.transfer(b).tensor];
    return pa != pb ? pa < pb : a < b;
  });
  remote_next_ = 0;
  send_ready_.assign(scheduler_.num_transfers(), 0);
}

// Posts the next transfers of the order on local device d's NCCL stream: receives at once, sends
// once their producer is enqueued (the stream waits for its end event).
void Run::post_remote(DeviceId d) {
  const cudaStream_t stream = devices_[d].remote;
  for (; remote_next_ < remote_order_.size(); ++remote_next_) {
    const TransferId t = remote_order_[remote_next_];
    const Transfer& tr = scheduler_.transfer(t);
    const bool send = local(tr.src);
    if (send && !send_ready_[t]) return;
    const std::string& name = lowered_.graph.op(tr.tensor).name;
    const Where where{"transfer of", name, static_cast<int>(tr.src)};
    if (send && !finished_[tr.tensor])
      check(cudaStreamWaitEvent(stream, end_event_[tr.tensor], 0), where, "cudaStreamWaitEvent");
    check(cudaEventRecord(transfer_start_[t], stream), where, "cudaEventRecord");
    if (send) {
      nccl_->send(out_[tr.tensor], kernels_.output_bytes(tr.tensor), static_cast<int>(tr.dst), stream, name);
    } else {
      nccl_->recv(transfer_buffer_[t], kernels_.output_bytes(tr.tensor), static_cast<int>(tr.src), stream,
                  name);
      const std::lock_guard lock(mutex_);
      ++in_progress_;
    }
    check(cudaEventRecord(transfer_end_[t], stream), where, "cudaEventRecord");
    inflight_[d].push_back({true, t, transfer_end_[t]});
  }
}

double Run::elapsed(DeviceId d, cudaEvent_t event) const {
  float ms = 0;
  check(cudaEventElapsedTime(&ms, base_[d], event), Where{"timing", "", static_cast<int>(d)},
        "cudaEventElapsedTime");
  return ms;
}

ExecuteResult Run::collect() {
  ExecuteResult result;
  result.tasks.resize(exec_.num_ops);
  for (OpId u = 0; u < exec_.num_ops; ++u) {
    const DeviceId d = scheduler_.device_of(u);
    result.tasks[u] = TaskTiming{d, 0, 0.0, 0.0};
    if (!resident_[u] && local(d))
      result.tasks[u] = TaskTiming{d, stream_of_[u], elapsed(d, start_event_[u]), elapsed(d, end_event_[u])};
    if (kernels_.is_gemm(u)) ++result.gemm_joins;
    if (kernels_.is_generic_join(u)) ++result.generic_joins;
  }
  for (TransferId t = 0; t < scheduler_.num_transfers(); ++t) {
    const Transfer& tr = scheduler_.transfer(t);
    TransferTiming timing{tr.tensor, tr.src, tr.dst, static_cast<double>(kernels_.output_bytes(tr.tensor)),
                          0,         0};
    if (local(tr.src)) {
      timing.start_ms = elapsed(tr.src, transfer_start_[t]);
      timing.end_ms = elapsed(tr.src, transfer_end_[t]);
    }
    result.transfers.push_back(timing);
  }
  if (nccl_) gather_timings(result);
  for (const TaskTiming& t : result.tasks) result.makespan_ms = std::max(result.makespan_ms, t.end_ms);
  for (const TransferTiming& t : result.transfers)
    result.makespan_ms = std::max(result.makespan_ms, t.end_ms);
  result.gpu = state_.environment;
  result.values.resize(graph_.num_tensors());
  for (einsum::TensorId t = 0; t < graph_.num_tensors(); ++t) {
    const einsum::Tensor& tensor = graph_.tensor(t);
    const bool wanted = (options_.return_outputs && tensor.kind == einsum::TensorKind::kOutput) ||
                        (options_.assemble_intermediates && tensor.kind == einsum::TensorKind::kIntermediate);
    if (wanted) result.values[t] = assemble(t);
  }
  return result;
}

// Every process contributes the timings of its own tasks and sends (zeros elsewhere); one sum.
void Run::gather_timings(ExecuteResult& result) {
  const std::size_t ops = result.tasks.size(), transfers = result.transfers.size();
  std::vector<double> packed(3 * ops + 2 * transfers, 0.0);
  for (OpId u = 0; u < ops; ++u) {
    packed[3 * u] = result.tasks[u].start_ms;
    packed[3 * u + 1] = result.tasks[u].end_ms;
    packed[3 * u + 2] = local(scheduler_.device_of(u)) ? result.tasks[u].stream : 0;
  }
  for (TransferId t = 0; t < transfers; ++t) {
    packed[3 * ops + 2 * t] = result.transfers[t].start_ms;
    packed[3 * ops + 2 * t + 1] = result.transfers[t].end_ms;
  }
  all_reduce(packed);
  for (OpId u = 0; u < ops; ++u) {
    result.tasks[u].start_ms = packed[3 * u];
    result.tasks[u].end_ms = packed[3 * u + 1];
    result.tasks[u].stream = static_cast<int>(packed[3 * u + 2]);
  }
  for (TransferId t = 0; t < transfers; ++t) {
    result.transfers[t].start_ms = packed[3 * ops + 2 * t];
    result.transfers[t].end_ms = packed[3 * ops + 2 * t + 1];
  }
}

// Sums a host vector over all processes, through the local device.
template <typename T>
void Run::all_reduce(std::vector<T>& values) {
  DeviceId d = 0;
  while (!local(d)) ++d;
  const Where where{"gather", "", static_cast<int>(d)};
  devices_.use(d);
  T* buffer = reinterpret_cast<T*>(devices_.scratch(d, values.size() * sizeof(T)));
  const cudaStream_t stream = devices_[d].compute[0];
  check(cudaMemcpyAsync(buffer, values.data(), values.size() * sizeof(T), cudaMemcpyHostToDevice, stream),
        where, "cudaMemcpyAsync");
  nccl_->all_reduce_sum(buffer, values.size(), stream);
  check(cudaMemcpyAsync(values.data(), buffer, values.size() * sizeof(T), cudaMemcpyDeviceToHost, stream),
        where, "cudaMemcpyAsync");
  check(cudaStreamSynchronize(stream), where, "cudaStreamSynchronize");
}

// The tensor from this process's blocks; with other processes, their blocks summed in (each
// element belongs to exactly one block).
std::vector<float> Run::assemble(einsum::TensorId t) {
  const einsum::Tensor& tensor = graph_.tensor(t);
  const std::vector<einsum::Range> box = whole_box(tensor.dims);
  std::vector<float> values(static_cast<std::size_t>(tensor.elements()));
  std::vector<std::byte> bytes;
  std::vector<float> block;
  for (const OpId u : lowered_.tensors[t].tasks) {
    const DeviceId d = scheduler_.device_of(u);
    if (!local(d)) continue;
    bytes.resize(kernels_.output_bytes(u));
    devices_.use(d);
    check(cudaMemcpy(bytes.data(), out_[u], bytes.size(), cudaMemcpyDeviceToHost),
          Where{"task", lowered_.graph.op(u).name, static_cast<int>(d)}, "cudaMemcpy (result)");
    const ElemType type = kernels_.output_type(u);
    block.resize(bytes.size() / elem_bytes(type));
    decode(bytes.data(), type, block);
    if (auto copy = box_copy(lowered_.tasks[u].ranges, box))
      run_copy_on_host(*copy, block.data(), values.data());
  }
  if (nccl_) all_reduce(values);
  return values;
}

}  // namespace

void Executor::State::open(const Plan& plan) {
  int n = options.num_devices > 0 ? options.num_devices : static_cast<int>(plan_devices(plan));
  std::vector<int> ordinals = options.cuda_devices;
  if (options.processes) {  // one local device: the rank's; the others' ordinals are -1
    const ProcessGroup& group = *options.processes;
    if (n > group.size) {
      throw Error("hw: the plan uses " + std::to_string(n) + " devices but the process group has " +
                  std::to_string(group.size) + " processes (one per device)");
    }
    n = group.size;
    const int ordinal = options.cuda_devices.empty() ? 0 : options.cuda_devices.front();
    ordinals.assign(static_cast<std::size_t>(n), -1);
    ordinals[static_cast<std::size_t>(group.rank)] = ordinal;
  }
  if (ordinals.empty())
    for (int d = 0; d < n; ++d) ordinals.push_back(d);
  if (static_cast<int>(ordinals.size()) != n) {
    throw Error("hw: " + std::to_string(ordinals.size()) + " CUDA devices given for a plan on " +
                std::to_string(n) + " devices");
  }
  std::string reason;
  const int visible = visible_gpus(&reason);
  for (const int ordinal : ordinals) {
    if (options.processes && ordinal < 0) continue;
    if (ordinal < 0 || ordinal >= visible) {
      throw Error("hw: plan '" + plan.source + "' needs CUDA device " + std::to_string(ordinal) + " but " +
                  std::to_string(visible) + " are visible" + (reason.empty() ? "" : " (" + reason + ")"));
    }
  }
  const int slots = options.streams * options.queue_depth;
  auto created = std::make_unique<DeviceSet>(ordinals, options.streams);
  scheduler = std::make_unique<Scheduler>(exec, std::vector<int>(ordinals.size(), slots));
  // A GPU runs its peer copies one after another, whatever their streams (measured on H100s: copies
  // leaving one GPU for different GPUs never overlap): one FIFO per source, in release order.
  scheduler->set_copy_engines(std::vector<int>(ordinals.size(), 1));
  devices = std::move(created);
  if (options.processes) {
    const ProcessGroup& group = *options.processes;
    const int ordinal = ordinals[static_cast<std::size_t>(group.rank)];
    devices->use(static_cast<DeviceId>(group.rank));
    nccl = std::make_unique<NcclGroup>(group.rank, group.size, group.rendezvous, group.job_id);
    environment = read_run_environment({ordinal});
    environment.names.assign(static_cast<std::size_t>(n),
                             environment.name);  // each rank sees its own GPU only
  } else {
    environment = read_run_environment(ordinals);
  }
}

// Load blocks: the reference's input values, gathered per block and converted, in pinned memory
// (once, by the first run, after its device arenas exist).
void Executor::State::stage_loads() {
  std::vector<std::vector<float>> values(graph.num_tensors());
  std::size_t bytes = 0;
  for (OpId u = 0; u < exec.num_ops; ++u)
    if (lowered.tasks[u].role == TaskRole::kLoad) bytes += align_up(kernels.output_bytes(u));
  std::byte* pinned = devices->allocate_pinned(bytes);
  host_block.assign(exec.num_ops, nullptr);
  for (OpId u = 0; u < exec.num_ops; ++u) {
    const einsum::TaskInfo& info = lowered.tasks[u];
    if (info.role != TaskRole::kLoad) continue;
    if (values[info.tensor].empty()) values[info.tensor] = input_tensor_values(graph, info.tensor, options.inputs);
    encode_input_block(graph, info, values[info.tensor], pinned);
    host_block[u] = pinned;
    pinned += align_up(kernels.output_bytes(u));
  }
}

Executor::Executor(const einsum::EinsumGraph& graph, const einsum::LoweredGraph& lowered,
                   ExecuteOptions options) {
  if (options.streams < 1) throw Error("hw: streams per device must be >= 1");
  if (options.queue_depth < 1) throw Error("hw: queue depth must be >= 1");
  state_ = std::make_unique<State>(graph, lowered, std::move(options));
}

Executor::~Executor() = default;

ExecuteResult Executor::run(const Plan& plan) {
  if (!state_->devices) {
    validate_plan(plan, state_->lowered.graph,
                  state_->options.num_devices > 0 ? static_cast<std::size_t>(state_->options.num_devices)
                                                  : plan_devices(plan));
    state_->open(plan);
  }
  validate_plan(plan, state_->lowered.graph, state_->devices->size());
  return Run(*state_, plan).run();
}

int visible_gpus(std::string* reason) {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    cudaGetLastError();
    if (reason) *reason = std::string("no usable CUDA device: ") + cudaGetErrorString(status);
    return 0;
  }
  if (count == 0 && reason) *reason = "no CUDA device is visible";
  return count;
}

ExecuteResult execute(const einsum::EinsumGraph& graph, const einsum::LoweredGraph& lowered, const Plan& plan,
                      const ExecuteOptions& options) {
  return Executor(graph, lowered, options).run(plan);
}

}  // namespace doppler::hw
