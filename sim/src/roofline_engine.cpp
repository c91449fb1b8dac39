#include "doppler/sim/roofline_engine.hpp"

#include <algorithm>

namespace doppler::sim {
namespace {

constexpr std::uint32_t kTransferBit = 1u << 31;
constexpr std::uint32_t kDeliveredBit = 1u << 30;  // with kTransferBit: the transfer reached its consumers

}  // namespace

void RooflineEngine::push(double time, std::uint32_t payload) {
  timed_.push(time, EventQueue::tag(sequence_++, payload));
}

void RooflineEngine::launch_ops(Scheduler& s, DeviceId d, double now) {
  for (OpId op = s.next_op(d); op != kNoOp; op = s.next_op(d)) {
    start_[op] = now;
    if (record_) {
      stream_of_[op] = free_stream_ids_[d].back();
      free_stream_ids_[d].pop_back();
    }
    push(now + costs_.compute(op, d), op);
  }
}

void RooflineEngine::launch_transfer(Scheduler& s, DeviceId src, DeviceId dst, double now,
                                     SimResult* detail) {
  const TransferId t = s.next_transfer(src, dst);
  if (t == kNoTransfer) return;
  const OpId producer = s.transfer(t).tensor;
  dst = s.transfer(t).dst;  // with shared copy engines, the source's next transfer may go elsewhere
  const double end = now + costs_.transfer(producer, src, dst);
  push(end, t | kTransferBit);
  note_transfer(detail, record_, costs_.bytes(producer), producer, src, dst, now, end);
}

void RooflineEngine::deliver(Scheduler& s, TransferId t, double now) {
  for (OpId v : s.consumers_of(t))
    if (s.input_arrived(v)) s.make_ready(v);
  launch_ops(s, s.transfer(t).dst, now);
}

double RooflineEngine::run(Scheduler& s, SimResult* detail, bool record_trace) {
  record_ = detail && record_trace;
  const ExecGraph& g = s.graph();
  const std::size_t n = s.num_devices();
  s.build_transfers();
  timed_.clear();
  start_.resize(g.num_ops);
  sequence_ = 0;
  events_ = 0;
  if (record_) {
    stream_of_.assign(g.num_ops, 0);
    free_stream_ids_.assign(n, {});
    for (DeviceId d = 0; d < n; ++d)
      for (int k = s.streams(d) - 1; k >= 0; --k) free_stream_ids_[d].push_back(k);
  }
  for (OpId v : s.sources()) s.make_ready(v);
  for (DeviceId d = 0; d < n; ++d) launch_ops(s, d, costs_.start_latency());

  double makespan = 0;
  while (!timed_.empty()) {
    const EventQueue::Entry event = timed_.pop();
    ++events_;
    const double now = event.time();
    if (!(event.payload() & kTransferBit)) {
      const OpId u = event.payload();
      const DeviceId d = s.device_of(u);
      s.op_finished(u);
      makespan = std::max(makespan, now);
      if (detail) {
        detail->busy[d] += now - start_[u];
      }
      if (record_) {
        detail->trace.records.push_back(
            {TraceRecord::Kind::compute, u, d, d, stream_of_[u], start_[u], now, 0});
        free_stream_ids_[d].push_back(stream_of_[u]);
      }
      for (OpId v : g.successors(u))
        if (s.device_of(v) == d && s.input_arrived(v)) s.make_ready(v);
      for (TransferId t : s.transfers_of(u)) {
        s.transfer_ready(t);
        launch_transfer(s, d, s.transfer(t).dst, now, detail);
      }
      launch_ops(s, d, now);
    } else if (event.payload() & kDeliveredBit) {
      deliver(s, event.payload() & ~(kTransferBit | kDeliveredBit), now);
    } else {
      const TransferId t = event.payload() & ~kTransferBit;
      const Transfer tr = s.transfer(t);
      s.transfer_finished(t);
      if (costs_.arrival_latency() > 0) {
        push(now + costs_.arrival_latency(), t | kTransferBit | kDeliveredBit);
      } else {
        deliver(s, t, now);
      }
      launch_transfer(s, tr.src, tr.dst, now, detail);
    }
  }
  return makespan;
}

}  // namespace doppler::sim
