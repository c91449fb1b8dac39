// The data-parallel and Megatron-style model-parallel baselines: a set of tensor dims is marked and
// followed through the ops (an op carries a mark when an operand's marked dim is one of its
// indices; its output dims with that index are marked in turn); every op carrying a mark splits it.
#include <string>
#include <utility>
#include <vector>

#include "decomposition_methods.hpp"

namespace doppler::einsum {
namespace {

using DimMarks = std::vector<std::vector<bool>>;  // per tensor, per dim

DimMarks unmarked(const EinsumGraph& graph) {
  DimMarks marks(graph.num_tensors());
  for (TensorId t = 0; t < graph.num_tensors(); ++t) marks[t].assign(graph.tensor(t).dims.size(), false);
  return marks;
}

// The op's first index (in all_indices order) that an operand carries marked, or 0.
char marked_index(const EinsumOp& op, const DimMarks& marks) {
  for (const char c : op.spec.all_indices()) {
    for (std::size_t k = 0; k < op.inputs.size(); ++k) {
      const std::string& letters = op.spec.inputs[k];
      const std::size_t d = letters.find(c);
      if (d != std::string::npos && marks[op.inputs[k]][d]) return c;
    }
  }
  return 0;
}

// Megatron's column split: the first index of a parameter operand that the output has and that no
// non-parameter operand has; 0 when there is none.
char column_index(const EinsumGraph& graph, const EinsumOp& op) {
  for (std::size_t k = 0; k < op.inputs.size(); ++k) {
    if (graph.tensor(op.inputs[k]).kind != TensorKind::kParameter) continue;
    for (const char c : op.spec.inputs[k]) {
      if (op.spec.output.find(c) == std::string::npos) continue;
      bool in_activation = false;
      for (std::size_t j = 0; j < op.inputs.size(); ++j) {
        const bool activation = graph.tensor(op.inputs[j]).kind != TensorKind::kParameter;
        if (activation && op.spec.inputs[j].find(c) != std::string::npos) in_activation = true;
      }
      if (!in_activation) return c;
    }
  }
  return 0;
}

// Splits index `c` of op `o` as close to `devices` ways as it allows, if `c` may be split.
Partition split_index(const EinsumGraph& graph, EinsumOpId o, char c, int devices) {
  Partition p;
  if (c == 0 || splittable_indices(graph, o).find(c) == std::string::npos) return p;
  const int blocks = max_blocks(index_size(graph.op(o).sizes, c), devices);
  if (blocks > 1) p.set(c, blocks);
  return p;
}

void mark_output(const EinsumOp& op, char c, DimMarks& marks) {
  const std::size_t d = op.spec.output.find(c);
  if (d != std::string::npos) marks[op.output][d] = true;
}

std::vector<Partition> follow_marks(const EinsumGraph& graph, int devices, DimMarks marks,
                                    bool column_splits) {
  std::vector<Partition> partitions(graph.num_ops());
  for (EinsumOpId o = 0; o < graph.num_ops(); ++o) {
    const EinsumOp& op = graph.op(o);
    char c = marked_index(op, marks);
    if (c == 0 && column_splits) c = column_index(graph, op);
    if (c == 0) continue;
    partitions[o] = split_index(graph, o, c, devices);
    mark_output(op, c, marks);
  }
  return partitions;
}

}  // namespace

std::vector<Partition> data_parallel_partitions(const EinsumGraph& graph, int devices) {
  DimMarks marks = unmarked(graph);
  for (TensorId t = 0; t < graph.num_tensors(); ++t) {
    if (graph.tensor(t).kind == TensorKind::kInput && !marks[t].empty()) marks[t][0] = true;
  }
  return follow_marks(graph, devices, std::move(marks), false);
}

std::vector<Partition> model_parallel_partitions(const EinsumGraph& graph, int devices) {
  return follow_marks(graph, devices, unmarked(graph), true);
}

}  // namespace doppler::einsum
