#include "doppler/einsum/partition.hpp"

#include <algorithm>
#include <string>

#include "doppler/error.hpp"

namespace doppler::einsum {
namespace {

bool is_power_of_two(int k) {
  return k > 0 && (k & (k - 1)) == 0;
}

void check_letter(const EinsumOp& op, const std::string& letters, char c, int k) {
  const std::string where = "op '" + op.name + "': ";
  if (letters.find(c) == std::string::npos) {
    throw Error(where + "partition splits index " + std::string(1, c) + ", which the op lacks");
  }
  const std::int64_t n = index_size(op.sizes, c);
  const std::string index = "index " + std::string(1, c) + " of size " + std::to_string(n);
  if (!is_power_of_two(k)) {
    throw Error(where + std::to_string(k) + " blocks for " + index + " is not a power of two");
  }
  if (k > n) throw Error(where + std::to_string(k) + " blocks for " + index + " are more than its size");
  if (block_range(n, k, k - 1).size() <= 0) {
    throw Error(where + std::to_string(k) + " blocks for " + index + " leave the last block empty");
  }
}

}  // namespace

Partition make_partition(std::string_view indices, const std::vector<int>& counts) {
  if (indices.size() != counts.size()) {
    throw Error("partition '" + std::string(indices) + "': " + std::to_string(counts.size()) +
                " counts for " + std::to_string(indices.size()) + " indices");
  }
  Partition p;
  for (std::size_t i = 0; i < indices.size(); ++i) {
    if (indices[i] < 'a' || indices[i] > 'z') {
      throw Error("partition '" + std::string(indices) + "': index letters must be a..z");
    }
    p.set(indices[i], counts[i]);
  }
  return p;
}

Range block_range(std::int64_t n, int blocks, int b) {
  const std::int64_t size = (n + blocks - 1) / blocks;
  return Range{std::min(n, b * size), std::min(n, (b + 1) * size)};
}

std::string splittable_indices(const EinsumGraph& graph, EinsumOpId id) {
  const EinsumOp& op = graph.op(id);
  if (op.is_einsum()) return op.spec.all_indices();
  if (op.is_row_op()) {
    std::string letters = op.spec.output;
    letters.erase(static_cast<std::size_t>(op.axis), 1);
    return letters;
  }
  std::string shared;
  for (const char c : op.spec.output) {
    bool everywhere = true;
    for (const std::string& in : op.spec.inputs) everywhere = everywhere && in.find(c) != std::string::npos;
    if (everywhere) shared += c;
  }
  return shared;
}

void validate_partition(const EinsumGraph& graph, EinsumOpId id, const Partition& partition) {
  const EinsumOp& op = graph.op(id);
  const std::string letters = op.spec.all_indices();
  const std::string splittable = splittable_indices(graph, id);
  for (int i = 0; i < 26; ++i) {
    const int k = partition.blocks[static_cast<std::size_t>(i)];
    const char c = static_cast<char>('a' + i);
    if (k == 0) continue;
    check_letter(op, letters, c, k);
    if (k > 1 && splittable.find(c) == std::string::npos) {
      throw Error("op '" + op.name + "': a " + std::string(op_kind_name(op.kind)) + " cannot split index " +
                  std::string(1, c) + " (it is on one side only: " + op.spec.to_string() + ")");
    }
  }
}

std::vector<int> grid_of(const Partition& partition, std::string_view indices) {
  std::vector<int> grid;
  grid.reserve(indices.size());
  for (const char c : indices) grid.push_back(partition.of(c));
  return grid;
}

std::int64_t block_count(const std::vector<int>& grid) {
  std::int64_t n = 1;
  for (const int k : grid) n *= k;
  return n;
}

std::vector<int> block_tuple(const std::vector<int>& grid, std::int64_t linear) {
  std::vector<int> tuple(grid.size(), 0);
  for (std::size_t d = grid.size(); d-- > 0;) {
    tuple[d] = static_cast<int>(linear % grid[d]);
    linear /= grid[d];
  }
  return tuple;
}

std::int64_t block_linear(const std::vector<int>& grid, const std::vector<int>& tuple) {
  std::int64_t linear = 0;
  for (std::size_t d = 0; d < grid.size(); ++d) linear = linear * grid[d] + tuple[d];
  return linear;
}

std::vector<Range> block_ranges(const std::vector<std::int64_t>& dims, const std::vector<int>& grid,
                                const std::vector<int>& tuple) {
  std::vector<Range> ranges;
  ranges.reserve(dims.size());
  for (std::size_t d = 0; d < dims.size(); ++d) ranges.push_back(block_range(dims[d], grid[d], tuple[d]));
  return ranges;
}

std::int64_t elements_of(const std::vector<Range>& ranges) {
  std::int64_t n = 1;
  for (const Range& r : ranges) n *= r.size();
  return n;
}

}  // namespace doppler::einsum
