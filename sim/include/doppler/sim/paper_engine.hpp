#pragma once
// Contract: the engine of the `paper` model. It reproduces the Doppler paper's SimPy simulator
// (configs/workloads/doppler-paper/reference_sim.py) exactly, ties included.
//
// How: SimPy runs same-time events in creation order, so one instant is a FIFO: first the timed
// events due now (op completions, per-op batches of cross-device edge arrivals) in creation order,
// then every zero-delay event in creation order. Every event here carries its SimPy creation
// index (`seq`), and timed events are keyed (time, creator's seq) -- one creator never makes two
// timed events for the same time -- so orders match SimPy's even
// though events that change nothing are not materialised:
//   Done(u)            -> device slot freed; Release+Finish(u) (two consecutive SimPy events)
//   Release+Finish(u)  -> grant the device's next ready op; per successor in edge order: a
//                         same-device / zero-delay Edge, or one timed batch per distinct delay
//   Edge / Batch       -> the input arrives; only the op's LAST arrival continues: Arrive -> Ready
// (Timed events due at an instant are its first events, so they run straight from the queue; an
// instant with a single one runs its whole cascade directly, see run().)
//   Ready(v)           -> v requests its device (granted at once when a slot is free)
//   a grant            -> a phantom event (index reserved) that schedules Done at now + compute.
// Decisions (readiness, which op a free device takes) are the core Scheduler's.
#include <cstdint>
#include <vector>

#include "doppler/sim/cost_model.hpp"
#include "doppler/sim/event_queue.hpp"
#include "doppler/sim/simulator.hpp"

namespace doppler::sim {

class PaperEngine final : public Engine {
 public:
  explicit PaperEngine(const CostTable& costs) : costs_(costs) {}
  double run(Scheduler& scheduler, SimResult* detail, bool record_trace) override;
  std::uint64_t events() const override { return events_; }

 private:
  struct Queued {
    std::uint32_t code;  // kind << 29 | op or device id
    std::uint32_t seq;   // SimPy creation index
  };
  void grant(Scheduler& s, DeviceId device, double now);
  void push(Queued entry);
  void ready(Scheduler& s, OpId op, double now);                      // op requests its device
  void finish(Scheduler& s, OpId op, double now, SimResult* detail);  // an op's completion
  // SimPy's Release (index release_seq) and Finish (release_seq + 1) of `op`.
  void release_finish(Scheduler& s, OpId op, std::uint32_t release_seq, double now, SimResult* detail,
                      bool direct);
  void arrive_batch(Scheduler& s, OpId producer, double now, bool direct);  // cross-device edges land

  const CostTable& costs_;
  EventQueue timed_;          // tag = creator's seq, payload = op id | batch bit
  std::vector<Queued> fifo_;  // events of the current instant: [head, tail_) still to run
  std::size_t tail_ = 0;
  std::vector<double> start_;
  std::vector<double> finish_;
  std::vector<double> delays_;  // distinct cross-device delays of the op being finished
  std::uint32_t seq_ = 0;
  std::uint64_t events_ = 0;
  bool record_ = false;  // append trace records this run
};

}  // namespace doppler::sim
