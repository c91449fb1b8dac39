#include "doppler/sim/memory_run_fit.hpp"

#include <algorithm>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>

namespace doppler::sim {
namespace {

using memory::MemNode;
using memory::MemNodeKind;

constexpr std::size_t kNone = std::numeric_limits<std::size_t>::max();

// The resource a timed node holds (as the simulator's): compute, H2D, D2H or a device pair.
std::size_t resource_of(const MemNode& node, std::size_t devices) {
  switch (node.kind) {
    case MemNodeKind::kOp:
      return node.region.device;
    case MemNodeKind::kLoad:
      return devices + node.region.device;
    case MemNodeKind::kEvict:
      return 2 * devices + node.region.device;
    case MemNodeKind::kCopy:
      return 3 * devices + node.source.device * devices + node.region.device;
    default:
      return kNone;
  }
}

double median_or_zero(std::vector<double> samples) {
  if (samples.empty()) return 0;
  const auto mid = samples.begin() + static_cast<std::ptrdiff_t>(samples.size() / 2);
  std::nth_element(samples.begin(), mid, samples.end());
  return std::max(0.0, *mid);
}

struct Samples {
  std::vector<double> dispatch, gap, arrival, back_to_back;
};

void collect(const MeasuredMemoryRun& run, Samples& samples) {
  const memory::MemoryGraph& mg = *run.graph;
  const std::size_t n = mg.nodes.size();
  if (run.start.size() != n || run.end.size() != n)
    throw std::logic_error("fit_memory_run_latencies: " + std::to_string(run.start.size()) + " start and " +
                           std::to_string(run.end.size()) + " end times for " + std::to_string(n) + " nodes");
  const std::size_t devices = mg.num_devices;
  std::vector<double> done(n, 0), ready(n, 0);
  std::vector<std::size_t> made_by(n, kNone);  // the resource whose end made the node ready
  std::vector<std::size_t> done_by(n, kNone);
  for (std::size_t i = 0; i < n; ++i) {
    const MemNode& node = mg.nodes[i];
    for (const memory::MemNodeId dep : node.deps) {
      if (dep >= i) throw std::logic_error("fit_memory_run_latencies: nodes are not in topological order");
      if (done[dep] >= ready[i]) {
        ready[i] = done[dep];
        made_by[i] = done_by[dep];
      }
    }
    const std::size_t resource = resource_of(node, devices);
    done[i] = resource == kNone ? ready[i] : run.end[i];
    done_by[i] = resource == kNone ? made_by[i] : resource;
  }
  std::map<std::size_t, std::vector<std::size_t>> by_resource;
  for (std::size_t i = 0; i < n; ++i)
    if (const std::size_t r = resource_of(mg.nodes[i], devices); r != kNone) by_resource[r].push_back(i);
  for (auto& [resource, ids] : by_resource) {
    std::sort(ids.begin(), ids.end(),
              [&run](std::size_t a, std::size_t b) { return run.start[a] < run.start[b]; });
    double previous_end = 0;
    for (const std::size_t i : ids) {
      const MemNode& node = mg.nodes[i];
      const bool transfer = node.kind == MemNodeKind::kLoad || node.kind == MemNodeKind::kEvict;
      if (transfer && ready[i] < previous_end) {
        samples.gap.push_back(run.start[i] - previous_end);
      } else if (transfer && made_by[i] != kNone) {
        samples.dispatch.push_back(run.start[i] - ready[i]);
      } else if (node.kind == MemNodeKind::kOp && ready[i] < previous_end) {
        samples.back_to_back.push_back(run.start[i] - previous_end);
      } else if (node.kind == MemNodeKind::kOp && made_by[i] != kNone && made_by[i] != resource) {
        samples.arrival.push_back(run.start[i] - ready[i]);
      }
      previous_end = std::max(previous_end, run.end[i]);
    }
  }
}

}  // namespace

MemoryRunLatencies fit_memory_run_latencies(std::span<const MeasuredMemoryRun> runs) {
  Samples samples;
  for (const MeasuredMemoryRun& run : runs) collect(run, samples);
  return {median_or_zero(samples.dispatch), median_or_zero(samples.gap), median_or_zero(samples.arrival),
          median_or_zero(samples.back_to_back)};
}

}  // namespace doppler::sim
