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
#include "run_environment.hpp"
#include "task_kernels.hpp"

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

std::vector<einsum::Range> whole(const std::vector<std::int64_t>& dims) {
  std::vector<einsum::Range> box;
  for (const std::int64_t n : dims) box.push_back(einsum::Range{0, n});
  return box;
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
  void op_done(OpId u);
  void transfer_done(TransferId t);
  void check_stall();
  double elapsed(DeviceId d, cudaEvent_t event) const;
  ExecuteResult collect();
  std::vector<float> assemble(einsum::TensorId t);

  Executor::State& state_;
  const einsum::EinsumGraph& graph_;
  const einsum::LoweredGraph& lowered_;
  const ExecuteOptions& options_;
  const ExecGraph& exec_;
  Scheduler& scheduler_;
  const TaskKernels& kernels_;
  DeviceSet& devices_;

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
  std::atomic<bool> abort_{false};
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
  std::vector<float> input_values(einsum::TensorId t) const;
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
      devices_(*state.devices) {
  scheduler_.start(plan.device, plan.priority);
  scheduler_.build_transfers();
  allocate();
  if (state_.host_block.empty()) state_.stage_loads();
  resolve_inputs();
  preload();
  make_events();
}

ExecuteResult Run::run() {
  for (const OpId v : scheduler_.sources()) scheduler_.make_ready(v);
  std::exception_ptr error;
  std::mutex error_mutex;
  // The threads spin until the clock starts (a blocking wait would wake them tens of us late).
  std::atomic<std::size_t> waiting{0};
  std::atomic<bool> go{false};
  std::chrono::steady_clock::time_point host_start;
  {
    std::vector<std::jthread> threads;
    for (DeviceId d = 0; d < devices_.size(); ++d) {
      threads.emplace_back([&, d] {
        ++waiting;
        while (!go) std::this_thread::yield();
        try {
          device_loop(d);
        } catch (...) {
          const std::lock_guard lock(error_mutex);
          if (!error) error = std::current_exception();
          abort_ = true;
        }
      });
    }
    while (waiting < devices_.size()) std::this_thread::yield();
    try {
      start_clock();
    } catch (...) {
      error = std::current_exception();
      abort_ = true;
    }
    host_start = std::chrono::steady_clock::now();
    go = true;
  }
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
    if (done_ == exec_.num_ops && mine.empty()) return;
    if (!progress) {
      if (mine.empty()) check_stall();
      std::this_thread::yield();
    }
  }
}

void Run::check_stall() {
  const std::lock_guard lock(mutex_);
  if (in_progress_ > 0 || done_ == exec_.num_ops) return;
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

// One arena per device: task outputs, transfer copies arriving there, the compute streams'
// workspaces.
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
  std::vector<std::byte*> base(n);
  for (DeviceId d = 0; d < n; ++d) {
    base[d] = devices_.arena(d, used[d]);
    for (std::size_t s = 0; s < streams; ++s)
      workspace_[d].push_back(base[d] + workspace_offset[d] + workspace[d] * s);
  }
  for (OpId u = 0; u < ops; ++u) out_[u] = base[scheduler_.device_of(u)] + out_offset[u];
  for (TransferId t = 0; t < scheduler_.num_transfers(); ++t)
    transfer_buffer_[t] = base[scheduler_.transfer(t).dst] + transfer_offset[t];
}

// Each task input's buffer: the producer's output on the same device, else its transfer's copy.
void Run::resolve_inputs() {
  input_begin_.assign(exec_.num_ops + 1, 0);
  for (OpId v = 0; v < exec_.num_ops; ++v) {
    const DeviceId d = scheduler_.device_of(v);
    input_begin_[v] = inputs_.size();
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
    if (!state_.host_block[u]) continue;
    const DeviceId d = scheduler_.device_of(u);
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
    start_event_[u] = devices_.make_event(scheduler_.device_of(u));
    end_event_[u] = devices_.make_event(scheduler_.device_of(u));
  }
  transfer_start_.resize(scheduler_.num_transfers());
  transfer_end_.resize(scheduler_.num_transfers());
  for (TransferId t = 0; t < scheduler_.num_transfers(); ++t) {
    transfer_start_[t] = devices_.make_event(scheduler_.transfer(t).src);
    transfer_end_[t] = devices_.make_event(scheduler_.transfer(t).src);
  }
  base_.resize(devices_.size());
  for (DeviceId d = 0; d < devices_.size(); ++d) base_[d] = devices_.make_event(d);
  queued_.assign(devices_.size(), std::vector<int>(static_cast<std::size_t>(options_.streams), 0));
  stream_of_.assign(exec_.num_ops, 0);
  finished_.assign(exec_.num_ops, 0);
  resident_.assign(exec_.num_ops, 0);
  if (options_.preload_inputs)
    for (OpId u = 0; u < exec_.num_ops; ++u) resident_[u] = lowered_.tasks[u].role == TaskRole::kLoad;
  inflight_.assign(devices_.size(), {});
}

void Run::start_clock() {
  if (options_.warm_up) devices_.warm_up();
  devices_.synchronize();
  for (DeviceId d = 0; d < devices_.size(); ++d) {
    devices_.use(d);
    check(cudaEventRecord(base_[d], devices_[d].compute[0]), Where{"set-up", "", static_cast<int>(d)},
          "cudaEventRecord");
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
        scheduler_.transfer_ready(t);
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

// A directed link is one FIFO copy stream: every transfer the scheduler releases is enqueued
// behind its producer's end event at once.
void Run::launch_transfers(DeviceId src) {
  for (DeviceId dst = 0; dst < devices_.size(); ++dst) {
    if (dst == src) continue;
    for (;;) {
      TransferId t = kNoTransfer;
      {
        const std::lock_guard lock(mutex_);
        t = scheduler_.next_transfer(src, dst);
        if (t == kNoTransfer) break;
        scheduler_.transfer_finished(t);
      }
      const OpId producer = scheduler_.transfer(t).tensor;
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
  for (const OpId v : scheduler_.consumers_of(t))
    if (scheduler_.input_arrived(v)) scheduler_.make_ready(v);
  --in_progress_;
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
    result.tasks[u] =
        resident_[u] ? TaskTiming{d, 0, 0.0, 0.0}
                     : TaskTiming{d, stream_of_[u], elapsed(d, start_event_[u]), elapsed(d, end_event_[u])};
    result.makespan_ms = std::max(result.makespan_ms, result.tasks[u].end_ms);
    if (kernels_.is_gemm(u)) ++result.gemm_joins;
    if (kernels_.is_generic_join(u)) ++result.generic_joins;
  }
  for (TransferId t = 0; t < scheduler_.num_transfers(); ++t) {
    const Transfer& tr = scheduler_.transfer(t);
    result.transfers.push_back(
        TransferTiming{tr.tensor, tr.src, tr.dst, static_cast<double>(kernels_.output_bytes(tr.tensor)),
                       elapsed(tr.src, transfer_start_[t]), elapsed(tr.src, transfer_end_[t])});
    result.makespan_ms = std::max(result.makespan_ms, result.transfers.back().end_ms);
  }
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

std::vector<float> Run::assemble(einsum::TensorId t) {
  const einsum::Tensor& tensor = graph_.tensor(t);
  const std::vector<einsum::Range> box = whole(tensor.dims);
  std::vector<float> values(static_cast<std::size_t>(tensor.elements()));
  std::vector<std::byte> bytes;
  std::vector<float> block;
  for (const OpId u : lowered_.tensors[t].tasks) {
    const DeviceId d = scheduler_.device_of(u);
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
  return values;
}

}  // namespace

void Executor::State::open(const Plan& plan) {
  const int n = options.num_devices > 0 ? options.num_devices : static_cast<int>(plan_devices(plan));
  std::vector<int> ordinals = options.cuda_devices;
  if (ordinals.empty())
    for (int d = 0; d < n; ++d) ordinals.push_back(d);
  if (static_cast<int>(ordinals.size()) != n) {
    throw Error("hw: " + std::to_string(ordinals.size()) + " CUDA devices given for a plan on " +
                std::to_string(n) + " devices");
  }
  std::string reason;
  const int visible = visible_gpus(&reason);
  for (const int ordinal : ordinals) {
    if (ordinal < 0 || ordinal >= visible) {
      throw Error("hw: plan '" + plan.source + "' needs CUDA device " + std::to_string(ordinal) + " but " +
                  std::to_string(visible) + " are visible" + (reason.empty() ? "" : " (" + reason + ")"));
    }
  }
  const int slots = options.streams * options.queue_depth;
  auto created = std::make_unique<DeviceSet>(ordinals, options.streams);
  scheduler = std::make_unique<Scheduler>(exec, std::vector<int>(ordinals.size(), slots));
  devices = std::move(created);
  environment = read_run_environment(ordinals);
}

std::vector<float> Executor::State::input_values(einsum::TensorId t) const {
  const einsum::Tensor& tensor = graph.tensor(t);
  const auto given = options.inputs.given.find(t);
  const std::vector<double> v = given != options.inputs.given.end()
                                    ? given->second
                                    : einsum::random_tensor_values(options.inputs.seed, t, tensor.elements(),
                                                                   options.inputs.low, options.inputs.high);
  if (static_cast<std::int64_t>(v.size()) != tensor.elements()) {
    throw Error("tensor '" + tensor.name + "': given " + std::to_string(v.size()) + " values, expected " +
                std::to_string(tensor.elements()));
  }
  return std::vector<float>(v.begin(), v.end());
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
    const einsum::Tensor& tensor = graph.tensor(info.tensor);
    if (values[info.tensor].empty()) values[info.tensor] = input_values(info.tensor);
    std::vector<float> block(static_cast<std::size_t>(einsum::elements_of(info.ranges)));
    if (auto copy = box_copy(whole(tensor.dims), info.ranges))
      run_copy_on_host(*copy, values[info.tensor].data(), block.data());
    encode(block, elem_type(tensor.dtype), pinned);
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
