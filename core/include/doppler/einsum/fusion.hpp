#pragma once
// Contract: elementwise fusion of an einsum graph. An op is INLINED when it is a map (an einsum
// without aggregated indices and with at least one input, e.g. a scale, exp(x - max), a residual
// add), its output is not a graph output, and every consumer is an einsum that is not a contraction
// (a product of two or more operands summed over some indices: those run as GEMMs) and reads it with all of
// its own indices (so no consumer evaluates an element of it more than once). Each consumer then reads the
// inlined op's inputs instead, with the op's join substituted into its own (chains of maps
// collapse), as long as it keeps at most `max_inputs` distinct operands and a join of at most
// `max_join_nodes` nodes that evaluates on a stack of `max_join_stack` (the GPU join programs'
// limits, checked in hw/src/join_program.hpp); otherwise the op stays.
// The result computes the same values, except that inlined ops' outputs are not rounded to their
// dtype, with fewer ops and tensors; every kept tensor keeps its name, kind, dims and dtype.
// Example: a softmax's scale and exp(x - max) disappear, its max, sum and division read the scores.
#include "doppler/einsum/einsum_graph.hpp"

namespace doppler::einsum {

struct FusionOptions {
  int max_inputs = 6;       // distinct operands of a fused op
  int max_join_nodes = 48;  // nodes of a fused op's join, constants and inputs included
  int max_join_stack = 12;  // stack slots its postfix evaluation needs (left operand first)
};

EinsumGraph fuse_elementwise(const EinsumGraph& graph, const FusionOptions& options = {});

}  // namespace doppler::einsum
