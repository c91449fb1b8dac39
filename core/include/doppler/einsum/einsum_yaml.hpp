#pragma once
// Contract: the YAML EINSUM-GRAPH format (docs/FORMATS.md, example configs/einsum/mlp.yaml): named
// inputs and parameters with dims (and a dtype), ops in order, each a plain extended einsum or one
// of einsum_builder's composite ops, and the output tensors. The reader builds the graph with the
// same EinsumGraph and builder calls C++ code makes, so a graph written in YAML equals the one
// built in C++ (same tensor names, ops, specs and dims). Every problem throws doppler::Error with
// one line "FILE:LINE: what is wrong": malformed YAML, unknown keys, unknown or duplicate tensor
// names, bad einsum text, shape mismatches (the graph's or builder's message), missing outputs.
// einsum_graph_to_yaml() writes any EinsumGraph (autodiff's training graphs too) as plain einsum
// ops and structural ops with their exact index letters; reading it back gives a graph equal to it
// by tensor name.
#include <string>

#include "doppler/einsum/einsum_graph.hpp"

namespace doppler::einsum {

// `source_name` is the FILE of error messages.
EinsumGraph parse_einsum_graph(const std::string& text, const std::string& source_name);
EinsumGraph load_einsum_graph(const std::string& path);
// The graph as the YAML format with top-level `einsum_graph: NAME`.
std::string einsum_graph_to_yaml(const EinsumGraph& graph, const std::string& name);

}  // namespace doppler::einsum
