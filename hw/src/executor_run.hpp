#pragma once
// Contract (internal to hw/): what an Executor keeps between runs (Executor::State: GPUs,
// scheduler, kernels, staged inputs, NCCL group, host threads) and RUN, one run of a plan on them:
// the host threads' launch loop (executor_run.cpp), multi-process transfers and gathering
// (executor_remote.cpp), timings and outputs (executor_results.cpp).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "cuda_check.hpp"
#include "device_set.hpp"
#include "doppler/exec_graph.hpp"
#include "doppler/hw/executor.hpp"
#include "doppler/scheduler.hpp"
#include "nccl_group.hpp"
#include "spin_lock.hpp"
#include "task_kernels.hpp"
#include "worker_threads.hpp"

namespace doppler::hw {

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
  // Where the last run preloaded each load's block (by op) and its devices' arena generations: a
  // run with the same places finds its inputs there (no run writes into a load's block).
  std::vector<const std::byte*> preloaded_at;
  std::vector<std::uint64_t> preloaded_generation;
  GpuInfo environment;
  std::unique_ptr<NcclGroup> nccl;         // multi-process mode
  std::unique_ptr<WorkerThreads> workers;  // one host thread per local device, kept across runs
};

// One run of a plan on the executor's devices.
class Run {
 public:
  Run(Executor::State& state, const Plan& plan);
  ExecuteResult run();

 private:
  // An op or transfer in flight. Events of one queue (a stream) complete in launch order, so a
  // device's thread queries only the oldest unfinished one of each queue; kAnyOrder: always queried.
  static constexpr int kAnyOrder = -1000;
  struct Inflight {
    bool transfer;
    std::uint32_t id;
    cudaEvent_t end;
    int queue;  // a compute stream's index (-1: the host->device stream), kCopyQueues + destination
  };
  static constexpr int kCopyQueues = 1000;
  static constexpr std::chrono::milliseconds kGateWait{100};  // gated_start: the longest hold

  Where where_of(const Inflight& f) const;
  void allocate();
  void resolve_inputs();
  void preload();
  void make_events();
  void start_clock();
  void device_loop(DeviceId d);
  bool launch_ops(DeviceId d);
  double host_ms_now() const;                                    // ms since host_epoch_
  bool gated() const { return options_.gated_start && !nccl_; }  // gated_start applies (one process)
  double on_clock(double host_ms) const;                         // such a time as ms from the clock's start
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
  std::vector<TransferId> input_transfer_;  // parallel to inputs_: the transfer bringing it, if any

  std::vector<cudaEvent_t> start_event_, end_event_, transfer_start_, transfer_end_, base_;
  std::vector<std::vector<int>> queued_;  // by device and compute stream: enqueued, not finished
  std::vector<int> stream_of_;            // compute stream index; -1: the host->device stream
  // One host thread per device launches its ops and outgoing transfers and polls their events;
  // a device's entries below are touched by its thread only, the scheduler under mutex_.
  std::vector<std::uint8_t> finished_;
  std::vector<std::uint8_t> resident_;  // preloaded loads: nothing to run (an end event only)
  std::vector<double> launched_ms_;     // host time of each op's launch, ms after host_epoch_ (NaN: none)
  std::vector<double> transfer_launched_ms_;
  std::vector<double> submitted_ms_;  // when the op's kernel or copy call returned (NaN: none)
  std::vector<double> transfer_submitted_ms_;
  std::chrono::steady_clock::time_point host_epoch_;     // the run's start; launch times count from it
  std::chrono::steady_clock::time_point clock_started_;  // when the GPUs' clock started (collect() converts)
  std::atomic<std::size_t> primed_{0};                   // device threads done with their first launch pass
  std::vector<std::vector<Inflight>> inflight_;          // by device
  SpinLock mutex_;
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

}  // namespace doppler::hw
