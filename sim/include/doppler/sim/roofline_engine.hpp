#pragma once
// Contract: the engine of the `roofline` model: `streams` concurrent kernels per device (no mutual
// slowdown), one transfer at a time per directed link (FIFO), a transfer's consumers released the
// cost table's arrival latency after it ends (the link is free at the end), events ordered by
// (time, sequence id). Decisions are the core Scheduler's; this engine only turns launches into timed
// completions.
#include <cstdint>
#include <vector>

#include "doppler/sim/cost_model.hpp"
#include "doppler/sim/event_queue.hpp"
#include "doppler/sim/simulator.hpp"

namespace doppler::sim {

class RooflineEngine final : public Engine {
 public:
  explicit RooflineEngine(const CostTable& costs) : costs_(costs) {}
  double run(Scheduler& scheduler, SimResult* detail, bool record_trace) override;
  std::uint64_t events() const override { return events_; }

 private:
  void launch_ops(Scheduler& s, DeviceId d, double now);
  void launch_transfer(Scheduler& s, DeviceId src, DeviceId dst, double now, SimResult* detail);
  void deliver(Scheduler& s, TransferId t, double now);
  void push(double time, std::uint32_t payload);

  const CostTable& costs_;
  EventQueue timed_;  // payload: op id, or transfer id | transfer bit
  std::vector<double> start_;
  std::vector<int> stream_of_;
  std::vector<std::vector<int>> free_stream_ids_;
  std::uint32_t sequence_ = 0;
  std::uint64_t events_ = 0;
  bool record_ = false;  // append trace records this run
};

}  // namespace doppler::sim
