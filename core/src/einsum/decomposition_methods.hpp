#pragma once
// Internal to core: the partition search of each decomposition method (decomposition.hpp states
// what each does); decompose() times them and prices the result.
#include <vector>

#include "doppler/einsum/decomposition.hpp"

namespace doppler::einsum {

std::vector<Partition> eindecomp_partitions(const EinsumGraph& graph, const DecomposeOptions& options);
std::vector<Partition> data_parallel_partitions(const EinsumGraph& graph, int devices);
std::vector<Partition> model_parallel_partitions(const EinsumGraph& graph, int devices);

// Largest power-of-two block count for an index of size `n` that is at most `limit` and leaves
// no block empty.
int max_blocks(std::int64_t n, int limit);

}  // namespace doppler::einsum
