#pragma once
// Contract: relational reverse-mode autodiff (arXiv 2306.00088) over einsum graphs. The gradient of
// an einsum w.r.t. one input is itself an einsum over the output gradient and the forward tensors:
//   sum aggregation:     grad.in_k[I_k] = sum over indices not in I_k of  g[O] * df/dk(inputs)
//   max/min aggregation: the same with the factor step(f - out) (max) or step(out - f) (min), so the
//                        gradient flows to the arg-max/arg-min; ALL tied extrema receive it.
//   prod aggregation:    the same with the factor "product of the other factors" of the aggregated
//                        tuple, exact with zeros: from helper einsums grad.OUT.zeros (count of zero
//                        factors z) and grad.OUT.nonzero (product p of the non-zero ones): p / f
//                        where f != 0 and z == 0, p where f == 0 and z == 1, else 0.
//   structural ops:      reshape: g reshaped back; concat: input k's slice of g; slice: g padded
//                        back by a concat with zero fills NAME.pad_lo / NAME.pad_hi (NAME = grad.X
//                        or grad.X.N), their axis letters taken from z downwards.
// Ops without inputs (fills) get no gradient. Several contributions (grad.X.0, grad.X.1, ...) are summed by
// one add op. The result graph keeps the forward tensors at the same TensorIds (so given values carry over),
// then a seed `grad.LOSS` (a fill of ones) and the backward ops; each requested tensor X gets an output
// tensor `grad.X` (a zero fill when X does not reach the loss). Bad input throws a one-line doppler::Error
// starting with "autodiff: ".
#include <string>
#include <variant>
#include <vector>

#include "doppler/einsum/einsum_graph.hpp"

namespace doppler::einsum {

struct GradientOptions {
  // Names of the tensors to differentiate; empty = every parameter.
  std::vector<std::string> wrt;
  // A non-scalar loss is refused unless this is set; then its seed is all ones (= d sum(loss)).
  bool seed_non_scalar_with_ones = false;
};

EinsumGraph gradient_graph(const EinsumGraph& forward, TensorId loss, const GradientOptions& options = {});
// Same, the loss named; an unknown name throws.
EinsumGraph gradient_graph(const EinsumGraph& forward, const std::string& loss_name,
                           const GradientOptions& options = {});

struct Sgd {
  double lr = 0.01;
};
// One Adam step at step count `step` (1-based), bias corrections folded into constants. Each
// parameter P gets state parameters `m.P` and `v.P` (same dims) and outputs `new.m.P`, `new.v.P`.
struct Adam {
  double lr = 0.001;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  int step = 1;
};
using Optimizer = std::variant<Sgd, Adam>;

// gradient_graph w.r.t. every parameter, then per parameter P an update op producing output `new.P`:
//   SGD:  new.P = P - lr * grad.P
//   Adam: new.m.P = b1*m + (1-b1)*g;  new.v.P = b2*v + (1-b2)*g^2;
//         new.P = P - lr * (new.m.P / (1-b1^t)) / (sqrt(new.v.P / (1-b2^t)) + eps)
EinsumGraph training_step_graph(const EinsumGraph& forward, TensorId loss, const Optimizer& optimizer);

}  // namespace doppler::einsum
