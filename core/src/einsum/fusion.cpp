#include "doppler/einsum/fusion.hpp"

#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace doppler::einsum {
namespace {

// An op's join over its operands, each an original tensor read with an index string.
struct Operand {
  TensorId tensor = 0;
  std::string indices;
  bool operator==(const Operand&) const = default;
};
struct Fused {
  std::vector<Operand> operands;
  Expr join;
};

int nodes(const Expr& e) {
  int n = 1;
  for (int i = 0; i < expr_arity(e.kind()); ++i) n += nodes(e.arg(i));
  return n;
}

// Stack slots of the postfix evaluation, left operand first (hw/src/join_program.cpp).
int stack_need(const Expr& e) {
  const int arity = expr_arity(e.kind());
  if (arity == 0) return 1;
  if (arity == 1) return stack_need(e.arg(0));
  return std::max(stack_need(e.arg(0)), 1 + stack_need(e.arg(1)));
}

// A product of two or more operands summed over shared indices: a GEMM on the GPU.
bool is_contraction(const EinsumOp& op) {
  return op.spec.inputs.size() >= 2 && op.spec.join_is_product() && op.spec.agg == Agg::kSum &&
         !op.spec.aggregated_indices().empty();
}

bool reads_with_all_indices(const EinsumOp& consumer, std::size_t k) {
  const std::string all = consumer.spec.all_indices();
  return std::set<char>(consumer.spec.inputs[k].begin(), consumer.spec.inputs[k].end()) ==
         std::set<char>(all.begin(), all.end());
}

// Structurally eligible for inlining (see the header), before the limits.
bool may_inline(const EinsumGraph& graph, EinsumOpId id) {
  const EinsumOp& op = graph.op(id);
  if (!op.is_einsum() || op.inputs.empty() || !op.spec.aggregated_indices().empty()) return false;
  if (graph.tensor(op.output).kind == TensorKind::kOutput) return false;
  const std::vector<EinsumOpId> consumers = graph.consumers(op.output);
  if (consumers.empty()) return false;
  for (const EinsumOpId c : consumers) {
    const EinsumOp& consumer = graph.op(c);
    if (!consumer.is_einsum() || is_contraction(consumer)) return false;
    for (std::size_t k = 0; k < consumer.inputs.size(); ++k)
      if (consumer.inputs[k] == op.output && !reads_with_all_indices(consumer, k)) return false;
  }
  return true;
}

// Op `id` over original tensors, with the ops in `inlined` substituted (definitions[t] holds the
// fused form of every inlined tensor t, in the letters of its producer's output).
Fused fuse_op(const EinsumGraph& graph, EinsumOpId id, const std::vector<std::optional<Fused>>& definitions) {
  const EinsumOp& op = graph.op(id);
  Fused fused;
  std::vector<Expr> replacement(op.inputs.size());
  const auto add_operand = [&fused](Operand operand) {
    const auto found = std::find(fused.operands.begin(), fused.operands.end(), operand);
    if (found != fused.operands.end()) return static_cast<int>(found - fused.operands.begin());
    fused.operands.push_back(std::move(operand));
    return static_cast<int>(fused.operands.size()) - 1;
  };
  for (std::size_t k = 0; k < op.inputs.size(); ++k) {
    const std::optional<Fused>& definition = definitions[op.inputs[k]];
    if (!definition) {
      replacement[k] = Expr::input(add_operand({op.inputs[k], op.spec.inputs[k]}));
      continue;
    }
    // The producer's output letters, renamed to the letters this op reads it with.
    const std::string& from = graph.op(graph.tensor(op.inputs[k]).producer).spec.output;
    const std::string& to = op.spec.inputs[k];
    std::vector<int> position;
    for (const Operand& inner : definition->operands) {
      std::string renamed;
      for (const char letter : inner.indices) renamed += to[from.find(letter)];
      position.push_back(add_operand({inner.tensor, renamed}));
    }
    replacement[k] = substitute_inputs(
        definition->join, [&position](int i) { return Expr::input(position[static_cast<std::size_t>(i)]); });
  }
  fused.join = substitute_inputs(op.spec.join,
                                 [&replacement](int k) { return replacement[static_cast<std::size_t>(k)]; });
  // Operands the join no longer reads (folded away) are dropped.
  std::vector<bool> used(fused.operands.size(), false);
  mark_used_inputs(fused.join, used);
  std::vector<int> renumber(fused.operands.size(), -1);
  std::vector<Operand> kept;
  for (std::size_t i = 0; i < fused.operands.size(); ++i) {
    if (!used[i]) continue;
    renumber[i] = static_cast<int>(kept.size());
    kept.push_back(fused.operands[i]);
  }
  fused.join = substitute_inputs(
      fused.join, [&renumber](int i) { return Expr::input(renumber[static_cast<std::size_t>(i)]); });
  fused.operands = std::move(kept);
  return fused;
}

bool within_limits(const Fused& fused, const FusionOptions& options) {
  return static_cast<int>(fused.operands.size()) <= options.max_inputs &&
         nodes(fused.join) <= options.max_join_nodes && stack_need(fused.join) <= options.max_join_stack;
}

}  // namespace

EinsumGraph fuse_elementwise(const EinsumGraph& graph, const FusionOptions& options) {
  const std::size_t num_ops = graph.num_ops();
  std::vector<bool> inline_op(num_ops, false);
  for (EinsumOpId id = 0; id < num_ops; ++id) inline_op[id] = may_inline(graph, id);
  // Fused forms under the current choice; an op over the limits un-inlines the ops it would absorb
  // directly, and the forms are recomputed until every op is within them (the set only shrinks).
  std::vector<std::optional<Fused>> definitions(graph.num_tensors());
  std::vector<Fused> forms(num_ops);
  for (bool changed = true; changed;) {
    changed = false;
    std::fill(definitions.begin(), definitions.end(), std::nullopt);
    for (EinsumOpId id = 0; id < num_ops && !changed; ++id) {
      const EinsumOp& op = graph.op(id);
      if (!op.is_einsum()) continue;
      forms[id] = fuse_op(graph, id, definitions);
      if (!within_limits(forms[id], options)) {
        for (const TensorId input : op.inputs) {
          if (!definitions[input]) continue;
          inline_op[graph.tensor(input).producer] = false;
          changed = true;
        }
        if (changed) continue;
      }
      if (inline_op[id]) definitions[op.output] = forms[id];
    }
  }
  EinsumGraph fused;
  std::vector<TensorId> renamed(graph.num_tensors(), 0);
  for (TensorId t = 0; t < graph.num_tensors(); ++t) {
    const Tensor& tensor = graph.tensor(t);
    if (tensor.producer == kNoProducer) {
      renamed[t] = fused.add_source_like(tensor);
      continue;
    }
    const EinsumOpId id = tensor.producer;
    if (inline_op[id]) continue;
    const EinsumOp& op = graph.op(id);
    if (!op.is_einsum()) {
      std::vector<TensorId> inputs;
      for (const TensorId input : op.inputs) inputs.push_back(renamed[input]);
      renamed[t] = fused.add_op_as(op, inputs, tensor.dtype, tensor.dims);
    } else {
      const Fused& form = forms[id];
      std::vector<std::string> indices;
      std::vector<TensorId> inputs;
      for (const Operand& operand : form.operands) {
        indices.push_back(operand.indices);
        inputs.push_back(renamed[operand.tensor]);
      }
      const EinsumSpec spec = make_einsum(op.spec.output, indices, form.join, op.spec.agg);
      renamed[t] = fused.add_einsum_as(op.name, spec, inputs, tensor.dtype,
                                       inputs.empty() ? tensor.dims : std::vector<std::int64_t>{});
    }
    if (tensor.kind == TensorKind::kOutput) fused.mark_output(renamed[t]);
  }
  return fused;
}

}  // namespace doppler::einsum
