#pragma once
// Contract: DECOMPOSITION of an einsum graph for N devices: one Partition per op, chosen by
//  eindecomp  the EinDecomp optimizer (arXiv 2410.02682): minimise the elements moved or replicated
//             (cost below) subject to every op running as about N join kernels. Candidates per op:
//             power-of-two blocks on the op's splittable indices whose product is N rounded to
//             powers of two (or N/2 .. 4N with `wide_search`); an op too small for that gets the
//             largest products it allows. Search: the graph is cut into trees (an op whose output
//             has exactly one use joins its consumer's tree; others are roots), each tree solved
//             exactly by dynamic programming in topological order with the partitions of earlier
//             trees fixed. At most `max_candidates` per op are kept, the locally cheapest.
//  data       data-parallel: the batch (dim 0 of every graph input, followed through the ops) split
//             N ways wherever an op carries it, including aggregations over it (the all-reduce of
//             weight gradients); other ops unsplit.
//  model      Megatron-style model-parallel: an op with a parameter operand and no split dim yet
//             splits the parameter's first index that the output has and no activation operand has
//             (column-parallel: heads, hidden, ffn); the split dim is followed through later ops,
//             which split it as well (row-parallel when it is aggregated). Other ops unsplit.
//  none       every op in one block.
// COST (elements; the EinDecomp objective): replication = sum over joins of input elements read by
// more than one kernel (|in_k| x (kernels per block of in_k - 1)); aggregation = partial outputs
// beyond the first per output block (|out| x (partials - 1)); repartition = whole tensor when a
// producer's output grid differs from the grid its consumer reads. Graph inputs load in any grid.
#include <string>
#include <string_view>
#include <vector>

#include "doppler/einsum/einsum_graph.hpp"
#include "doppler/einsum/partition.hpp"

namespace doppler::einsum {

enum class DecomposeMethod { kEinDecomp, kDataParallel, kModelParallel, kNoSplit };
std::string_view decompose_method_name(DecomposeMethod method);  // "eindecomp", "data", "model", "none"
// Throws an Error listing the known names.
DecomposeMethod parse_decompose_method(std::string_view name);

struct DecomposeOptions {
  int devices = 4;  // N >= 1
  DecomposeMethod method = DecomposeMethod::kEinDecomp;
  bool wide_search = false;   // eindecomp: candidate products N/2 .. 4N
  int max_candidates = 1024;  // eindecomp: branching bound per op (>= 1)
  // Lowering: an aggregate task combines at most this many partials; more become a tree of
  // aggregates (0 = one task over all of them). Less memory per task, for CPU-RAM offload.
  int aggregate_fan_in = 0;
};

struct DecompositionCost {
  double replication = 0;
  double aggregation = 0;
  double repartition = 0;
  double total() const { return replication + aggregation + repartition; }
};

struct Decomposition {
  std::vector<Partition> partitions;  // indexed by EinsumOpId
  DecompositionCost cost;
  double seconds = 0;  // wall time of the method
};

Decomposition decompose(const EinsumGraph& graph, const DecomposeOptions& options);

// Replication + aggregation of op `id` under `partition` (repartition is 0: it belongs to edges).
DecompositionCost op_cost(const EinsumGraph& graph, EinsumOpId id, const Partition& partition);
// The full cost of one partition per op.
DecompositionCost decomposition_cost(const EinsumGraph& graph, const std::vector<Partition>& partitions);
// "i2k2" style: the letters of the op's indices with more than one block and their counts; "-" if none.
std::string partition_label(const EinsumGraph& graph, EinsumOpId id, const Partition& partition);

}  // namespace doppler::einsum
