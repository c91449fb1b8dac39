#pragma once
// Contract: a PARTITION of an einsum op = the number of blocks per index letter (every letter the
// op uses, output and aggregated; an unset letter has 1 block). Counts are powers of two; an index
// of size n in k blocks has blocks of ceil(n/k) elements, the last one possibly shorter but never
// empty. A tensor's partition is its GRID: blocks per dim. Block tuples are enumerated row-major
// (last dim fastest). validate_partition throws a one-line doppler::Error naming the op.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "doppler/einsum/einsum_graph.hpp"

namespace doppler::einsum {

struct Partition {
  std::array<int, 26> blocks{};  // 0 = not set = 1 block

  int of(char index) const {
    const int b = blocks[static_cast<std::size_t>(index - 'a')];
    return b == 0 ? 1 : b;
  }
  Partition& set(char index, int count) {
    blocks[static_cast<std::size_t>(index - 'a')] = count;
    return *this;
  }
};

// Blocks `counts[i]` for letter `indices[i]`, e.g. make_partition("ijk", {2, 2, 1}).
Partition make_partition(std::string_view indices, const std::vector<int>& counts);

// Half-open range [begin, end) of one block along one index.
struct Range {
  std::int64_t begin = 0;
  std::int64_t end = 0;
  std::int64_t size() const { return end - begin; }
  bool operator==(const Range&) const = default;
};

// Block `b` of an index of size `n` split into `blocks` blocks of ceil(n / blocks).
Range block_range(std::int64_t n, int blocks, int b);
// The index letters of op `id` that a partition may split (more than one block); every other
// letter must stay at 1 block. For a plain einsum: all of its indices; a row op: all but its axis.
std::string splittable_indices(const EinsumGraph& graph, EinsumOpId id);
// Throws unless `graph.op(id)` can take `partition` (letters it lacks, counts that are not powers
// of two, more blocks than the index size, an empty last block).
void validate_partition(const EinsumGraph& graph, EinsumOpId id, const Partition& partition);

// Blocks per letter of `indices`: the grid of an operand with that index string.
std::vector<int> grid_of(const Partition& partition, std::string_view indices);
std::int64_t block_count(const std::vector<int>& grid);
// Row-major tuple of block number `linear` in `grid`, and back.
std::vector<int> block_tuple(const std::vector<int>& grid, std::int64_t linear);
std::int64_t block_linear(const std::vector<int>& grid, const std::vector<int>& tuple);
// Ranges of block `tuple` of a tensor with `dims` split by `grid`.
std::vector<Range> block_ranges(const std::vector<std::int64_t>& dims, const std::vector<int>& grid,
                                const std::vector<int>& tuple);
std::int64_t elements_of(const std::vector<Range>& ranges);

}  // namespace doppler::einsum
