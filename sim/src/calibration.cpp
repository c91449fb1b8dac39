// fit_calibration: gathers kernel and copy samples from measured runs and assembles the machine.
#include <algorithm>
#include <limits>
#include <map>
#include <optional>

#include "doppler/error.hpp"
#include "doppler/median.hpp"
#include "doppler/sim/calibration.hpp"
#include "doppler/trace_csv.hpp"

namespace doppler::sim {
namespace {

struct Interval {
  double start, end;
};

// Disjoint, sorted union of intervals.
std::vector<Interval> merged(std::vector<Interval> intervals) {
  std::sort(intervals.begin(), intervals.end(),
            [](const Interval& a, const Interval& b) { return a.start < b.start; });
  std::vector<Interval> out;
  for (const Interval& i : intervals) {
    if (!out.empty() && i.start <= out.back().end) {
      out.back().end = std::max(out.back().end, i.end);
    } else {
      out.push_back(i);
    }
  }
  return out;
}

// Per device, the merged intervals in which a transfer into or out of it ran.
std::map<DeviceId, std::vector<Interval>> copy_busy(const Trace& trace) {
  std::map<DeviceId, std::vector<Interval>> copies;
  for (const TraceRecord& r : trace.records) {
    if (r.kind != TraceRecord::Kind::transfer) continue;
    for (const DeviceId d : {r.src, r.device})
      if (d != kHostDevice) copies[d].push_back({r.start, r.end});
  }
  std::map<DeviceId, std::vector<Interval>> busy;
  for (auto& [device, intervals] : copies) busy[device] = merged(std::move(intervals));
  return busy;
}

double overlap(const std::vector<Interval>& sorted, double start, double end) {
  auto it = std::lower_bound(sorted.begin(), sorted.end(), start,
                             [](const Interval& i, double t) { return i.end <= t; });
  double total = 0;
  for (; it != sorted.end() && it->start < end; ++it)
    total += std::min(end, it->end) - std::max(start, it->start);
  return total;
}

struct Durations {
  std::vector<double> clean;       // not overlapped by a copy on the device
  std::vector<double> overlapped;  // measured durations of overlapped runs ...
  std::vector<double> overlap;     // ... and how long a copy overlapped each
};

using ShapeKey = std::pair<double, double>;  // flops, bytes
using KindSamples = std::map<std::string, std::map<ShapeKey, Durations>>;
using LinkSamples = std::map<std::pair<DeviceId, DeviceId>, std::vector<std::pair<double, double>>>;

// How long after it could a device-to-device copy started: after its producer's end, when it waited
// for its producer; after the previous copy on its link (or engine) ended, when it waited for that.
struct CopyDelays {
  std::vector<double> dispatch;
  std::vector<double> gap;
};

struct Samples {
  KindSamples kinds;
  LinkSamples links;                  // (src, dst), kHostDevice for the host
  std::vector<double> gaps;           // back-to-back kernel gaps
  std::vector<double> arrivals;       // kernel start - arrival of its last (remote) input
  CopyDelays link_delays;             // device-to-device copies, queued per directed link
  CopyDelays engine_delays;           // the same, queued per source device (one copy engine)
  std::size_t copy_pairs = 0;         // copies leaving one device for different destinations
  std::size_t overlapping_pairs = 0;  // ... that overlap in time
  // Device-to-device copies of at least kIngressBytes: bytes per second of those that ran alone
  // into their destination, and of those that shared it with another incoming copy most of the time.
  std::vector<double> alone_rates;
  std::vector<double> shared_rates;
  std::vector<double> starts;  // per run: its first kernel's or copy's start
  // From runs with launch times (gather_host): host seconds per launch by what was launched, the
  // launch-to-start latency, each run's first launch.
  std::map<std::string, std::map<ShapeKey, std::vector<double>>> host_launch;  // by task kind, shape
  std::vector<double> host_load, host_copy, launch_latency, first_launches;
  std::vector<double> first_kernel_delays;  // per run: its first kernel's start - that kernel's launch
  std::size_t devices = 0;
  int streams = 1;
};

// Gaps between back-to-back kernels of one stream: the next one was queued, the stream idled only
// for dispatch. Longer gaps are waits for inputs.
constexpr double kBackToBack = 10e-6;

// The kernels that took time, per (device, stream), in order of (start, end).
using StreamKernels = std::map<std::pair<DeviceId, int>, std::vector<Interval>>;

bool earlier(const Interval& a, const Interval& b) {
  return a.start != b.start ? a.start < b.start : a.end < b.end;
}

StreamKernels kernels_by_stream(const Trace& trace) {
  StreamKernels streams;
  for (const TraceRecord& r : trace.records)
    if (r.kind == TraceRecord::Kind::compute && r.end > r.start)
      streams[{r.device, r.stream}].push_back({r.start, r.end});
  for (auto& [stream, kernels] : streams) std::sort(kernels.begin(), kernels.end(), earlier);
  return streams;
}

void gather_gaps(const StreamKernels& streams, std::vector<double>& gaps) {
  for (const auto& [stream, kernels] : streams) {
    for (std::size_t i = 1; i < kernels.size(); ++i) {
      const double gap = kernels[i].start - kernels[i - 1].end;
      if (gap >= 0 && gap < kBackToBack) gaps.push_back(gap);
    }
  }
}

// A trace's compute records by op, and when each device-to-device copy landed.
struct TraceKernel {
  DeviceId device;
  int stream;
  double start, end;
};
struct KernelsAndArrivals {
  std::map<OpId, TraceKernel> kernels;
  std::map<std::pair<OpId, DeviceId>, double> arrival;  // (producer, destination) -> end
};

KernelsAndArrivals kernels_and_arrivals(const Trace& trace) {
  KernelsAndArrivals out;
  for (const TraceRecord& r : trace.records) {
    if (r.kind == TraceRecord::Kind::compute) out.kernels[r.op] = {r.device, r.stream, r.start, r.end};
    if (r.kind == TraceRecord::Kind::transfer && r.src != kHostDevice) out.arrival[{r.op, r.device}] = r.end;
  }
  return out;
}

// What a kernel (op, k: one that took time) waited for: its same-device inputs' ends (local), its
// latest copy's arrival from another device (remote; -1 when none), its stream's previous kernel's
// end.
struct Waited {
  double local = 0, remote = -1, previous_end = 0;
  double all() const { return std::max({local, remote, previous_end}); }
};

Waited waited(const TaskGraph& graph, const KernelsAndArrivals& traced, const StreamKernels& streams, OpId op,
              const TraceKernel& k) {
  Waited w;
  for (const OpId p : graph.predecessors(op)) {
    const auto pk = traced.kernels.find(p);
    if (pk == traced.kernels.end()) continue;
    if (pk->second.device == k.device) {
      w.local = std::max(w.local, pk->second.end);
    } else if (const auto a = traced.arrival.find({p, k.device}); a != traced.arrival.end()) {
      w.remote = std::max(w.remote, a->second);
    }
  }
  const std::vector<Interval>& spans = streams.at({k.device, k.stream});
  const auto at = std::lower_bound(spans.begin(), spans.end(), Interval{k.start, k.end}, earlier);
  w.previous_end = at == spans.begin() ? 0.0 : std::prev(at)->end;
  return w;
}

// Kernels whose last input to come was a transfer from another device (it arrived after the
// kernel's same-device inputs and after the previous kernel of its stream): how long after the
// transfer's end they started.
void gather_arrivals(const MeasuredRun& run, const KernelsAndArrivals& traced, const StreamKernels& streams,
                     std::vector<double>& latencies) {
  for (const auto& [op, k] : traced.kernels) {
    if (k.end <= k.start) continue;
    const Waited w = waited(*run.graph, traced, streams, op, k);
    if (w.remote > std::max(w.local, w.previous_end) && k.start >= w.remote)
      latencies.push_back(k.start - w.remote);
  }
}

// Device-to-device copies, in start order, each a dispatch or a gap sample (CopyDelays) on its
// link and on its source's engine.
void gather_copy_delays(const Trace& trace, CopyDelays& by_link, CopyDelays& by_engine) {
  std::map<OpId, double> kernel_end;
  for (const TraceRecord& r : trace.records)
    if (r.kind == TraceRecord::Kind::compute) kernel_end[r.op] = r.end;
  std::vector<const TraceRecord*> copies;
  for (const TraceRecord& r : trace.records)
    if (r.kind == TraceRecord::Kind::transfer && r.src != kHostDevice && r.device != kHostDevice)
      copies.push_back(&r);
  std::sort(copies.begin(), copies.end(),
            [](const TraceRecord* a, const TraceRecord* b) { return a->start < b->start; });
  std::map<std::pair<DeviceId, DeviceId>, double> link_free;
  std::map<DeviceId, double> engine_free;
  const auto delay = [&](const TraceRecord& r, const double* free, CopyDelays& delays) {
    const auto produced = kernel_end.find(r.op);
    const double ready = produced == kernel_end.end() ? 0.0 : produced->second;
    if (free && *free > ready) {
      if (r.start >= *free) delays.gap.push_back(r.start - *free);
    } else if (r.start >= ready) {
      delays.dispatch.push_back(r.start - ready);
    }
  };
  for (const TraceRecord* r : copies) {
    const auto link = std::pair{r->src, r->device};
    const auto on_link = link_free.find(link);
    delay(*r, on_link == link_free.end() ? nullptr : &on_link->second, by_link);
    const auto on_engine = engine_free.find(r->src);
    delay(*r, on_engine == engine_free.end() ? nullptr : &on_engine->second, by_engine);
    link_free[link] = r->end;
    engine_free[r->src] = std::max(engine_free[r->src], r->end);
  }
}

// Pairs of device-to-device copies leaving one device for different destinations, and how many
// overlap in time: a GPU whose peer copies share one copy engine shows (almost) none.
void gather_copy_overlap(const Trace& trace, std::size_t& pairs, std::size_t& overlapping) {
  std::map<DeviceId, std::vector<const TraceRecord*>> by_source;
  for (const TraceRecord& r : trace.records)
    if (r.kind == TraceRecord::Kind::transfer && r.src != kHostDevice && r.device != kHostDevice)
      by_source[r.src].push_back(&r);
  for (const auto& [source, copies] : by_source)
    for (std::size_t i = 0; i < copies.size(); ++i)
      for (std::size_t j = i + 1; j < copies.size(); ++j) {
        if (copies[i]->device == copies[j]->device) continue;
        ++pairs;
        if (std::min(copies[i]->end, copies[j]->end) > std::max(copies[i]->start, copies[j]->start))
          ++overlapping;
      }
}

constexpr double kIngressBytes = 1 << 20;

// Large device-to-device copies that ran alone into their destination (< 5% of their time with
// another incoming copy) or shared it (> 50%), and their rates.
void gather_ingress(const Trace& trace, std::vector<double>& alone, std::vector<double>& shared) {
  std::map<DeviceId, std::vector<const TraceRecord*>> by_destination;
  for (const TraceRecord& r : trace.records)
    if (r.kind == TraceRecord::Kind::transfer && r.src != kHostDevice && r.device != kHostDevice)
      by_destination[r.device].push_back(&r);
  for (const auto& [destination, copies] : by_destination) {
    for (const TraceRecord* c : copies) {
      const double time = c->end - c->start;
      if (c->bytes < kIngressBytes || time <= 0) continue;
      double with_others = 0;
      for (const TraceRecord* o : copies)
        if (o != c) with_others += std::max(0.0, std::min(c->end, o->end) - std::max(c->start, o->start));
      const double share = std::min(1.0, with_others / time);
      if (share < 0.05) alone.push_back(c->bytes / time);
      if (share > 0.5) shared.push_back(c->bytes / time);
    }
  }
}

// When the run's first kernel or copy started (its clock starts at 0).
void gather_start(const Trace& trace, std::vector<double>& starts) {
  double first = -1;
  for (const TraceRecord& r : trace.records)
    if (r.end > r.start && (first < 0 || r.start < first)) first = r.start;
  if (first >= 0) starts.push_back(first);
}

// The host side of a run with launch times: per device thread (its ops, the copies it sent), the
// time from one launch to the next when the next was launchable already (its same-device inputs
// launched, its copies sent; a copy: its producer launched; an op: fewer than queue-depth ops of
// the device unfinished on the GPU) is what the first launch cost; a
// kernel launched after its stream was free and its inputs were there starts launch_latency later.
void gather_host(const MeasuredRun& run, const KernelsAndArrivals& traced, const StreamKernels& streams,
                 Samples& samples) {
  if (!run.launches || run.launches->empty()) return;
  const TaskGraph& graph = *run.graph;
  const std::map<OpId, TraceKernel>& kernels = traced.kernels;
  std::map<OpId, double> op_launch;
  std::map<std::pair<OpId, DeviceId>, double> copy_launch;  // (producer, destination)
  double first = std::numeric_limits<double>::infinity();
  std::map<DeviceId, std::vector<const HostLaunch*>> threads;
  for (const HostLaunch& l : *run.launches) {
    const bool compute = l.kind == TraceRecord::Kind::compute;
    if (compute) {
      op_launch[l.op] = l.launched;
    } else {
      copy_launch[{l.op, l.device}] = l.launched;
    }
    first = std::min(first, l.launched);
    threads[compute ? l.device : l.src].push_back(&l);
  }
  samples.first_launches.push_back(first);
  const TraceKernel* first_kernel = nullptr;
  OpId first_op = kNoOp;
  for (const auto& [op, k] : kernels)
    if (k.end > k.start && op_launch.count(op) && (!first_kernel || k.start < first_kernel->start))
      first_kernel = &k, first_op = op;
  samples.first_kernel_delays.push_back(first_kernel ? first_kernel->start - op_launch.at(first_op) : 0.0);
  const auto launched = [](const auto& map, const auto& key) {
    const auto it = map.find(key);
    return it == map.end() ? 0.0 : it->second;
  };
  const auto launchable = [&](const HostLaunch& l) {
    if (l.kind == TraceRecord::Kind::transfer) return launched(op_launch, l.op);
    double t = 0;
    for (const OpId p : graph.predecessors(l.op)) {
      const auto k = kernels.find(p);
      t = std::max(t, k != kernels.end() && k->second.device == l.device
                          ? launched(op_launch, p)
                          : launched(copy_launch, std::pair{p, l.device}));
    }
    return t;
  };
  // Ops of a device whose GPU end is after t, among those launched by t: at least its slots (queue
  // depth x streams) means the next op waited for a free slot (the host sees ends later still), not
  // for the thread.
  int stream_count = 1;
  for (const auto& [op, k] : kernels) stream_count = std::max(stream_count, k.stream + 1);
  const auto slots_full = [&](DeviceId device, double t) {
    if (run.queue_depth <= 0) return false;
    int in_flight = 0;
    for (const auto& [op, k] : kernels) {
      const auto l = op_launch.find(op);
      in_flight += k.device == device && l != op_launch.end() && l->second <= t && k.end > t;
    }
    return in_flight >= run.queue_depth * stream_count;
  };
  for (auto& [device, list] : threads) {
    std::sort(list.begin(), list.end(),
              [](const HostLaunch* a, const HostLaunch* b) { return a->launched < b->launched; });
    for (std::size_t i = 1; i < list.size(); ++i) {
      const HostLaunch& a = *list[i - 1];
      if (launchable(*list[i]) > a.launched) continue;
      if (list[i]->kind == TraceRecord::Kind::compute && slots_full(device, a.launched)) continue;
      const double spacing = list[i]->launched - a.launched;
      if (a.kind == TraceRecord::Kind::transfer) {
        samples.host_copy.push_back(spacing);
        continue;
      }
      const auto k = kernels.find(a.op);
      if (k != kernels.end() && k->second.end > k->second.start) {
        const Op& op = graph.op(a.op);
        samples.host_launch[op.kind][{op.flops, op.bytes_read + op.bytes_written}].push_back(spacing);
      } else {
        samples.host_load.push_back(spacing);
      }
    }
  }
  for (const auto& [op, k] : kernels) {
    const auto l = op_launch.find(op);
    if (k.end <= k.start || l == op_launch.end()) continue;
    if (l->second >= waited(graph, traced, streams, op, k).all())
      samples.launch_latency.push_back(k.start - l->second);
  }
}

void gather(const MeasuredRun& run, Samples& samples) {
  const StreamKernels streams = kernels_by_stream(*run.trace);
  gather_gaps(streams, samples.gaps);
  gather_start(*run.trace, samples.starts);
  gather_copy_delays(*run.trace, samples.link_delays, samples.engine_delays);
  gather_copy_overlap(*run.trace, samples.copy_pairs, samples.overlapping_pairs);
  gather_ingress(*run.trace, samples.alone_rates, samples.shared_rates);
  const KernelsAndArrivals traced = kernels_and_arrivals(*run.trace);
  gather_arrivals(run, traced, streams, samples.arrivals);
  gather_host(run, traced, streams, samples);
  for (const TraceRecord& r : run.trace->records) {
    if (r.kind == TraceRecord::Kind::transfer)
      samples.links[{r.src, r.device}].push_back({r.bytes, r.end - r.start});
  }
  const std::map<DeviceId, std::vector<Interval>> busy = copy_busy(*run.trace);
  for (const TraceRecord& r : run.trace->records) {
    if (r.device != kHostDevice) samples.devices = std::max<std::size_t>(samples.devices, r.device + 1);
    if (r.kind != TraceRecord::Kind::compute) continue;
    samples.streams = std::max(samples.streams, r.stream + 1);
    const Op& op = run.graph->op(r.op);
    Durations& d = samples.kinds[op.kind][{op.flops, op.bytes_read + op.bytes_written}];
    const auto device = busy.find(r.device);
    const double covered = device == busy.end() ? 0.0 : overlap(device->second, r.start, r.end);
    if (covered > 0) {
      d.overlapped.push_back(r.end - r.start);
      d.overlap.push_back(covered);
    } else {
      d.clean.push_back(r.end - r.start);
    }
  }
}

// Per kind: the table of median times (clean runs when a shape has any) and its fitted roofline.
Calibration fit_kinds(const KindSamples& kinds, double& slowdown) {
  Calibration c;
  std::vector<double> measured, predicted, overlapped;
  for (const auto& [kind, shapes] : kinds) {
    KindCalibration& k = c.kinds[kind];
    for (const auto& [shape, d] : shapes) {
      const std::size_t count = d.clean.empty() ? d.overlapped.size() : d.clean.size();
      const double time = median(d.clean.empty() ? d.overlapped : d.clean);
      k.table.push_back({shape.first, shape.second, time, count});
      k.samples += d.clean.size() + d.overlapped.size();
      if (d.clean.empty()) continue;
      measured.insert(measured.end(), d.overlapped.begin(), d.overlapped.end());
      predicted.insert(predicted.end(), d.overlapped.size(), time);
      overlapped.insert(overlapped.end(), d.overlap.begin(), d.overlap.end());
    }
    const KindFit fit = fit_kind_roofline(k.table);
    k.flop_rate = fit.flop_rate;
    k.bandwidth = fit.bandwidth;
    k.overhead = fit.overhead;
  }
  slowdown = fit_concurrency_slowdown(measured, predicted, overlapped);
  return c;
}

Machine starting_machine(const std::optional<Machine>& base, const Samples& samples, const Calibration& c) {
  if (base) {
    if (base->num_devices() < samples.devices)
      throw Error("the base machine '" + base->name + "' has " + std::to_string(base->num_devices()) +
                  " devices but the traces use " + std::to_string(samples.devices));
    return *base;
  }
  Machine m;
  m.name = "calibrated";
  DeviceSpec spec;
  spec.kind = "calibrated";
  spec.flops = 0;
  for (const auto& [kind, k] : c.kinds) {
    spec.flops = std::max(spec.flops, k.flop_rate);
    spec.memory_bandwidth = std::max(spec.memory_bandwidth, k.bandwidth);
  }
  if (spec.flops == 0) spec.flops = 1;
  spec.streams = samples.streams;
  for (std::size_t i = 0; i < samples.devices; ++i) {
    spec.name = "dev" + std::to_string(i);
    m.devices.push_back(spec);
  }
  m.links.assign(samples.devices * samples.devices, LinkSpec{});
  m.host_to_device.assign(samples.devices, LinkSpec{1e300, 0});
  m.device_to_host.assign(samples.devices, LinkSpec{1e300, 0});
  return m;
}

void fit_links(const LinkSamples& links, bool have_base, Machine& m) {
  const std::size_t n = m.num_devices();
  std::vector<std::pair<double, double>> pooled, to_device, from_device;
  for (const auto& [pair, samples] : links) {
    auto& pool = pair.first == kHostDevice ? to_device : pair.second == kHostDevice ? from_device : pooled;
    pool.insert(pool.end(), samples.begin(), samples.end());
  }
  if (!pooled.empty() || have_base || n == 1) {
    const LinkSpec fallback = n > 1 ? m.link(0, 1) : LinkSpec{};
    const LinkSpec shared = pooled.empty() ? fallback : fit_link(pooled, fallback);
    for (DeviceId s = 0; s < n; ++s)
      for (DeviceId d = 0; d < n; ++d) {
        if (s == d) continue;
        const auto it = links.find({s, d});
        LinkSpec& link = m.links[s * n + d];
        link = it != links.end() ? fit_link(it->second, link) : pooled.empty() ? link : shared;
      }
  } else {
    throw Error("the traces hold no device-to-device copies to fit links from: give a base machine");
  }
  for (DeviceId d = 0; d < n; ++d) {
    m.host_to_device[d] = fit_link(to_device, m.host_to_device[d]);
    m.device_to_host[d] = fit_link(from_device, m.device_to_host[d]);
  }
}

}  // namespace

Machine fit_calibration(std::span<const MeasuredRun> runs, const std::optional<Machine>& base,
                        const std::string& source) {
  if (runs.empty()) throw Error("no traced runs to calibrate from");
  Samples samples;
  for (const MeasuredRun& run : runs) gather(run, samples);
  if (samples.kinds.empty()) throw Error("the traces hold no kernel (compute) records");
  double slowdown = 1;
  Calibration calibration = fit_kinds(samples.kinds, slowdown);
  calibration.concurrency_slowdown = slowdown;
  calibration.dispatch_gap = median(samples.gaps);  // median() of nothing is 0
  calibration.arrival_latency = median(samples.arrivals);
  // One copy engine per device when copies leaving a device for different destinations (nearly)
  // never overlap: fewer than 1 in 20 of at least 20 such pairs.
  const bool one_engine = samples.copy_pairs >= 20 && samples.overlapping_pairs * 20 < samples.copy_pairs;
  // A shared ingress when large copies sharing their destination run at most 0.8 of the rate of
  // those that had it alone (at least 20 of each; else the base machine's setting stays).
  std::optional<bool> shared_ingress;
  if (samples.alone_rates.size() >= 20 && samples.shared_rates.size() >= 20)
    shared_ingress = median(samples.shared_rates) <= 0.8 * median(samples.alone_rates);
  const CopyDelays& copy_delays = one_engine ? samples.engine_delays : samples.link_delays;
  calibration.copy_dispatch = median(copy_delays.dispatch);
  calibration.copy_gap = median(copy_delays.gap);
  calibration.start_latency = median(samples.starts);
  if (!samples.first_launches.empty()) {
    for (const auto& [kind, shapes] : samples.host_launch) {
      KindCalibration& k = calibration.kinds[kind];
      std::vector<double> all;
      for (const auto& [shape, spacings] : shapes) {
        k.host_table.push_back({shape.first, shape.second, median(spacings), spacings.size()});
        all.insert(all.end(), spacings.begin(), spacings.end());
      }
      k.host_launch = median(all);
    }
    calibration.host_load = median(samples.host_load);
    calibration.host_copy = median(samples.host_copy);
    calibration.launch_latency = std::max(0.0, median(samples.launch_latency));
    // The engine's first launch: when the run's first launch came, later by what its first kernel
    // waited beyond the launch latency (an idle GPU starts its first kernel late).
    std::vector<double> starts;
    for (std::size_t r = 0; r < samples.first_launches.size(); ++r)
      starts.push_back(samples.first_launches[r] +
                       std::max(0.0, samples.first_kernel_delays[r] - calibration.launch_latency));
    calibration.start_latency = std::max(0.0, median(starts));  // launches behind a gated start: < 0
  }
  calibration.source = source;
  Machine m = starting_machine(base, samples, calibration);
  fit_links(samples.links, base.has_value(), m);
  std::vector<double> overheads;
  for (const auto& [kind, k] : calibration.kinds) overheads.push_back(k.overhead);
  for (DeviceSpec& d : m.devices) {
    d.launch_overhead = median(overheads);
    if (samples.copy_pairs >= 20) d.copy_engines = one_engine ? 1 : 0;
    if (shared_ingress) d.shared_ingress = *shared_ingress;
  }
  m.calibration = std::move(calibration);
  return m;
}

double fit_trace_slowdown(std::span<const Trace> traces,
                          const std::function<double(const TraceRecord&)>& predicted) {
  std::vector<double> measured, expected, overlapped;
  for (const Trace& trace : traces) {
    const std::map<DeviceId, std::vector<Interval>> busy = copy_busy(trace);
    for (const TraceRecord& r : trace.records) {
      if (r.kind != TraceRecord::Kind::compute || r.end <= r.start) continue;
      const auto device = busy.find(r.device);
      measured.push_back(r.end - r.start);
      expected.push_back(predicted(r));
      overlapped.push_back(device == busy.end() ? 0.0 : overlap(device->second, r.start, r.end));
    }
  }
  return fit_concurrency_slowdown(measured, expected, overlapped);
}

}  // namespace doppler::sim
