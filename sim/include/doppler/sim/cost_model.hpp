#pragma once
// Contract: per-(op, device) compute times and per-transfer times for one graph on one machine
// under one cost model, precomputed once so engines and policies only index arrays.
//  paper:    compute = the op's fixed cost; every cross-device edge leaving u takes comm_cost[u];
//            transfers never contend. (Ops without fixed/comm costs fall back to roofline numbers.)
//  roofline: compute = max(flops / peak, (bytes read + written) / memory bandwidth) + launch
//            overhead (the fixed cost when an op has no flops or bytes); a transfer of u's output
//            takes link latency + bytes / bandwidth and holds its directed link while it runs.
//            With a machine calibration (machine.hpp), a calibrated task kind's compute is its
//            measured time for that exact (flops, bytes) shape, else the kind's fitted roofline.
#include <span>
#include <string>
#include <vector>

#include "doppler/exec_graph.hpp"
#include "doppler/machine.hpp"
#include "doppler/task_graph.hpp"

namespace doppler::sim {

enum class CostModelKind { paper, roofline };
CostModelKind parse_cost_model(const std::string& name);  // "paper" | "roofline", else Error
const char* to_string(CostModelKind kind);

class CostTable {
 public:
  CostTable(const TaskGraph& graph, const Machine& machine, CostModelKind kind);

  CostModelKind kind() const { return kind_; }
  std::size_t num_devices() const { return num_devices_; }
  double compute(OpId op, DeviceId device) const { return compute_[op * num_devices_ + device]; }
  // A transfer's time as heuristics and the ideal engine see it: copy dispatch + link_time.
  double transfer(OpId producer, DeviceId src, DeviceId dst) const {
    return per_op_comm_ ? comm_[producer] : copy_dispatch_ + link_time(producer, src, dst);
  }
  // Its time on the link alone: latency + bytes / bandwidth (the paper model: comm_cost).
  double link_time(OpId producer, DeviceId src, DeviceId dst) const {
    return per_op_comm_ ? comm_[producer] : links_[src * num_devices_ + dst].transfer_time(bytes_[producer]);
  }
  double bytes(OpId producer) const { return bytes_[producer]; }
  // Time from a transfer's end until its consumers may start (a calibrated machine's arrival
  // latency under the roofline model; else 0). A calibrated machine's copy dispatch time is part
  // of every transfer().
  double arrival_latency() const { return arrival_latency_; }
  // A calibrated machine's copy dispatch (from the producer's end to its copy's start) and copy
  // gap (between back-to-back copies of one engine); roofline model, else 0.
  double copy_dispatch() const { return copy_dispatch_; }
  // A calibrated machine's dispatch gap (roofline model, else 0): part of every compute() that
  // takes time; the issue engine charges it only between back-to-back kernels of a stream.
  double dispatch_gap() const { return dispatch_gap_; }
  // A calibrated machine's concurrency_slowdown (roofline model, else 1) and calibration format.
  double concurrency_slowdown() const { return concurrency_slowdown_; }
  int calibration_format() const { return calibration_format_; }
  double copy_gap() const { return copy_gap_; }
  // When the first ops may start (a calibrated machine's start latency; else 0).
  double start_latency() const { return start_latency_; }
  // A calibrated machine's issue depth (roofline model; else 0): see sim/issue_engine.hpp.
  int issue_depth() const { return issue_depth_; }
  // The executor's host side of a calibrated machine (roofline model; machine.hpp): whether it is
  // modelled, host seconds to launch op (its kind's host_launch; host_load for an op that takes no
  // time), to send a copy, and from a kernel's launch until it may start.
  bool models_host() const { return models_host_; }
  double host_launch(OpId op) const { return models_host_ ? host_launch_[op] : 0.0; }
  double host_copy() const { return host_copy_; }
  double launch_latency() const { return launch_latency_; }
  // True when every transfer of an op takes the same time whatever the devices (paper model).
  bool per_op_comm() const { return per_op_comm_; }
  bool has_zero_compute() const { return has_zero_compute_; }  // some op takes no time somewhere

  // Device-independent estimates for analysis and heuristics: fastest device's compute, and the
  // slowest link's transfer (the paper model: comm_cost).
  const std::vector<double>& compute_estimate() const { return compute_estimate_; }
  const std::vector<double>& comm_estimate() const { return comm_estimate_; }

 private:
  void init_host(const TaskGraph& graph, const Calibration& calibration);

  CostModelKind kind_;
  std::size_t num_devices_;
  bool per_op_comm_;
  bool has_zero_compute_ = false;
  double arrival_latency_ = 0;
  double copy_dispatch_ = 0;
  double copy_gap_ = 0;
  double dispatch_gap_ = 0;
  double concurrency_slowdown_ = 1;
  int calibration_format_ = 2;
  double start_latency_ = 0;
  int issue_depth_ = 0;
  bool models_host_ = false;
  double host_copy_ = 0;
  double launch_latency_ = 0;
  std::vector<double> host_launch_;
  std::vector<double> compute_;
  std::vector<double> comm_;
  std::vector<double> bytes_;
  std::vector<LinkSpec> links_;
  std::vector<double> compute_estimate_;
  std::vector<double> comm_estimate_;
};

}  // namespace doppler::sim
