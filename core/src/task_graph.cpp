#include "doppler/task_graph.hpp"

#include <cmath>
#include <cstring>
#include <queue>

#include "doppler/error.hpp"

namespace doppler {

OpId TaskGraph::add_op(Op op) {
  const auto id = static_cast<OpId>(boost::num_vertices(graph_));
  if (op.name.empty()) op.name = "op" + std::to_string(id);
  boost::add_vertex(std::move(op), graph_);
  return id;
}

void TaskGraph::add_edge(OpId src, OpId dst) {
  const auto n = num_ops();
  if (src >= n || dst >= n) {
    throw Error(source_ + ": edge " + std::to_string(src) + "->" + std::to_string(dst) +
                " names an op that does not exist (graph has " + std::to_string(n) + " ops)");
  }
  if (src == dst) throw Error(source_ + ": op '" + op(src).name + "' depends on itself (self loop)");
  if (boost::edge(src, dst, graph_).second) return;
  boost::add_edge(src, dst, graph_);
}

std::vector<OpId> TaskGraph::successors(OpId id) const {
  std::vector<OpId> out;
  for (auto [it, end] = boost::adjacent_vertices(id, graph_); it != end; ++it) out.push_back(*it);
  return out;
}

std::vector<OpId> TaskGraph::predecessors(OpId id) const {
  std::vector<OpId> out;
  for (auto [it, end] = boost::in_edges(id, graph_); it != end; ++it) {
    out.push_back(static_cast<OpId>(boost::source(*it, graph_)));
  }
  return out;
}

std::vector<OpId> TaskGraph::topological_order() const {
  const auto n = num_ops();
  std::vector<std::size_t> indegree(n);
  for (OpId v = 0; v < n; ++v) indegree[v] = boost::in_degree(v, graph_);
  std::priority_queue<OpId, std::vector<OpId>, std::greater<>> ready;
  for (OpId v = 0; v < n; ++v)
    if (indegree[v] == 0) ready.push(v);
  std::vector<OpId> order;
  order.reserve(n);
  while (!ready.empty()) {
    const OpId u = ready.top();
    ready.pop();
    order.push_back(u);
    for (auto [it, end] = boost::adjacent_vertices(u, graph_); it != end; ++it)
      if (--indegree[*it] == 0) ready.push(static_cast<OpId>(*it));
  }
  if (order.size() != n) {
    for (OpId v = 0; v < n; ++v) {
      if (indegree[v] > 0) {
        throw Error(source_ + ": the graph has a cycle through op '" + op(v).name + "' (id " +
                    std::to_string(v) + ")");
      }
    }
  }
  return order;
}

void TaskGraph::validate() const {
  for (OpId v = 0; v < num_ops(); ++v) {
    const Op& o = op(v);
    auto check = [&](const char* field, double value) {
      if (!std::isfinite(value) || value < 0) {
        throw Error(source_ + ": op '" + o.name + "' (id " + std::to_string(v) + ") has " + field + " = " +
                    std::to_string(value) + "; costs must be finite and >= 0");
      }
    };
    if (o.fixed_cost) check("fixed cost", *o.fixed_cost);
    if (o.comm_cost) check("communication cost", *o.comm_cost);
    check("flops", o.flops);
    check("bytes read", o.bytes_read);
    check("bytes written", o.bytes_written);
    check("output bytes", o.output_bytes);
  }
  (void)topological_order();
}

std::uint64_t TaskGraph::fingerprint() const {
  std::uint64_t h = 1469598103934665603ULL;
  auto mix = [&h](std::uint64_t x) {
    h ^= x + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    h *= 1099511628211ULL;
  };
  auto mix_double = [&mix](double d) {
    std::uint64_t bits;
    static_assert(sizeof bits == sizeof d);
    std::memcpy(&bits, &d, sizeof d);
    mix(bits);
  };
  mix(num_ops());
  for (OpId v = 0; v < num_ops(); ++v) {
    const Op& o = op(v);
    mix_double(o.fixed_cost.value_or(-1));
    mix_double(o.comm_cost.value_or(-1));
    mix_double(o.flops);
    mix_double(o.output_bytes);
    for (auto [it, end] = boost::adjacent_vertices(v, graph_); it != end; ++it) mix(*it + 1);
  }
  return h;
}

}  // namespace doppler
