#include "strided_copy.hpp"

#include <algorithm>
#include <string>

#include "doppler/error.hpp"

namespace doppler::hw {

std::int64_t StridedCopy::elements() const {
  std::int64_t n = 1;
  for (int k = 0; k < rank; ++k) n *= dims[k];
  return n;
}

bool runs_in_vectors(const StridedCopy& copy, int width) {
  if (copy.rank == 0 || width < 1) return false;
  const int inner = copy.rank - 1;
  if (copy.dims[inner] % width != 0 || copy.src_stride[inner] != 1 || copy.dst_stride[inner] != 1)
    return false;
  if (copy.src_offset % width != 0 || copy.dst_offset % width != 0) return false;
  for (int k = 0; k < inner; ++k)
    if (copy.src_stride[k] % width != 0 || copy.dst_stride[k] % width != 0) return false;
  return true;
}

std::vector<std::int64_t> row_major_strides(std::span<const std::int64_t> dims) {
  std::vector<std::int64_t> strides(dims.size(), 1);
  for (std::size_t d = dims.size(); d-- > 1;) strides[d - 1] = strides[d] * dims[d];
  return strides;
}

StridedCopy make_copy(std::span<const std::int64_t> dims, std::span<const std::int64_t> src_stride,
                      std::span<const std::int64_t> dst_stride, std::int64_t src_offset,
                      std::int64_t dst_offset) {
  std::vector<std::int64_t> n, ss, ds;
  for (std::size_t d = 0; d < dims.size(); ++d) {
    if (dims[d] == 1) continue;
    if (!n.empty() && ss.back() == src_stride[d] * dims[d] && ds.back() == dst_stride[d] * dims[d]) {
      n.back() *= dims[d];
      ss.back() = src_stride[d];
      ds.back() = dst_stride[d];
      continue;
    }
    n.push_back(dims[d]);
    ss.push_back(src_stride[d]);
    ds.push_back(dst_stride[d]);
  }
  if (n.size() > static_cast<std::size_t>(kMaxCopyRank)) {
    throw Error("hw: a strided copy of rank " + std::to_string(n.size()) + " exceeds the kernel's " +
                std::to_string(kMaxCopyRank));
  }
  StridedCopy copy;
  copy.rank = static_cast<int>(n.size());
  std::copy(n.begin(), n.end(), copy.dims);
  std::copy(ss.begin(), ss.end(), copy.src_stride);
  std::copy(ds.begin(), ds.end(), copy.dst_stride);
  copy.src_offset = src_offset;
  copy.dst_offset = dst_offset;
  return copy;
}

std::optional<StridedCopy> box_copy(std::span<const einsum::Range> src_box,
                                    std::span<const einsum::Range> dst_box) {
  src_box = src_box.first(dst_box.size());
  const std::size_t rank = dst_box.size();
  std::vector<std::int64_t> dims(rank), src_dims(rank), dst_dims(rank);
  std::int64_t src_offset = 0, dst_offset = 0;
  for (std::size_t d = 0; d < rank; ++d) {
    const std::int64_t begin = std::max(src_box[d].begin, dst_box[d].begin);
    const std::int64_t end = std::min(src_box[d].end, dst_box[d].end);
    if (end <= begin) return std::nullopt;
    dims[d] = end - begin;
    src_dims[d] = src_box[d].size();
    dst_dims[d] = dst_box[d].size();
  }
  const std::vector<std::int64_t> ss = row_major_strides(src_dims), ds = row_major_strides(dst_dims);
  for (std::size_t d = 0; d < rank; ++d) {
    const std::int64_t begin = std::max(src_box[d].begin, dst_box[d].begin);
    src_offset += (begin - src_box[d].begin) * ss[d];
    dst_offset += (begin - dst_box[d].begin) * ds[d];
  }
  return make_copy(dims, ss, ds, src_offset, dst_offset);
}

}  // namespace doppler::hw
