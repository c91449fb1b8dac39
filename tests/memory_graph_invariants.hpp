#pragma once
// Test helper: checks a MemoryGraph against its task graph and plan, for ANY order its edges allow:
// deps point backwards; every op runs once on its plan device; device regions lie in the budget;
// walking the nodes in index order, an alloc never overlaps a live region and whatever released an
// overlapping region before is its ancestor; every read (op operand, copy/load/evict source) finds
// the tensor live in that region, written by an ancestor; every release has the region's writer
// and readers as ancestors; kept tensors are where `outputs` says at the end. Returns "" or the
// first violation.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "doppler/memory/memory_graph.hpp"
#include "doppler/plan.hpp"
#include "doppler/task_graph.hpp"

namespace doppler::test_support {

inline std::string memory_graph_violation(const memory::MemoryGraph& mg, const TaskGraph& graph,
                                          const Plan& plan) {
  using namespace doppler::memory;
  const std::size_t n = mg.nodes.size();
  std::vector<std::vector<bool>> ancestor(n);
  for (std::size_t i = 0; i < n; ++i) {
    ancestor[i].assign(n, false);
    for (const MemNodeId d : mg.nodes[i].deps) {
      if (d >= i) return "node " + std::to_string(i) + " depends on a later node " + std::to_string(d);
      ancestor[i][d] = true;
      for (std::size_t k = 0; k < d; ++k)
        if (ancestor[d][k]) ancestor[i][k] = true;
    }
  }
  struct Live {
    OpId tensor;
    std::uint64_t end;
    MemNodeId writer;  // kNoNode: a host input
    std::vector<MemNodeId> readers;
  };
  struct Released {
    std::uint64_t end;
    MemNodeId by;
  };
  const std::size_t host = mg.num_devices;
  std::vector<std::map<std::uint64_t, Live>> live(host + 1);
  std::vector<std::vector<std::pair<std::uint64_t, Released>>> released(host + 1);
  const auto arena = [host](DeviceId d) { return d == kHostDevice ? host : std::size_t{d}; };
  for (const MemPlacement& input : mg.host_inputs)
    live[host][input.region.offset] = {input.tensor, input.region.end(), kNoNode, {}};
  const auto at = [&](const MemRegion& r, OpId t, MemNodeId reader, const char* what) -> std::string {
    auto& regions = live[arena(r.device)];
    const auto it = regions.find(r.offset);
    const std::string where = std::string(what) + " of node " + std::to_string(reader);
    if (it == regions.end() || it->second.end != r.end()) return where + ": no live region there";
    if (it->second.tensor != t) return where + ": the region holds another tensor";
    if (it->second.writer == kNoNode && arena(r.device) != host) return where + ": not written yet";
    if (it->second.writer != kNoNode && !ancestor[reader][it->second.writer])
      return where + ": its writer " + std::to_string(it->second.writer) + " is not an ancestor";
    it->second.readers.push_back(reader);
    return "";
  };
  const auto release = [&](const MemRegion& r, OpId t, MemNodeId by) -> std::string {
    auto& regions = live[arena(r.device)];
    const auto it = regions.find(r.offset);
    if (it == regions.end() || it->second.end != r.end() || it->second.tensor != t)
      return "node " + std::to_string(by) + " releases a region that is not live";
    for (const MemNodeId reader : it->second.readers)
      if (reader != by && !ancestor[by][reader])
        return "node " + std::to_string(by) + " releases before reader " + std::to_string(reader);
    if (it->second.writer != kNoNode && it->second.writer != by && !ancestor[by][it->second.writer])
      return "node " + std::to_string(by) + " releases before its writer";
    regions.erase(it);
    released[arena(r.device)].push_back({r.offset, {r.end(), by}});
    return "";
  };
  const auto acquire = [&](const MemRegion& r, OpId t, MemNodeId by, bool device) -> std::string {
    const std::size_t a = arena(r.device);
    if (device && (r.device >= mg.num_devices || r.end() > mg.budget))
      return "node " + std::to_string(by) + " allocates outside the budget";
    for (const auto& [offset, region] : live[a])
      if (offset < r.end() && r.offset < region.end)
        return "node " + std::to_string(by) + " allocates over a live region";
    for (const auto& [offset, rel] : released[a])
      if (offset < r.end() && r.offset < rel.end && !ancestor[by][rel.by])
        return "node " + std::to_string(by) + " reuses memory released by " + std::to_string(rel.by) +
               ", which is not its ancestor";
    live[a][r.offset] = {t, r.end(), kNoNode, {}};
    return "";
  };
  const auto written = [&](const MemRegion& r, MemNodeId by) {
    auto& region = live[arena(r.device)].at(r.offset);
    region.writer = by;
  };
  std::vector<int> runs(graph.num_ops(), 0);
  for (MemNodeId i = 0; i < n; ++i) {
    const MemNode& node = mg.nodes[i];
    std::string problem;
    switch (node.kind) {
      case MemNodeKind::kAlloc:
        problem = acquire(node.region, node.tensor, i, true);
        break;
      case MemNodeKind::kFree:
        problem = release(node.region, node.tensor, i);
        break;
      case MemNodeKind::kOp: {
        ++runs[node.tensor];
        if (node.region.device != plan.device[node.tensor])
          return "op node " + std::to_string(i) + " off its device";
        if (node.operands.size() != graph.predecessors(node.tensor).size())
          return "op node " + std::to_string(i) + " lacks operands";
        for (const MemOperand& operand : node.operands) {
          if (operand.region.device != node.region.device) return "operand on another device";
          problem = at(operand.region, operand.tensor, i, "operand");
          if (!problem.empty()) return problem;
        }
        const auto it = live[arena(node.region.device)].find(node.region.offset);
        if (it == live[arena(node.region.device)].end() || it->second.tensor != node.tensor)
          return "op node " + std::to_string(i) + " writes an unallocated region";
        written(node.region, i);
        break;
      }
      case MemNodeKind::kCopy:
      case MemNodeKind::kLoad: {
        problem = at(node.source, node.tensor, i, "source");
        if (!problem.empty()) return problem;
        const auto it = live[arena(node.region.device)].find(node.region.offset);
        if (it == live[arena(node.region.device)].end() || it->second.tensor != node.tensor)
          return "transfer node " + std::to_string(i) + " writes an unallocated region";
        written(node.region, i);
        break;
      }
      case MemNodeKind::kEvict:
        problem = at(node.region, node.tensor, i, "evicted region");
        if (problem.empty()) problem = acquire(node.source, node.tensor, i, false);
        if (problem.empty()) written(node.source, i);
        if (problem.empty()) problem = release(node.region, node.tensor, i);
        break;
    }
    if (!problem.empty()) return problem;
  }
  std::vector<bool> is_host_input(graph.num_ops(), false);
  for (const MemPlacement& input : mg.host_inputs) is_host_input[input.tensor] = true;
  for (OpId v = 0; v < graph.num_ops(); ++v)
    if (runs[v] != (is_host_input[v] ? 0 : 1))
      return "op " + std::to_string(v) + " ran " + std::to_string(runs[v]) + " times";
  for (const MemPlacement& output : mg.outputs) {
    const auto& regions = live[arena(output.region.device)];
    const auto it = regions.find(output.region.offset);
    if (it == regions.end() || it->second.tensor != output.tensor || it->second.writer == kNoNode)
      return "output " + std::to_string(output.tensor) + " is not where the graph says";
  }
  return "";
}

}  // namespace doppler::test_support
