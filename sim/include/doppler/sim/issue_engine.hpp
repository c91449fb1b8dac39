#pragma once
// Contract: the engine of the `roofline` model for a machine whose calibration has issue_depth k > 0:
// the CUDA backend's launch-ahead, replayed. The Scheduler (built with streams x k slots per device)
// releases an op as soon as its inputs are ISSUED (a same-device producer launched, a transfer
// enqueued), and a device takes up to k ops ahead per stream; host time advances only when an op
// finishes and frees a slot. An issued op goes to its device's least-loaded stream and runs in issue
// order there: it starts at max(issue time, the stream's previous op's end, its inputs' ends, a
// transfer's end + arrival latency). A transfer is enqueued when its producer is issued and runs, in
// issue order on its source's copy engine (copy_engines > 0) or on its directed link, from
// max(the producer's end + copy dispatch, the engine's previous copy's end + copy gap), for its
// link time (latency + bytes / bandwidth); into a device with shared_ingress, a copy advances at
// 1/(k+1) while k copies placed before it also arrive there (the earlier ones keep their times).
// With a calibration of format 2, a kernel that takes time starts at the earliest a dispatch gap
// after its stream's previous one (not after an input it waited for), and advances at
// 1/concurrency_slowdown while copies placed before it run to or from its device (format 1: the
// gap is part of every kernel's time, no slowdown).
// With the host modelled (the calibration's host_* fields, cost_model.hpp), each device's host
// thread launches its ops one after another, each holding it for its host_launch (a kernel may
// start launch_latency after its launch), then sends the copies of the ops it launched in that pass,
// each holding it for host_copy (a copy may start launch_latency after it was sent); an op that
// takes no time (a resident load: an event on its stream) holds its stream for the dispatch gap.
// Start latency delays the first issue. Same seed, plan and machine = same trace.
#include <cstdint>
#include <vector>

#include "doppler/sim/cost_model.hpp"
#include "doppler/sim/event_queue.hpp"
#include "doppler/sim/simulator.hpp"

namespace doppler::sim {

class IssueEngine final : public Engine {
 public:
  // Per device, from the machine: streams, copy_engines (0 = per link) and shared_ingress.
  IssueEngine(const CostTable& costs, std::vector<int> streams, std::vector<int> copy_engines,
              std::vector<bool> shared_ingress)
      : costs_(costs),
        streams_(std::move(streams)),
        copy_engines_(std::move(copy_engines)),
        shared_ingress_(std::move(shared_ingress)) {}
  double run(Scheduler& scheduler, SimResult* detail, bool record_trace) override;
  std::uint64_t events() const override { return events_; }

 private:
  void issue_ops(Scheduler& s, DeviceId d, double now, SimResult* detail);
  void issue_transfers(Scheduler& s, OpId producer, DeviceId src, double now, SimResult* detail);
  double input_ready(const Scheduler& s, OpId op, DeviceId d) const;

  const CostTable& costs_;
  std::vector<int> streams_;
  std::vector<int> copy_engines_;
  std::vector<bool> shared_ingress_;
  EventQueue finished_;  // payload: op id, at its end
  std::vector<double> start_, end_;
  std::vector<double> arrive_;                   // by transfer: when its consumers may start
  std::vector<int> stream_of_;                   // by op
  std::vector<std::vector<double>> stream_end_;  // by device and stream
  std::vector<std::vector<int>> stream_load_;    // issued, unfinished ops
  std::vector<std::vector<double>> copy_free_;   // by source: each engine's (or link's) free time
  std::vector<std::vector<std::pair<double, double>>> incoming_;   // by shared-ingress destination
  std::vector<std::vector<std::pair<double, double>>> copies_on_;  // by device: its copies (either end)
  std::vector<DeviceId> woken_;                                    // devices whose ops became issuable
  std::vector<double> host_free_;                                  // by device: its host thread free
  std::vector<std::vector<OpId>> launched_;                        // by device: this pass's ops
  std::uint32_t sequence_ = 0;
  std::uint64_t events_ = 0;
  double last_end_ = 0;
  bool record_ = false;
};

}  // namespace doppler::sim
