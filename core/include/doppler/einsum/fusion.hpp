#pragma once
// Contract: elementwise fusion of an einsum graph. An op is INLINED when it is a map (an einsum
// without aggregated indices and with at least one input, e.g. a scale, exp(x - max), a residual
// add), its output is not a graph output, and every consumer is an einsum (not a structural or row
// op) that is not a contraction (a product of two or more operands summed over some indices: those
// run as GEMMs) and reads it with all of its own indices (so no consumer evaluates an element of it more than
// once). Each consumer then reads the inlined op's inputs instead, with the op's join substituted into its
// own (chains of maps collapse), as long as it keeps at most `max_inputs` distinct operands and a join of at
// most `max_join_nodes` nodes that evaluates on a stack of `max_join_stack` (the GPU join programs' limits,
// checked in hw/src/join_program.hpp); otherwise the op stays. The result computes the same values, except
// that inlined ops' outputs are not rounded to their dtype, with fewer ops and tensors; every kept tensor
// keeps its name, kind, dims and dtype. Example (without row-op fusion): a softmax's scale and exp(x - max)
// disappear, its max, sum and division read the scores.
#include "doppler/einsum/einsum_graph.hpp"

namespace doppler::einsum {

struct FusionOptions {
  int max_inputs = 6;       // distinct operands of a fused op
  int max_join_nodes = 48;  // nodes of a fused op's join, constants and inputs included
  int max_join_stack = 12;  // stack slots its postfix evaluation needs (left operand first)
};

EinsumGraph fuse_elementwise(const EinsumGraph& graph, const FusionOptions& options = {});

// Row-op fusion: the softmax, RMSNorm and rotary patterns that einsum_builder.hpp builds (exactly
// its joins and letters; their inner tensors read by nothing else and not graph outputs) become
// one row op each (einsum_graph.hpp), with the same name as the pattern's result: softmax's four ops
// (max, exp, sum, divide), and the scale of its input when that is a map x * c read by nothing
// else (c becomes the softmax's scale); RMSNorm's two; rotary's five (two slices, negation, concat
// and the product with the tables). Everything else is copied. The result computes the same
// values (up to the rounding of the absorbed tensors to their dtype). `fuse: true` runs this, then
// fuse_elementwise, which never inlines into a row op.
EinsumGraph fuse_row_ops(const EinsumGraph& graph);

}  // namespace doppler::einsum
