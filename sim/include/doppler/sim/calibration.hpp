#pragma once
// Contract: fits the simulator's cost model from measured traces (issue 4, "Calibration").
//  kernels: per task kind, the median time of every measured (flops, bytes) shape (a table) and a
//           roofline overhead + max(flops / flop_rate, bytes / bandwidth) fitted by least squares on
//           relative error (for shapes never measured). Kernels overlapped by a copy on their device
//           are left out when the kind has enough others.
//  launch:  every device's launch overhead = the median fitted per-kind overhead (kinds without
//           samples fall back to the device roofline plus it); the dispatch gap = the median idle
//           time between back-to-back kernels of a stream (< 10 us apart), added to every kernel
//           that takes time; the arrival latency = the median time from a transfer's end to the
//           start of a kernel that waited for it last (the executor notices arrivals by polling).
//  links:   per directed device pair, and host->device / device->host pooled over devices, latency
//           and bandwidth by least squares of duration on bytes; pairs never measured get the pooled
//           device-to-device fit, else keep the base machine's link.
//  overlap: concurrency_slowdown s from kernels overlapped by copies: a kernel advances at 1/s of
//           its speed while overlapped (1 when there is no such evidence).
//  host:    from runs with launch times (launches.csv): the host thread's time per launch, from one
//           launch of a device's thread to its next when that next one was already launchable
//           (its inputs launched): medians per task kind (host_launch), for resident loads
//           (host_load) and for copies (host_copy); launch_latency = the median time from a kernel's
//           launch to its start when the launch came after its stream was free and its inputs
//           were there; start_latency then = the median first launch.
// The result is the base machine (or, without one, a machine of as many devices as the traces
// use) with these numbers and its `calibration` section set.
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "doppler/machine.hpp"
#include "doppler/task_graph.hpp"
#include "doppler/trace.hpp"
#include "doppler/trace_csv.hpp"

namespace doppler::sim {

// One measured run: the task graph it ran and its trace (times in seconds).
struct MeasuredRun {
  const TaskGraph* graph = nullptr;
  const Trace* trace = nullptr;
  const std::vector<HostLaunch>* launches = nullptr;  // the host's launch times, when recorded
  int queue_depth = 0;                                // the executor's, when recorded (0: unknown)
};

Machine fit_calibration(std::span<const MeasuredRun> runs, const std::optional<Machine>& base,
                        const std::string& source);

// The fitting steps, exposed for tests.
struct KindFit {
  double flop_rate = 0;  // 0 = not a limit
  double bandwidth = 0;  // 0 = not a limit
  double overhead = 0;
};
// Least squares on relative error over the shapes (one point each, their median time).
KindFit fit_kind_roofline(std::span<const ShapeTime> shapes);
// (bytes, seconds) samples -> latency + bytes / bandwidth. Fewer than two distinct sizes keep
// `fallback`'s latency and fit the bandwidth.
LinkSpec fit_link(std::span<const std::pair<double, double>> samples, const LinkSpec& fallback);
// The slowdown s that best explains durations: measured - predicted = (1 - 1/s) * overlapped.
double fit_concurrency_slowdown(std::span<const double> measured, std::span<const double> predicted,
                                std::span<const double> overlapped);
// The same fit over measured traces: every compute row's duration against `predicted(row)` (the
// simulator's time for that kernel alone), overlapped by the time a transfer into or out of its
// device ran (`doppler offload --gpu` fits the GPU's slowdown under host copies this way).
double fit_trace_slowdown(std::span<const Trace> traces,
                          const std::function<double(const TraceRecord&)>& predicted);

}  // namespace doppler::sim
