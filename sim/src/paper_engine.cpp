#include "doppler/sim/paper_engine.hpp"

#include <algorithm>

namespace doppler::sim {
namespace {

// Zero-delay event kinds (top 3 bits of a FIFO entry); the low 29 bits hold an op or device id.
enum Kind : std::uint32_t { kReady, kGrant, kDone, kRelease, kFinish, kEdge, kArrive, kBatch };
constexpr std::uint32_t kPayloadBits = 29;
constexpr std::uint32_t kPayloadMask = (1u << kPayloadBits) - 1;
constexpr std::uint32_t kBatchBit = 1u << 31;  // timed entries: set = edge batch, clear = op done

constexpr std::uint32_t encode(Kind kind, std::uint32_t payload) { return (kind << kPayloadBits) | payload; }

}  // namespace

double PaperEngine::run(Scheduler& s, SimResult* detail) {
  const ExecGraph& g = s.graph();
  const auto later = [](const Timed& a, const Timed& b) {
    return a.time != b.time ? a.time > b.time : a.sequence > b.sequence;
  };
  heap_.clear();
  fifo_.clear();
  start_.resize(g.num_ops);
  finish_.resize(g.num_ops);
  events_ = 0;
  std::uint32_t sequence = 0;
  double now = 0;
  double makespan = 0;
  std::size_t head = 0;
  for (OpId v : s.sources()) fifo_.push_back(encode(kReady, v));

  for (;;) {
    while (head < fifo_.size()) {
      const std::uint32_t entry = fifo_[head++];
      const std::uint32_t x = entry & kPayloadMask;
      ++events_;
      switch (static_cast<Kind>(entry >> kPayloadBits)) {
        case kReady: {
          s.make_ready(x);
          const OpId granted = s.next_op(s.device_of(x));
          if (granted != kNoOp) fifo_.push_back(encode(kGrant, granted));
          break;
        }
        case kGrant: {
          start_[x] = now;
          const double compute = costs_.compute(x, s.device_of(x));
          if (compute > 0) {
            heap_.push_back({now + compute, sequence++, x});
            std::push_heap(heap_.begin(), heap_.end(), later);
          } else {
            fifo_.push_back(encode(kDone, x));
          }
          break;
        }
        case kDone: {
          const DeviceId d = s.device_of(x);
          s.op_finished(x);
          finish_[x] = now;
          makespan = now;
          fifo_.push_back(encode(kRelease, d));
          fifo_.push_back(encode(kFinish, x));
          if (detail) {
            const double compute = now - start_[x];
            detail->busy[d] += compute;
            detail->trace.records.push_back({TraceRecord::Kind::compute, x, d, d, 0, start_[x], now, 0});
          }
          break;
        }
        case kRelease: {
          const OpId granted = s.next_op(x);
          if (granted != kNoOp) fifo_.push_back(encode(kGrant, granted));
          break;
        }
        case kFinish: {
          const DeviceId d = s.device_of(x);
          delays_.clear();
          for (OpId v : g.successors(x)) {
            const DeviceId dv = s.device_of(v);
            const double delay = dv == d ? 0.0 : costs_.transfer(x, d, dv);
            if (delay == 0) {
              fifo_.push_back(encode(kEdge, v));
            } else if (std::find(delays_.begin(), delays_.end(), delay) == delays_.end()) {
              delays_.push_back(delay);
              heap_.push_back({now + delay, sequence++, x | kBatchBit});
              std::push_heap(heap_.begin(), heap_.end(), later);
            }
          }
          if (detail) {
            for (TransferId t : s.transfers_of(x)) {
              const Transfer& tr = s.transfer(t);
              const double bytes = costs_.bytes(x);
              detail->transfer_bytes += bytes;
              ++detail->transfers;
              detail->trace.records.push_back({TraceRecord::Kind::transfer, x, tr.dst, tr.src, 0, now,
                                               now + costs_.transfer(x, tr.src, tr.dst), bytes});
            }
          }
          break;
        }
        case kEdge:
          fifo_.push_back(encode(kArrive, x));
          break;
        case kArrive:
          if (s.input_arrived(x)) fifo_.push_back(encode(kReady, x));
          break;
        case kBatch: {
          const DeviceId d = s.device_of(x);
          for (OpId v : g.successors(x)) {
            const DeviceId dv = s.device_of(v);
            if (dv == d) continue;
            const double delay = costs_.transfer(x, d, dv);
            if (delay != 0 && finish_[x] + delay == now) fifo_.push_back(encode(kArrive, v));
          }
          break;
        }
      }
    }
    if (heap_.empty()) break;
    fifo_.clear();
    head = 0;
    now = heap_.front().time;
    while (!heap_.empty() && heap_.front().time == now) {
      const std::uint32_t payload = heap_.front().payload;
      std::pop_heap(heap_.begin(), heap_.end(), later);
      heap_.pop_back();
      fifo_.push_back((payload & kBatchBit) ? encode(kBatch, payload & ~kBatchBit) : encode(kDone, payload));
    }
  }
  return makespan;
}

}  // namespace doppler::sim
