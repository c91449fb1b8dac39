#include "join_launch.hpp"

#include <cstdint>
#include <limits>
#include <vector>

#include "doppler/error.hpp"

namespace doppler::hw {
namespace {

constexpr std::int64_t kMaxOffset = std::numeric_limits<std::int32_t>::max();

struct Dim {
  std::int64_t size;
  bool aggregated;
  std::int64_t stride[kMaxJoinInputs];
};

// Threads per output element: a thread each for short reductions (and long ones across memory
// when there are many outputs: neighbouring threads then read neighbouring elements), else a warp,
// or a whole block for long reductions with few outputs.
int group_for(const JoinParams& p, bool contiguous_reduction) {
  if (p.agg == AggKind::kNone || p.agg_elements < 16) return 1;
  if (!contiguous_reduction && p.out_elements >= 16384) return 1;
  if (p.agg_elements <= 1024 || p.out_elements >= 16384) return 32;
  return 256;
}

// The launch's VECTOR (join_launch.hpp): a reduction vectorises along its one aggregated dim.
int vector_for(const JoinLaunch& l) {
  const int aggregated = l.loop_dims - l.out_dims;
  if (l.loop_dims == 0 || aggregated != (l.agg == AggKind::kNone ? 0 : 1)) return 1;
  const int inner = l.loop_dims - 1;
  if (l.size[inner].divisor % kJoinVector != 0) return 1;
  if (!vector_pointers_aligned(l)) return 1;
  for (int k = 0; k < l.inputs; ++k) {
    const std::uint32_t stride = l.in_stride[k][inner];
    if (stride == 0) continue;
    if (stride != 1) return 1;
    for (int d = 0; d < inner; ++d)
      if (l.in_stride[k][d] % kJoinVector != 0) return 1;
  }
  return kJoinVector;
}

}  // namespace

bool vector_pointers_aligned(const JoinLaunch& l) {
  const auto aligned16 = [](const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; };
  if (l.agg == AggKind::kNone && !aligned16(l.out)) return false;
  const int inner = l.loop_dims - 1;
  for (int k = 0; k < l.inputs; ++k)
    if (inner >= 0 && l.in_stride[k][inner] == 1 && !aligned16(l.in[k])) return false;
  return true;
}

JoinLaunch make_join_launch(const JoinParams& p, const std::string& where) {
  std::vector<Dim> dims;  // outermost first, size-1 dims dropped, mergeable neighbours merged
  for (int d = 0; d < p.loop_dims; ++d) {
    if (p.size[d] == 1) continue;
    Dim dim{p.size[d], d >= p.out_dims, {}};
    for (int k = 0; k < p.inputs; ++k) dim.stride[k] = p.in_stride[k][d];
    if (!dims.empty() && dims.back().aggregated == dim.aggregated) {
      Dim& outer = dims.back();
      bool contiguous = true;
      for (int k = 0; k < p.inputs; ++k)
        contiguous = contiguous && outer.stride[k] == dim.stride[k] * dim.size;
      if (contiguous) {
        outer.size *= dim.size;
        for (int k = 0; k < p.inputs; ++k) outer.stride[k] = dim.stride[k];
        continue;
      }
    }
    dims.push_back(dim);
  }
  if (p.out_elements > kMaxOffset || p.agg_elements > kMaxOffset ||
      p.out_elements * p.agg_elements > kMaxOffset)
    throw Error("hw: " + where + ": a join block over 2^31 elements is too large for the join kernel");

  JoinLaunch l;
  l.inputs = p.inputs;
  for (int k = 0; k < p.inputs; ++k) {
    l.in[k] = p.in[k];
    l.in_type[k] = p.in_type[k];
  }
  l.out = p.out;
  l.out_type = p.out_type;
  l.agg = p.agg;
  l.out_elements = static_cast<std::uint32_t>(p.out_elements);
  l.agg_elements = static_cast<std::uint32_t>(p.agg_elements);
  l.program = p.program;
  l.form = match_join_form(p.program, l.constant);
  std::int64_t last_offset[kMaxJoinInputs] = {};
  for (const Dim& dim : dims) {
    if (!dim.aggregated) ++l.out_dims;
    const int d = l.loop_dims++;
    l.size[d] = FastDivmod(static_cast<std::uint32_t>(dim.size));
    for (int k = 0; k < p.inputs; ++k) {
      last_offset[k] += dim.stride[k] * (dim.size - 1);
      if (last_offset[k] > kMaxOffset)
        throw Error("hw: " + where + ": an operand over 2^31 elements is too large for the join kernel");
      l.in_stride[k][d] = static_cast<std::uint32_t>(dim.stride[k]);
    }
  }
  const bool contiguous_reduction =
      l.loop_dims > l.out_dims && p.inputs > 0 && l.in_stride[0][l.loop_dims - 1] == 1;
  l.group = group_for(p, contiguous_reduction);
  l.vector = vector_for(l);
  return l;
}

}  // namespace doppler::hw
