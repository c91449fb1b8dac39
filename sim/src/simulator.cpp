#include "doppler/sim/simulator.hpp"

#include <algorithm>

#include "doppler/graph_analysis.hpp"
#include "doppler/sim/issue_engine.hpp"
#include "doppler/sim/paper_engine.hpp"
#include "doppler/sim/roofline_engine.hpp"

namespace doppler::sim {
namespace {

std::vector<int> streams_of(const Machine& machine, CostModelKind model) {
  std::vector<int> streams;
  for (const DeviceSpec& d : machine.devices)
    streams.push_back(model == CostModelKind::paper ? 1 : d.streams);
  return streams;
}

// The issue depth the engine replays (roofline model on a calibrated machine), else 0.
int issue_depth_of(const Machine& machine, CostModelKind model) {
  return model == CostModelKind::roofline && machine.calibration ? machine.calibration->issue_depth : 0;
}

// The Scheduler's slots per device: its streams, times the issue depth when ops are issued ahead.
std::vector<int> slots_of(const Machine& machine, CostModelKind model) {
  std::vector<int> slots = streams_of(machine, model);
  const int depth = issue_depth_of(machine, model);
  if (depth > 0)
    for (int& s : slots) s *= depth;
  return slots;
}

}  // namespace

void note_transfer(SimResult* detail, bool record, double bytes, OpId producer, DeviceId src, DeviceId dst,
                   double start, double end) {
  if (!detail) return;
  detail->transfer_bytes += bytes;
  ++detail->transfers;
  if (record)
    detail->trace.records.push_back({TraceRecord::Kind::transfer, producer, dst, src, 0, start, end, bytes});
}

Simulator::Simulator(const TaskGraph& graph, const Machine& machine, CostModelKind model)
    : graph_(graph),
      machine_(machine),
      exec_(ExecGraph::from(graph)),
      costs_(graph, machine, model),
      scheduler_(exec_, slots_of(machine, model)),
      streams_(streams_of(machine, model)) {
  if (model == CostModelKind::paper) {
    engine_ = std::make_unique<PaperEngine>(costs_);
    return;
  }
  std::vector<int> engines;
  std::vector<bool> shared_ingress;
  for (const DeviceSpec& d : machine.devices) {
    engines.push_back(d.copy_engines);
    shared_ingress.push_back(d.shared_ingress);
  }
  if (issue_depth_of(machine, model) > 0) {
    engine_ = std::make_unique<IssueEngine>(costs_, streams_, std::move(engines), std::move(shared_ingress));
    return;
  }
  engine_ = std::make_unique<RooflineEngine>(costs_);
  if (std::any_of(engines.begin(), engines.end(), [](int e) { return e > 0; }))
    scheduler_.set_copy_engines(std::move(engines));
}

Simulator::~Simulator() = default;

SimResult Simulator::run(const Plan& plan, bool record_trace) {
  validate_plan(plan, graph_, machine_.num_devices());
  scheduler_.start(plan.device, plan.priority);
  SimResult result;
  result.busy.assign(machine_.num_devices(), 0.0);
  result.makespan = engine_->run(scheduler_, &result, record_trace);
  result.events = engine_->events();
  for (std::size_t d = 0; d < machine_.num_devices(); ++d) {
    const double capacity = result.makespan * streams_[d];
    result.utilisation.push_back(capacity > 0 ? result.busy[d] / capacity : 0.0);
  }
  if (record_trace) {
    result.trace.time_unit = machine_.time_unit;
    for (const DeviceSpec& d : machine_.devices) result.trace.device_names.push_back(d.name);
  }
  return result;
}

double Simulator::makespan(std::span<const DeviceId> device, std::span<const double> priority) {
  scheduler_.start(device, priority);
  return engine_->run(scheduler_, nullptr, false);
}

double Simulator::lower_bound() const {
  std::size_t slots = 0;
  for (const int s : streams_) slots += static_cast<std::size_t>(s);
  const double bound = makespan_lower_bound(exec_, costs_.compute_estimate(), slots);
  if (!costs_.models_host() || issue_depth_of(machine_, costs_.kind()) == 0 || exec_.num_ops == 0)
    return bound;
  // With the host modelled, each device's thread launches its ops one after another from the start
  // latency on: the thread with the most launch time (at least the total over the devices) makes
  // its last launch after all its others, and that op ends no earlier.
  double total = 0, longest = 0;
  for (OpId op = 0; op < exec_.num_ops; ++op) {
    total += costs_.host_launch(op);
    longest = std::max(longest, costs_.host_launch(op));
  }
  const double host = costs_.start_latency() + total / static_cast<double>(streams_.size()) - longest;
  return std::max(bound, host);
}

}  // namespace doppler::sim
