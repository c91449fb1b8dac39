#pragma once
// Contract: the engine of the `paper` model. It reproduces the Doppler paper's SimPy simulator
// (configs/workloads/doppler-paper/reference_sim.py) exactly, ties included. SimPy processes
// same-time events in creation order, so at one instant the work is a FIFO: first the timed events
// due now (op completions, per-op batches of cross-device edge arrivals) in creation order, then
// every zero-delay event in the order it was created. The engine keeps the same chain per op:
//   Grant -> (comp) -> Done -> {Release, Finish}; Release -> next grant on the device;
//   Finish -> per successor in edge order: local/zero-delay Edge, or one timed batch of the rest;
//   Edge -> Arrive; Arrive -> (last input) Ready; Ready -> request the device (grant if free).
// Decisions (readiness, which op a free device takes) are the core Scheduler's.
#include <cstdint>
#include <vector>

#include "doppler/sim/cost_model.hpp"
#include "doppler/sim/simulator.hpp"

namespace doppler::sim {

class PaperEngine final : public Engine {
 public:
  explicit PaperEngine(const CostTable& costs) : costs_(costs) {}
  double run(Scheduler& scheduler, SimResult* detail) override;
  std::uint64_t events() const override { return events_; }

 private:
  struct Timed {
    double time;
    std::uint32_t sequence;
    std::uint32_t payload;  // op id | kind bit
  };
  const CostTable& costs_;
  std::vector<Timed> heap_;
  std::vector<std::uint32_t> fifo_;
  std::vector<double> start_;
  std::vector<double> finish_;
  std::vector<double> delays_;  // distinct cross-device delays of the op being finished
  std::uint64_t events_ = 0;
};

}  // namespace doppler::sim
