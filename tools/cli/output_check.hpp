#pragma once
// Contract: how GPU outputs are checked against the float64 CPU reference (execute --verify,
// offload --verify): per output tensor max |got - want| / max |want|, the worst over the graph's
// outputs; the tolerance is 1e-4 when every tensor is f32, else 5e-2.
#include <vector>

#include "doppler/einsum/einsum_graph.hpp"

namespace doppler::cli {

double output_tolerance(const einsum::EinsumGraph& graph);
double max_output_error(const einsum::EinsumGraph& graph, const std::vector<std::vector<float>>& got,
                        const std::vector<std::vector<double>>& want);

}  // namespace doppler::cli
