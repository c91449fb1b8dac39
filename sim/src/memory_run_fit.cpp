#include "doppler/sim/memory_run_fit.hpp"

#include <algorithm>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>

#include "doppler/median.hpp"
#include "memory_resources.hpp"

namespace doppler::sim {
namespace {

using memory::MemNode;
using memory::MemNodeKind;

// The median of non-negative delays (measurement noise can make a few negative).
double median_delay(std::vector<double> samples) {
  return std::max(0.0, median(std::move(samples)));
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
  std::vector<std::size_t> made_by(n, kNoResource);  // the resource whose end made the node ready
  std::vector<std::size_t> done_by(n, kNoResource);
  for (std::size_t i = 0; i < n; ++i) {
    const MemNode& node = mg.nodes[i];
    for (const memory::MemNodeId dep : node.deps) {
      if (dep >= i) throw std::logic_error("fit_memory_run_latencies: nodes are not in topological order");
      if (done[dep] >= ready[i]) {
        ready[i] = done[dep];
        made_by[i] = done_by[dep];
      }
    }
    const std::size_t resource = memory_node_resource(node, devices);
    done[i] = resource == kNoResource ? ready[i] : run.end[i];
    done_by[i] = resource == kNoResource ? made_by[i] : resource;
  }
  std::map<std::size_t, std::vector<std::size_t>> by_resource;
  for (std::size_t i = 0; i < n; ++i)
    if (const std::size_t r = memory_node_resource(mg.nodes[i], devices); r != kNoResource)
      by_resource[r].push_back(i);
  for (auto& [resource, ids] : by_resource) {
    std::sort(ids.begin(), ids.end(),
              [&run](std::size_t a, std::size_t b) { return run.start[a] < run.start[b]; });
    double previous_end = 0;
    for (const std::size_t i : ids) {
      const MemNode& node = mg.nodes[i];
      const bool transfer = node.kind == MemNodeKind::kLoad || node.kind == MemNodeKind::kEvict;
      if (transfer && ready[i] < previous_end) {
        samples.gap.push_back(run.start[i] - previous_end);
      } else if (transfer && made_by[i] != kNoResource) {
        samples.dispatch.push_back(run.start[i] - ready[i]);
      } else if (node.kind == MemNodeKind::kOp && ready[i] < previous_end) {
        samples.back_to_back.push_back(run.start[i] - previous_end);
      } else if (node.kind == MemNodeKind::kOp && made_by[i] != kNoResource && made_by[i] != resource) {
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
  return {median_delay(samples.dispatch), median_delay(samples.gap), median_delay(samples.arrival),
          median_delay(samples.back_to_back)};
}

}  // namespace doppler::sim
