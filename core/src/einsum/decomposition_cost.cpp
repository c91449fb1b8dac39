#include <string>

#include "doppler/einsum/decomposition.hpp"

namespace doppler::einsum {

DecompositionCost op_cost(const EinsumGraph& graph, EinsumOpId id, const Partition& partition) {
  const EinsumOp& op = graph.op(id);
  const std::string all = op.spec.all_indices();
  double kernels = 1;
  for (const char c : all) kernels *= partition.of(c);
  DecompositionCost cost;
  for (std::size_t k = 0; k < op.inputs.size(); ++k) {
    double blocks = 1;
    for (const char c : op.spec.inputs[k]) blocks *= partition.of(c);
    cost.replication += static_cast<double>(graph.tensor(op.inputs[k]).elements()) * (kernels / blocks - 1);
  }
  double partials = 1;
  for (const char c : op.spec.aggregated_indices()) partials *= partition.of(c);
  cost.aggregation = static_cast<double>(graph.tensor(op.output).elements()) * (partials - 1);
  return cost;
}

DecompositionCost decomposition_cost(const EinsumGraph& graph, const std::vector<Partition>& partitions) {
  DecompositionCost total;
  for (EinsumOpId o = 0; o < graph.num_ops(); ++o) {
    const EinsumOp& op = graph.op(o);
    const DecompositionCost local = op_cost(graph, o, partitions.at(o));
    total.replication += local.replication;
    total.aggregation += local.aggregation;
    for (std::size_t k = 0; k < op.inputs.size(); ++k) {
      const Tensor& input = graph.tensor(op.inputs[k]);
      if (input.producer == kNoProducer) continue;
      const EinsumOp& producer = graph.op(input.producer);
      const std::vector<int> made = grid_of(partitions.at(input.producer), producer.spec.output);
      if (made != grid_of(partitions[o], op.spec.inputs[k])) {
        total.repartition += static_cast<double>(input.elements());
      }
    }
  }
  return total;
}

std::string partition_label(const EinsumGraph& graph, EinsumOpId id, const Partition& partition) {
  std::string label;
  for (const char c : graph.op(id).spec.all_indices()) {
    if (partition.of(c) > 1) label += c + std::to_string(partition.of(c));
  }
  return label.empty() ? "-" : label;
}

}  // namespace doppler::einsum
