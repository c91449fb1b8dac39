#pragma once
// Contract: simulates a plan on a machine under a cost model, driving the core Scheduler with
// events from a discrete-event engine. Deterministic: same inputs = bit-identical result and trace.
//  paper model -> PaperEngine: capacity-1 FIFO devices, uncontended per-edge delays, and same-time
//                 events ordered exactly as the Doppler paper's SimPy simulator orders them.
//  roofline    -> RooflineEngine: `streams` slots per device, one transfer at a time per directed
//                 link, events ordered by (time, sequence id).
// A Simulator is reusable: makespan() re-binds a plan without allocating (the RL hot path).
#include <memory>
#include <span>
#include <vector>

#include "doppler/exec_graph.hpp"
#include "doppler/machine.hpp"
#include "doppler/plan.hpp"
#include "doppler/scheduler.hpp"
#include "doppler/sim/cost_model.hpp"
#include "doppler/trace.hpp"

namespace doppler::sim {

struct SimResult {
  double makespan = 0;
  std::vector<double> busy;         // per device: summed compute time
  std::vector<double> utilisation;  // busy / (makespan * streams)
  double transfer_bytes = 0;
  std::size_t transfers = 0;
  std::uint64_t events = 0;  // engine events processed
  Trace trace;               // filled when asked
};

// An engine's bookkeeping of one transfer of `producer`'s output: totals in `detail` (when given)
// and, with `record`, its trace record.
void note_transfer(SimResult* detail, bool record, double bytes, OpId producer, DeviceId src, DeviceId dst,
                   double start, double end);

class Engine {
 public:
  virtual ~Engine() = default;
  // Runs the scheduler's bound plan to completion. With `detail`, fills busy time and transfer
  // totals, and the trace's records when `record_trace` is set.
  virtual double run(Scheduler& scheduler, SimResult* detail, bool record_trace) = 0;
  virtual std::uint64_t events() const = 0;
};

class Simulator {
 public:
  Simulator(const TaskGraph& graph, const Machine& machine, CostModelKind model);
  ~Simulator();
  Simulator(const Simulator&) = delete;
  Simulator& operator=(const Simulator&) = delete;

  // Validates the plan against graph and machine, runs it, reports everything.
  SimResult run(const Plan& plan, bool record_trace = false);
  // Hot path: no validation, no result allocation. Devices must be < num_devices().
  double makespan(std::span<const DeviceId> device, std::span<const double> priority = {});
  std::uint64_t last_events() const { return engine_->events(); }

  const TaskGraph& task_graph() const { return graph_; }
  const ExecGraph& graph() const { return exec_; }
  const Machine& machine() const { return machine_; }
  const CostTable& costs() const { return costs_; }
  CostModelKind model() const { return costs_.kind(); }
  // max(critical path without communication, total work / compute streams); with the host modelled
  // (issue engine), at least the start latency + total host launch time / devices - the longest launch.
  double lower_bound() const;

 private:
  const TaskGraph& graph_;
  Machine machine_;
  ExecGraph exec_;
  CostTable costs_;
  Scheduler scheduler_;
  std::vector<int> streams_;  // compute streams per device (the scheduler may hold more slots)
  std::unique_ptr<Engine> engine_;
};

}  // namespace doppler::sim
