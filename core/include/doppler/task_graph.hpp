#pragma once
// Contract: the kernel-level task graph. Ops carry their cost inputs; an edge u->v is the tensor u
// produces and v consumes (a repeated pair is one dependency). Successor order is insertion order,
// which simulators use to order same-time events. validate() rejects cycles and bad costs with an
// Error naming the op. Owns its ops; cheap to move, deep to copy.
#include <boost/graph/adjacency_list.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace doppler {

using OpId = std::uint32_t;
inline constexpr OpId kNoOp = static_cast<OpId>(-1);

struct Op {
  std::string name;                  // unique label for messages; defaults to "op<id>"
  std::string kind;                  // op type, free-form ("matmul", "softmax", paper optype, ...)
  std::optional<double> fixed_cost;  // compute time in the graph's own units (paper model)
  std::optional<double> comm_cost;   // paper model: delay of every cross-device edge leaving this op
  double flops = 0;                  // roofline inputs
  double bytes_read = 0;
  double bytes_written = 0;
  double output_bytes = 0;  // size of the produced tensor: what a transfer moves
};

class TaskGraph {
 public:
  explicit TaskGraph(std::string source = "<graph>") : source_(std::move(source)) {}

  OpId add_op(Op op);
  // Adds the dependency src->dst. A repeated pair is ignored (one dependency). Throws on an unknown
  // id or a self loop.
  void add_edge(OpId src, OpId dst);

  std::size_t num_ops() const { return boost::num_vertices(graph_); }
  std::size_t num_edges() const { return boost::num_edges(graph_); }
  const Op& op(OpId id) const { return graph_[id]; }
  Op& op(OpId id) { return graph_[id]; }
  std::vector<OpId> successors(OpId id) const;    // insertion order
  std::vector<OpId> predecessors(OpId id) const;  // insertion order

  // Kahn order, ties by id. Throws an Error naming an op on a cycle.
  std::vector<OpId> topological_order() const;
  // Cycles, negative / non-finite costs -> Error naming the op and the source file.
  void validate() const;

  const std::string& source() const { return source_; }
  // Structural fingerprint (op count, edges, costs) used to tie a plan to its graph.
  std::uint64_t fingerprint() const;

 private:
  using Graph = boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS, Op>;
  Graph graph_;
  std::string source_;
};

}  // namespace doppler
