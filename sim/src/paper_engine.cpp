#include "doppler/sim/paper_engine.hpp"

#include <algorithm>

namespace doppler::sim {
namespace {

enum Kind : std::uint32_t { kReady, kGrant, kDone, kReleaseFinish, kEdge, kArrive };
constexpr std::uint32_t kPayloadBits = 29;
constexpr std::uint32_t kPayloadMask = (1u << kPayloadBits) - 1;
constexpr std::uint32_t kBatchBit = 1u << 31;  // timed entries: set = edge batch, clear = op done

constexpr std::uint32_t encode(Kind kind, std::uint32_t payload) {
  return (kind << kPayloadBits) | payload;
}

}  // namespace

void PaperEngine::push(Queued entry) {
  fifo_[tail_++] = entry;
}

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

void PaperEngine::finish(Scheduler& s, OpId op, double now, SimResult* detail) {
  const DeviceId d = s.device_of(op);
  s.op_finished(op);
  finish_[op] = now;
  if (detail) {
    detail->busy[d] += now - start_[op];
    if (record_)
      detail->trace.records.push_back({TraceRecord::Kind::compute, op, d, d, 0, start_[op], now, 0});
  }
}

void PaperEngine::ready(Scheduler& s, OpId op, double now) {
  s.make_ready(op);
  grant(s, s.device_of(op), now);
}

void PaperEngine::release_finish(Scheduler& s, OpId op, std::uint32_t release_seq, double now,
                                 SimResult* detail, bool direct) {
  const DeviceId d = s.device_of(op);
  grant(s, d, now);
  delays_.clear();
  for (OpId v : s.graph().successors(op)) {
    const DeviceId dv = s.device_of(v);
    const double delay = dv == d ? 0.0 : costs_.transfer(op, d, dv);
    if (delay == 0) {
      if (!direct) {
        push({encode(kEdge, v), seq_++});
      } else if (s.input_arrived(v)) {
        ready(s, v, now);
      }
    } else if (std::find(delays_.begin(), delays_.end(), delay) == delays_.end()) {
      timed_.push(now + delay, EventQueue::tag(release_seq + 1, op | kBatchBit));
      delays_.push_back(delay);
    }
  }
  if (detail) {
    for (TransferId t : s.transfers_of(op)) {
      const Transfer& tr = s.transfer(t);
      note_transfer(detail, record_, costs_.bytes(op), op, tr.src, tr.dst, now,
                    now + costs_.transfer(op, tr.src, tr.dst));
    }
  }
}

void PaperEngine::arrive_batch(Scheduler& s, OpId producer, double now, bool direct) {
  const DeviceId d = s.device_of(producer);
  const bool per_op = costs_.per_op_comm();  // then every cross-device successor is in the batch
  for (OpId v : s.graph().successors(producer)) {
    const DeviceId dv = s.device_of(v);
    if (dv == d) continue;
    if (!per_op) {
      const double delay = costs_.transfer(producer, d, dv);
      if (delay == 0 || finish_[producer] + delay != now) continue;
    }
    if (!s.input_arrived(v)) continue;
    if (direct) {
      ready(s, v, now);
    } else {
      push({encode(kArrive, v), seq_++});
    }
  }
}

double PaperEngine::run(Scheduler& s, SimResult* detail, bool record_trace) {
  record_ = detail && record_trace;
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
  const bool direct_ok = !costs_.has_zero_compute();
  const auto run_timed = [&](std::uint32_t payload, bool direct) {
    ++events_;
    if (payload & kBatchBit) return arrive_batch(s, payload & ~kBatchBit, now, direct);
    finish(s, payload, now, detail);
    makespan = now;
    const std::uint32_t release_seq = seq_;
    seq_ += 2;
    if (direct) return release_finish(s, payload, release_seq, now, detail, true);
    push({encode(kReleaseFinish, payload), release_seq});
  };
  for (OpId v : s.sources()) push({encode(kReady, v), seq_++});

  for (;;) {
    while (head < tail_) {
      const Queued entry = fifo_[head++];
      const std::uint32_t x = entry.code & kPayloadMask;
      ++events_;
      switch (static_cast<Kind>(entry.code >> kPayloadBits)) {
        case kReady:
          ready(s, x, now);
          break;
        case kGrant:  // zero-compute ops only: their completion is a zero-delay event
          start_[x] = now;
          push({encode(kDone, x), seq_++});
          break;
        case kDone:  // zero-compute ops only; timed completions run straight from the queue
          finish(s, x, now, detail);
          makespan = now;
          push({encode(kReleaseFinish, x), seq_});
          seq_ += 2;
          break;
        case kReleaseFinish:
          release_finish(s, x, entry.seq, now, detail, false);
          break;
        case kEdge:
          if (s.input_arrived(x)) push({encode(kArrive, x), seq_++});
          break;
        case kArrive:
          push({encode(kReady, x), seq_++});
          break;
      }
    }
    if (timed_.empty()) break;
    // A new instant. The timed events due now are its first SimPy events, in key order; nothing
    // they create can run before the last of them, so they run straight from the queue. When one
    // event is alone in its instant (and no op has zero compute), everything it sets off is one
    // chain per successor, all of equal length: those run at once, in edge order.
    tail_ = 0;
    head = 0;
    now = timed_.top().time();
    const std::uint32_t first = timed_.pop().payload();
    const bool alone = timed_.empty() || timed_.top().time() != now;
    run_timed(first, direct_ok && alone);
    while (!timed_.empty() && timed_.top().time() == now) run_timed(timed_.pop().payload(), false);
  }
  return makespan;
}

}  // namespace doppler::sim
