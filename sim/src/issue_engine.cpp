#include "doppler/sim/issue_engine.hpp"

#include <algorithm>
#include <limits>

namespace doppler::sim {
namespace {

// The end of `work` seconds from `start` while the intervals `busy` (start, end) also run: each
// second of work takes stretch(k) seconds while k of them do (stretch(0) must be 1).
template <class Stretch>
double stretched_end(const std::vector<std::pair<double, double>>& busy, double start, double work,
                     Stretch stretch) {
  std::vector<std::pair<double, int>> changes;
  int running = 0;
  for (const auto& [from, to] : busy) {
    if (to <= start) continue;
    if (from <= start) {
      ++running;
    } else {
      changes.push_back({from, +1});
    }
    changes.push_back({to, -1});
  }
  std::sort(changes.begin(), changes.end());
  double t = start;
  for (const auto& [at, change] : changes) {
    const double f = stretch(running);
    running += change;
    if (stretch(running) == f) continue;  // one segment while the stretch stays
    if (work * f <= at - t) return t + work * f;
    work -= (at - t) / f;
    t = at;
  }
  return t + work;
}

}  // namespace

// When op's inputs on device d are there: same-device producers' ends, transfers' arrivals.
double IssueEngine::input_ready(const Scheduler& s, OpId op, DeviceId d) const {
  double ready = 0;
  for (const OpId p : s.graph().predecessors(op)) {
    if (s.device_of(p) == d) {
      ready = std::max(ready, end_[p]);
      continue;
    }
    for (const TransferId t : s.transfers_of(p))
      if (s.transfer(t).dst == d) ready = std::max(ready, arrive_[t]);
  }
  return ready;
}

void IssueEngine::issue_transfers(Scheduler& s, OpId producer, DeviceId src, double now, SimResult* detail) {
  for (const TransferId t : s.transfers_of(producer)) {
    const DeviceId dst = s.transfer(t).dst;
    std::vector<double>& free = copy_free_[src];
    const auto engine =
        copy_engines_[src] > 0 ? std::min_element(free.begin(), free.end()) : free.begin() + dst;
    double sent = now;
    if (costs_.models_host()) {
      const double thread_free = std::max(now, host_free_[src]);
      sent = thread_free + costs_.launch_latency();
      host_free_[src] = thread_free + costs_.host_copy();
    }
    const double start =
        std::max({sent, end_[producer] + costs_.copy_dispatch(), *engine + costs_.copy_gap()});
    double end = start + costs_.link_time(producer, src, dst);
    if (shared_ingress_[dst]) {
      std::vector<std::pair<double, double>>& busy = incoming_[dst];
      std::erase_if(busy, [&](const auto& copy) { return copy.second <= now; });
      end = stretched_end(busy, start, end - start, [](int k) { return k + 1.0; });  // a 1/(k+1) share
      busy.push_back({start, end});
    }
    *engine = end;
    copies_on_[src].push_back({start, end});
    copies_on_[dst].push_back({start, end});
    arrive_[t] = end + costs_.arrival_latency();
    last_end_ = std::max(last_end_, end);
    note_transfer(detail, record_, costs_.bytes(producer), producer, src, dst, start, end);
    for (const OpId v : s.consumers_of(t)) {
      if (!s.input_arrived(v)) continue;
      s.make_ready(v);
      woken_.push_back(dst);
    }
  }
}

void IssueEngine::issue_ops(Scheduler& s, DeviceId d, double now, SimResult* detail) {
  const bool host = costs_.models_host();
  std::vector<OpId>& launched = launched_[d];
  launched.clear();
  for (OpId op = s.next_op(d); op != kNoOp; op = s.next_op(d)) {
    std::vector<int>& load = stream_load_[d];
    const auto k = static_cast<std::size_t>(std::min_element(load.begin(), load.end()) - load.begin());
    ++load[k];
    stream_of_[op] = static_cast<int>(k);
    // A kernel that takes time follows its stream's previous one after the dispatch gap; one that
    // waited for an input starts when the input is there.
    const double time = costs_.compute(op, d);
    const bool format2 = costs_.calibration_format() >= 2;
    const double gap = time > 0 && format2 ? costs_.dispatch_gap() : 0.0;
    // With the host modelled, the device's thread launches one op after another.
    double earliest = now;
    if (host) {
      const double launch = std::max(now, host_free_[d]);
      host_free_[d] = launch + costs_.host_launch(op);
      earliest = launch + (time > 0 ? costs_.launch_latency() : 0.0);
    }
    // With the host modelled, a resident load reached by its stream (an event there) holds it for
    // a dispatch gap too, as measured.
    const double stream_gap = host && time == 0 && format2 ? costs_.dispatch_gap() : gap;
    start_[op] = std::max({earliest, stream_end_[d][k] + stream_gap, input_ready(s, op, d)});
    end_[op] = start_[op] + time - gap;
    if (format2 && costs_.concurrency_slowdown() > 1 && time > 0) {
      const double slowdown = costs_.concurrency_slowdown();
      std::vector<std::pair<double, double>>& copies = copies_on_[d];
      std::erase_if(copies, [&](const auto& copy) { return copy.second <= now; });
      end_[op] = stretched_end(copies, start_[op], time - gap,
                               [&](int running) { return running > 0 ? slowdown : 1.0; });
    }
    stream_end_[d][k] = end_[op];
    last_end_ = std::max(last_end_, end_[op]);
    finished_.push(end_[op], EventQueue::tag(sequence_++, op));
    if (detail) {
      detail->busy[d] += end_[op] - start_[op];
      if (record_)
        detail->trace.records.push_back(
            {TraceRecord::Kind::compute, op, d, d, static_cast<int>(k), start_[op], end_[op], 0});
    }
    for (const OpId v : s.graph().successors(op))
      if (s.device_of(v) == d && s.input_arrived(v)) s.make_ready(v);
    if (host) {
      launched.push_back(op);
    } else {
      issue_transfers(s, op, d, now, detail);
    }
  }
  // The executor's thread sends a pass's copies after launching its ops.
  for (const OpId op : launched) issue_transfers(s, op, d, now, detail);
}

double IssueEngine::run(Scheduler& s, SimResult* detail, bool record_trace) {
  record_ = detail && record_trace;
  const ExecGraph& g = s.graph();
  const std::size_t n = s.num_devices();
  s.build_transfers();
  finished_.clear();
  start_.assign(g.num_ops, 0);
  end_.assign(g.num_ops, 0);
  stream_of_.assign(g.num_ops, 0);
  arrive_.assign(s.num_transfers(), 0);
  stream_end_.assign(n, {});
  stream_load_.assign(n, {});
  copy_free_.assign(n, {});
  incoming_.assign(n, {});
  copies_on_.assign(n, {});
  host_free_.assign(n, 0.0);
  launched_.assign(n, {});

  for (DeviceId d = 0; d < n; ++d) {
    stream_end_[d].assign(static_cast<std::size_t>(streams_[d]), 0.0);
    stream_load_[d].assign(static_cast<std::size_t>(streams_[d]), 0);
    copy_free_[d].assign(copy_engines_[d] > 0 ? static_cast<std::size_t>(copy_engines_[d]) : n,
                         -std::numeric_limits<double>::infinity());  // never used: no gap
  }
  sequence_ = 0;
  events_ = 0;
  last_end_ = 0;
  woken_.clear();
  const auto issue_woken = [&](double now) {
    while (!woken_.empty()) {
      const DeviceId d = woken_.back();
      woken_.pop_back();
      issue_ops(s, d, now, detail);
    }
  };
  for (const OpId v : s.sources()) s.make_ready(v);
  for (DeviceId d = 0; d < n; ++d) issue_ops(s, d, costs_.start_latency(), detail);
  issue_woken(costs_.start_latency());
  while (!finished_.empty()) {
    const EventQueue::Entry event = finished_.pop();
    ++events_;
    const OpId op = event.payload();
    const DeviceId d = s.device_of(op);
    s.op_finished(op);
    --stream_load_[d][static_cast<std::size_t>(stream_of_[op])];
    issue_ops(s, d, event.time(), detail);
    issue_woken(event.time());
  }
  return last_end_;
}

}  // namespace doppler::sim
