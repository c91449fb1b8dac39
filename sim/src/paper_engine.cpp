#include "doppler/sim/paper_engine.hpp"

#include <algorithm>

namespace doppler::sim {
namespace {

enum Kind : std::uint32_t { kReady, kGrant, kDone, kReleaseFinish, kEdge, kArrive, kBatch };
constexpr std::uint32_t kPayloadBits = 29;
constexpr std::uint32_t kPayloadMask = (1u << kPayloadBits) - 1;
constexpr std::uint32_t kBatchBit = 1u << 31;  // timed entries: set = edge batch, clear = op done

constexpr std::uint32_t encode(Kind kind, std::uint32_t payload) { return (kind << kPayloadBits) | payload; }

}  // namespace

void PaperEngine::push(Queued entry) { fifo_[tail_++] = entry; }

void PaperEngine::grant(Scheduler& s, DeviceId device, double now) {
  const OpId op = s.next_op(device);
  if (op == kNoOp) return;
  const std::uint32_t grant_seq = seq_++;
  const double compute = costs_.compute(op, device);
  if (compute > 0) {
    start_[op] = now;
    timed_.push(now + compute, EventQueue::tag(grant_seq, op));
  } else {
    push({encode(kGrant, op), grant_seq});
  }
}

double PaperEngine::run(Scheduler& s, SimResult* detail) {
  const ExecGraph& g = s.graph();
  if (detail) s.build_transfers();
  timed_.clear();
  // Every op makes at most Ready, Grant, Done, Release+Finish and Arrive; every edge one Edge.
  const std::size_t bound = 5 * static_cast<std::size_t>(g.num_ops) + g.num_edges() + 1;
  if (fifo_.size() < bound) fifo_.resize(bound);
  tail_ = 0;
  start_.resize(g.num_ops);
  finish_.resize(g.num_ops);
  events_ = 0;
  seq_ = 0;
  double now = 0;
  double makespan = 0;
  std::size_t head = 0;
  const bool per_op = costs_.per_op_comm();
  for (OpId v : s.sources()) push({encode(kReady, v), seq_++});

  for (;;) {
    while (head < tail_) {
      const Queued entry = fifo_[head++];
      const std::uint32_t x = entry.code & kPayloadMask;
      ++events_;
      switch (static_cast<Kind>(entry.code >> kPayloadBits)) {
        case kReady:
          s.make_ready(x);
          grant(s, s.device_of(x), now);
          break;
        case kGrant:  // only zero-compute ops: their Done is a zero-delay event
          start_[x] = now;
          push({encode(kDone, x), seq_++});
          break;
        case kDone: {
          const DeviceId d = s.device_of(x);
          s.op_finished(x);
          finish_[x] = now;
          makespan = now;
          push({encode(kReleaseFinish, x), seq_});
          seq_ += 2;
          if (detail) {
            detail->busy[d] += now - start_[x];
            detail->trace.records.push_back({TraceRecord::Kind::compute, x, d, d, 0, start_[x], now, 0});
          }
          break;
        }
        case kReleaseFinish: {
          const DeviceId d = s.device_of(x);
          grant(s, d, now);
          delays_.clear();
          for (OpId v : g.successors(x)) {
            const DeviceId dv = s.device_of(v);
            const double delay = dv == d ? 0.0 : costs_.transfer(x, d, dv);
            if (delay == 0) {
              push({encode(kEdge, v), seq_++});
            } else if (std::find(delays_.begin(), delays_.end(), delay) == delays_.end()) {
              timed_.push(now + delay, EventQueue::tag(entry.seq + 1, x | kBatchBit));
              delays_.push_back(delay);
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
          if (s.input_arrived(x)) push({encode(kArrive, x), seq_++});
          break;
        case kBatch: {  // with one delay per op every cross-device successor is in the batch
          const DeviceId d = s.device_of(x);
          for (OpId v : g.successors(x)) {
            const DeviceId dv = s.device_of(v);
            if (dv == d) continue;
            const double delay = costs_.transfer(x, d, dv);
            if ((per_op || (delay != 0 && finish_[x] + delay == now)) && s.input_arrived(v)) {
              push({encode(kArrive, v), seq_++});
            }
          }
          break;
        }
        case kArrive:
          push({encode(kReady, x), seq_++});
          break;
      }
    }
    if (timed_.empty()) break;
    tail_ = 0;
    head = 0;
    now = timed_.top().time;
    while (!timed_.empty() && timed_.top().time == now) {
      const std::uint32_t payload = timed_.pop().payload();
      push({(payload & kBatchBit) ? encode(kBatch, payload & ~kBatchBit) : encode(kDone, payload), seq_++});
    }
  }
  return makespan;
}

}  // namespace doppler::sim
