// metis: METIS_PartGraphKway on the undirected graph, vertex weight = compute estimate, edge
// weight = the producer's communication estimate (both scaled to integers >= 1 relative to their
// maximum), into D parts: balances compute, cuts communication. Priority = decreasing b-level
// (ties: smaller op id). D == 1 (or no more ops than devices) needs no partitioner.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <span>
#include <string>

#include "doppler/error.hpp"
#include "heuristics.hpp"
#include "list_scheduling.hpp"

#ifdef DOPPLER_HAVE_METIS
#include <metis.h>
#endif

namespace doppler::policies {

bool metis_available() {
#ifdef DOPPLER_HAVE_METIS
  return true;
#else
  return false;
#endif
}

#ifdef DOPPLER_HAVE_METIS
namespace {

// Keeps every weight sum METIS forms within its 32-bit idx_t.
constexpr double kMaxWeight = 1e6;
constexpr double kMaxWeightSum = 1e9;

// Values scaled relative to their maximum into integers 1..max_weight (all 1 when every value is
// 0), where max_weight keeps a sum of `summed` weights below kMaxWeightSum.
std::vector<idx_t> integer_weights(std::span<const double> values, std::size_t summed) {
  const double max_weight = std::clamp(
      std::floor(kMaxWeightSum / static_cast<double>(std::max<std::size_t>(summed, 1))), 1.0, kMaxWeight);
  const double largest = values.empty() ? 0.0 : *std::max_element(values.begin(), values.end());
  std::vector<idx_t> weights(values.size(), 1);
  if (largest <= 0) return weights;
  for (std::size_t i = 0; i < values.size(); ++i)
    weights[i] = std::max<idx_t>(1, static_cast<idx_t>(std::llround(values[i] / largest * max_weight)));
  return weights;
}

std::vector<DeviceId> kway_partition(const PlacementContext& context, std::size_t devices) {
  const ExecGraph& graph = context.simulator.graph();
  const sim::CostTable& costs = context.simulator.costs();
  std::vector<idx_t> vertex_weight = integer_weights(costs.compute_estimate(), graph.num_ops);
  const std::vector<idx_t> producer_weight = integer_weights(costs.comm_estimate(), 2 * graph.num_edges());

  std::vector<idx_t> offsets{0};
  std::vector<idx_t> neighbours;
  std::vector<idx_t> edge_weight;
  neighbours.reserve(2 * graph.num_edges());
  edge_weight.reserve(2 * graph.num_edges());
  for (OpId op = 0; op < graph.num_ops; ++op) {
    for (OpId succ : graph.successors(op)) {
      neighbours.push_back(static_cast<idx_t>(succ));
      edge_weight.push_back(producer_weight[op]);
    }
    for (OpId pred : graph.predecessors(op)) {
      neighbours.push_back(static_cast<idx_t>(pred));
      edge_weight.push_back(producer_weight[pred]);
    }
    offsets.push_back(static_cast<idx_t>(neighbours.size()));
  }

  idx_t options[METIS_NOPTIONS];
  METIS_SetDefaultOptions(options);
  options[METIS_OPTION_SEED] = static_cast<idx_t>(context.seed % 2147483647u);
  options[METIS_OPTION_NUMBERING] = 0;
  idx_t vertices = static_cast<idx_t>(graph.num_ops);
  idx_t constraints = 1;
  idx_t parts = static_cast<idx_t>(devices);
  idx_t cut = 0;
  std::vector<idx_t> part(graph.num_ops, 0);
  const int status =
      METIS_PartGraphKway(&vertices, &constraints, offsets.data(), neighbours.data(), vertex_weight.data(),
                          nullptr, edge_weight.data(), &parts, nullptr, nullptr, options, &cut, part.data());
  if (status != METIS_OK) {
    throw Error("metis placement: METIS_PartGraphKway failed (status " + std::to_string(status) +
                ") on graph " + context.simulator.task_graph().source());
  }
  return {part.begin(), part.end()};
}

}  // namespace
#endif

Plan place_metis([[maybe_unused]] const PlacementContext& context) {
#ifndef DOPPLER_HAVE_METIS
  throw Error(
      "placement 'metis' is unavailable: doppler was built without METIS (install libmetis-dev, then re-run "
      "CMake and rebuild)");
#else
  const std::size_t devices = detail::device_count(context);
  Plan plan = detail::empty_plan(context, "metis");
  const std::size_t ops = plan.device.size();
  if (devices > 1 && ops > devices) {
    plan.device = kway_partition(context, devices);
  } else if (devices > 1) {
    std::iota(plan.device.begin(), plan.device.end(), DeviceId{0});
  }
  const std::vector<double> level = detail::estimated_bottom_levels(context.simulator);
  std::vector<OpId> order(ops);
  std::iota(order.begin(), order.end(), OpId{0});
  std::stable_sort(order.begin(), order.end(), [&level](OpId a, OpId b) { return level[a] > level[b]; });
  plan.priority = detail::priority_from_order(order);
  return plan;
#endif
}

}  // namespace doppler::policies
