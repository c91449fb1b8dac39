#include "doppler/sim/cost_model.hpp"

#include <algorithm>

#include "doppler/error.hpp"
#include "doppler/median.hpp"

namespace doppler::sim {

CostModelKind parse_cost_model(const std::string& name) {
  if (name == "paper") return CostModelKind::paper;
  if (name == "roofline") return CostModelKind::roofline;
  throw Error("unknown cost model '" + name + "' (expected paper or roofline)");
}

const char* to_string(CostModelKind kind) {
  return kind == CostModelKind::paper ? "paper" : "roofline";
}

namespace {

double roofline_time(const Op& op, const DeviceSpec& device) {
  const double bytes = op.bytes_read + op.bytes_written;
  if (op.flops == 0 && bytes == 0) return op.fixed_cost.value_or(0.0) + device.launch_overhead;
  double t = op.flops / device.flops;
  if (device.memory_bandwidth > 0) t = std::max(t, bytes / device.memory_bandwidth);
  return t + device.launch_overhead;
}

// A calibrated kind: its measured time for this exact shape, else its fitted roofline; other
// kinds keep the device roofline. A task that takes time also holds its stream for the
// dispatch gap (a task measured at 0, a resident input, launches nothing).
double calibrated_time(const Op& op, const DeviceSpec& device, const Calibration& calibration) {
  const auto kind = calibration.kinds.find(op.kind);
  const double bytes = op.bytes_read + op.bytes_written;
  double time = 0;
  if (kind == calibration.kinds.end()) {
    time = roofline_time(op, device);
  } else if (const ShapeTime* measured = kind->second.find(op.flops, bytes)) {
    time = measured->time;
  } else {
    time = kind->second.roofline(op.flops, bytes);
  }
  return time > 0 ? time + calibration.dispatch_gap : 0.0;
}

}  // namespace

CostTable::CostTable(const TaskGraph& graph, const Machine& machine, CostModelKind kind)
    : kind_(kind), num_devices_(machine.num_devices()), links_(machine.links) {
  const std::size_t n = graph.num_ops();
  const std::size_t d = num_devices_;
  compute_.resize(n * d);
  comm_.resize(n);
  bytes_.resize(n);
  compute_estimate_.resize(n);
  comm_estimate_.resize(n);
  per_op_comm_ = kind == CostModelKind::paper;
  if (kind == CostModelKind::roofline && machine.calibration) {
    arrival_latency_ = machine.calibration->arrival_latency;
    copy_dispatch_ = machine.calibration->copy_dispatch;
    copy_gap_ = machine.calibration->copy_gap;
    dispatch_gap_ = machine.calibration->dispatch_gap;
    concurrency_slowdown_ = machine.calibration->concurrency_slowdown;
    calibration_format_ = machine.calibration->format;
    start_latency_ = machine.calibration->start_latency;
    issue_depth_ = machine.calibration->issue_depth;
  }
  for (OpId v = 0; v < n; ++v) {
    const Op& op = graph.op(v);
    bytes_[v] = op.output_bytes;
    if (per_op_comm_ && !op.comm_cost && d > 1) per_op_comm_ = false;
    for (DeviceId k = 0; k < d; ++k) {
      if (kind == CostModelKind::paper && op.fixed_cost) {
        compute_[v * d + k] = *op.fixed_cost;
      } else if (kind == CostModelKind::roofline && machine.calibration) {
        compute_[v * d + k] = calibrated_time(op, machine.devices[k], *machine.calibration);
      } else {
        compute_[v * d + k] = roofline_time(op, machine.devices[k]);
      }
    }
    compute_estimate_[v] = *std::min_element(compute_.begin() + v * d, compute_.begin() + (v + 1) * d);
    if (compute_estimate_[v] <= 0) has_zero_compute_ = true;
  }
  if (kind == CostModelKind::roofline && machine.calibration) init_host(graph, *machine.calibration);
  for (OpId v = 0; v < n; ++v) {
    const Op& op = graph.op(v);
    comm_[v] = op.comm_cost.value_or(0.0);
    double slowest = 0;
    if (per_op_comm_) {
      slowest = comm_[v];
    } else {
      for (DeviceId s = 0; s < d; ++s)
        for (DeviceId t = 0; t < d; ++t)
          if (s != t) slowest = std::max(slowest, links_[s * d + t].transfer_time(bytes_[v]));
    }
    comm_estimate_[v] = slowest;
  }
}

// Per op (its compute known): host_load when it takes no time, else its shape's measured host time,
// else its kind's host_launch (kinds without one: the median over those with one).
void CostTable::init_host(const TaskGraph& graph, const Calibration& c) {
  std::vector<double> known;
  for (const auto& [kind, k] : c.kinds)
    if (k.host_launch > 0) known.push_back(k.host_launch);
  models_host_ = !known.empty() || c.host_load > 0 || c.host_copy > 0 || c.launch_latency > 0;
  if (!models_host_) return;
  host_copy_ = c.host_copy;
  launch_latency_ = c.launch_latency;
  const double fallback = median(known);
  host_launch_.resize(graph.num_ops());
  for (OpId v = 0; v < graph.num_ops(); ++v) {
    const Op& op = graph.op(v);
    const auto kind = c.kinds.find(op.kind);
    host_launch_[v] = compute_estimate_[v] <= 0 ? c.host_load : fallback;
    if (compute_estimate_[v] <= 0 || kind == c.kinds.end()) continue;
    if (const ShapeTime* measured = kind->second.find_host(op.flops, op.bytes_read + op.bytes_written)) {
      host_launch_[v] = measured->time;
    } else if (kind->second.host_launch > 0) {
      host_launch_[v] = kind->second.host_launch;
    }
  }
}

}  // namespace doppler::sim
