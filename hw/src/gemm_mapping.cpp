#include "gemm_mapping.hpp"

#include <limits>
#include <string>
#include <vector>

namespace doppler::hw {
namespace {

using einsum::index_size;

// The letters of `s` of size > 1 that are in `keep`, in the order of `s`.
std::string filtered(const std::string& s, const std::string& keep, const einsum::IndexSizes& sizes) {
  std::string out;
  for (const char c : s)
    if (index_size(sizes, c) > 1 && keep.find(c) != std::string::npos) out += c;
  return out;
}

constexpr std::int64_t kRegionAlign = 128;  // elements: keeps every workspace region 256-byte aligned

std::int64_t align(std::int64_t elements) {
  return (elements + kRegionAlign - 1) / kRegionAlign * kRegionAlign;
}

std::int64_t product(const std::string& letters, const einsum::IndexSizes& sizes) {
  std::int64_t n = 1;
  for (const char c : letters) n *= index_size(sizes, c);
  return n;
}

// A copy from a buffer laid out row-major over `from` (all its letters) into one laid out over
// `to` (a reordering of its letters of size > 1).
StridedCopy reorder(const std::string& from, const std::string& to, const einsum::IndexSizes& sizes) {
  std::vector<std::int64_t> from_dims, to_dims;
  for (const char c : from) from_dims.push_back(index_size(sizes, c));
  for (const char c : to) to_dims.push_back(index_size(sizes, c));
  const std::vector<std::int64_t> fs = row_major_strides(from_dims), ts = row_major_strides(to_dims);
  std::vector<std::int64_t> src(to.size());
  for (std::size_t d = 0; d < to.size(); ++d) src[d] = fs[from.find(to[d])];
  return make_copy(to_dims, src, ts);
}

// A copy from a buffer laid out row-major over `canonical` (letters of size > 1) into one laid out
// over `output` (all the output's letters).
StridedCopy reorder_out(const std::string& canonical, const std::string& output,
                        const einsum::IndexSizes& sizes) {
  std::vector<std::int64_t> canon_dims, out_dims;
  for (const char c : canonical) canon_dims.push_back(index_size(sizes, c));
  for (const char c : output) out_dims.push_back(index_size(sizes, c));
  const std::vector<std::int64_t> cs = row_major_strides(canon_dims), os = row_major_strides(out_dims);
  std::vector<std::int64_t> dst(canonical.size());
  for (std::size_t d = 0; d < canonical.size(); ++d) dst[d] = os[output.find(canonical[d])];
  return make_copy(canon_dims, cs, dst);
}

}  // namespace

std::optional<GemmMapping> map_to_gemm(const einsum::EinsumSpec& spec, const einsum::IndexSizes& sizes) {
  if (spec.inputs.size() != 2 || spec.agg != einsum::Agg::kSum || !spec.join_is_product())
    return std::nullopt;
  const std::string& a = spec.inputs[0];
  const std::string& b = spec.inputs[1];
  const std::string& o = spec.output;
  std::string batch, m, n, k;
  for (const char c : spec.all_indices()) {
    const bool in_a = a.find(c) != std::string::npos, in_b = b.find(c) != std::string::npos;
    if (index_size(sizes, c) > 1 && o.find(c) == std::string::npos && !(in_a && in_b)) return std::nullopt;
  }
  for (const char c : o) {
    if (index_size(sizes, c) <= 1) continue;
    const bool in_a = a.find(c) != std::string::npos, in_b = b.find(c) != std::string::npos;
    (in_a && in_b ? batch : in_a ? m : n) += c;
  }
  for (const char c : a)
    if (index_size(sizes, c) > 1 && o.find(c) == std::string::npos) k += c;

  GemmMapping g;
  g.batch = product(batch, sizes);
  const std::int64_t mm = product(m, sizes), nn = product(n, sizes);
  g.k = product(k, sizes);
  const bool worth = (g.k > 1 && (mm * nn > 1 || g.batch == 1)) || (g.k == 1 && mm > 1 && nn > 1);
  constexpr std::int64_t kIntMax = std::numeric_limits<int>::max();
  if (!worth || g.batch > kIntMax || mm > kIntMax || nn > kIntMax || g.k > kIntMax) return std::nullopt;

  const std::string others[2] = {m, n};
  const std::string letters[2] = {a, b};
  for (int i = 0; i < 2; ++i) {
    const std::string have = filtered(letters[i], batch + others[i] + k, sizes);
    GemmOperand& op = g.operand[i];
    if (have == batch + others[i] + k) continue;
    if (have == batch + k + others[i]) {
      op.k_first = true;
      continue;
    }
    op.permute = reorder(letters[i], batch + others[i] + k, sizes);
    op.workspace_offset = g.workspace_elements;
    g.workspace_elements += align(g.batch * product(others[i], sizes) * g.k);
  }
  const std::string out = filtered(o, o, sizes);
  // Row-major output [batch, P, Q] is column-major Q x P: rows are Q's letters (cuBLAS's x).
  if (out == batch + n + m) {
    g.x_operand = 0;
    g.rows = mm;
    g.cols = nn;
  } else {
    g.x_operand = 1;
    g.rows = nn;
    g.cols = mm;
    if (out != batch + m + n) {
      g.unpermute = reorder_out(batch + m + n, o, sizes);
      g.result_offset = g.workspace_elements;
      g.workspace_elements += align(g.batch * mm * nn);
    }
  }
  return g;
}

}  // namespace doppler::hw
