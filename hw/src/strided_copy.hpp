#pragma once
// Contract: a STRIDED COPY: a box of `dims` elements read at src_offset + sum(i_d * src_stride[d])
// and written at dst_offset + sum(i_d * dst_stride[d]) (element units). It describes every data
// movement of the backend: repartition and assembly (the intersection of two blocks of one
// tensor), slices, concats, reshapes and the permutations around cuBLAS. Builders merge dims that
// are contiguous on both sides, so most copies end up rank 1 or 2. Pure host code.
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "doppler/einsum/partition.hpp"

namespace doppler::hw {

inline constexpr int kMaxCopyRank = 8;

struct StridedCopy {
  int rank = 0;
  std::int64_t dims[kMaxCopyRank] = {};
  std::int64_t src_stride[kMaxCopyRank] = {};
  std::int64_t dst_stride[kMaxCopyRank] = {};
  std::int64_t src_offset = 0;
  std::int64_t dst_offset = 0;

  std::int64_t elements() const;
};

// Whether the copy splits into runs of `width` consecutive elements contiguous on both sides and
// starting at multiples of `width` (innermost dim a multiple of `width` with stride 1 on both
// sides, every other stride and both offsets multiples of `width`).
bool runs_in_vectors(const StridedCopy& copy, int width);

// Row-major strides of `dims`.
std::vector<std::int64_t> row_major_strides(std::span<const std::int64_t> dims);

// A copy of `dims` with the given strides; merges contiguous dims and drops size-1 dims. Throws
// an Error when more than kMaxCopyRank dims remain.
StridedCopy make_copy(std::span<const std::int64_t> dims, std::span<const std::int64_t> src_stride,
                      std::span<const std::int64_t> dst_stride, std::int64_t src_offset = 0,
                      std::int64_t dst_offset = 0);

// The intersection of `src_box` and `dst_box` (global coordinates of one tensor; buffers laid out
// row-major over each box). `src_box` may be longer (a join's ranges): its prefix of dst's rank
// is used. nullopt when the boxes do not meet.
std::optional<StridedCopy> box_copy(std::span<const einsum::Range> src_box,
                                    std::span<const einsum::Range> dst_box);

// Runs a copy on host buffers.
template <typename T>
void run_copy_on_host(const StridedCopy& copy, const T* src, T* dst) {
  std::int64_t at[kMaxCopyRank] = {};
  const std::int64_t total = copy.elements();
  for (std::int64_t e = 0; e < total; ++e) {
    std::int64_t rest = e, s = copy.src_offset, d = copy.dst_offset;
    for (int k = copy.rank - 1; k >= 0; --k) {
      at[k] = rest % copy.dims[k];
      rest /= copy.dims[k];
      s += at[k] * copy.src_stride[k];
      d += at[k] * copy.dst_stride[k];
    }
    dst[d] = src[s];
  }
}

}  // namespace doppler::hw
