#pragma once
// Contract: the generic join kernel's launch description, compiled on the host from a JoinParams
// (one einsum block): loop dims of size 1 dropped, neighbouring dims of one region (output or
// aggregated) merged where every operand is contiguous across them, 32-bit element offsets (an
// Error when a block or operand exceeds 2^31 elements), a FastDivmod per loop dim, and GROUP:
// how many threads cooperate on one output element (1; 32 = a warp; 256 = a block), chosen from
// the reduction's length and whether it runs along contiguous memory, and the program's join
// form (join_forms.hpp), and VECTOR: 8 when each thread may take 8 consecutive elements of the
// innermost loop dim with 16-byte loads (its size a multiple of 8; every operand runs along it with
// stride 1, then 16-byte aligned with its other strides multiples of 8, or stride 0; at most one
// aggregated dim, then the innermost; a map's output 16-byte aligned), else 1. join_base_offsets and
// join_agg_offsets are the kernel's index arithmetic, shared with the host for tests.
#include <cstdint>
#include <string>

#include "fast_divmod.hpp"
#include "join_forms.hpp"
#include "join_program.hpp"

namespace doppler::hw {

enum class ElemType : std::uint8_t { kF32, kF16, kBF16 };
enum class AggKind : std::uint8_t { kNone, kSum, kMax, kMin, kProd };

inline constexpr int kMaxLoopDims = 12;
inline constexpr int kJoinVector = 8;  // elements per thread on the vectorised path

// One join block as the einsum describes it: loop dims [0, out_dims) are the output's
// (row-major), [out_dims, loop_dims) the aggregated ones; strides in elements, 0 = broadcast.
struct JoinParams {
  int out_dims = 0;
  int loop_dims = 0;
  std::int64_t size[kMaxLoopDims] = {};
  int inputs = 0;
  const void* in[kMaxJoinInputs] = {};
  ElemType in_type[kMaxJoinInputs] = {};
  std::int64_t in_stride[kMaxJoinInputs][kMaxLoopDims] = {};
  void* out = nullptr;
  ElemType out_type = ElemType::kF32;
  AggKind agg = AggKind::kNone;
  std::int64_t out_elements = 1;
  std::int64_t agg_elements = 1;
  JoinProgram program;
};

struct JoinLaunch {
  int out_dims = 0;
  int loop_dims = 0;
  FastDivmod size[kMaxLoopDims];
  int inputs = 0;
  const void* in[kMaxJoinInputs] = {};
  ElemType in_type[kMaxJoinInputs] = {};
  std::uint32_t in_stride[kMaxJoinInputs][kMaxLoopDims] = {};
  void* out = nullptr;
  ElemType out_type = ElemType::kF32;
  AggKind agg = AggKind::kNone;
  std::uint32_t out_elements = 1;
  std::uint32_t agg_elements = 1;
  int group = 1;
  int vector = 1;                      // 1, or kJoinVector
  JoinForm form = JoinForm::kGeneric;  // straight-line code for the program, when it has a form
  float constant = 0.0f;               // the form's constant
  JoinProgram program;
};

// Whether the buffers the vectorised path reads along the innermost dim (and a map's output) are
// 16-byte aligned. make_join_launch checks the pointers it is given; launch_join checks again
// with the buffers of the launch and takes the scalar path when they are not.
bool vector_pointers_aligned(const JoinLaunch& l);

// `where` names the op in errors.
JoinLaunch make_join_launch(const JoinParams& params, const std::string& where);

#if defined(__CUDA_ARCH__)
#define DOPPLER_UNROLL _Pragma("unroll")
#else
#define DOPPLER_UNROLL
#endif

// Offsets of the first kInputs operands' elements at output element `o` and the first aggregated
// element. kInputs is a compile-time bound (the loops unroll, the offsets stay in registers).
template <int kInputs>
DOPPLER_FAST_HD inline void join_base_offsets(const JoinLaunch& p, std::uint32_t o, std::uint32_t* base) {
  DOPPLER_UNROLL
  for (int k = 0; k < kInputs; ++k) base[k] = 0;
  std::uint32_t rest = o;
  DOPPLER_UNROLL
  for (int i = 0; i < kMaxLoopDims; ++i) {
    const int d = p.out_dims - 1 - i;
    if (d < 0) break;
    std::uint32_t at = rest;
    if (d > 0) p.size[d].divmod(rest, rest, at);
    DOPPLER_UNROLL
    for (int k = 0; k < kInputs; ++k) base[k] += at * p.in_stride[k][d];
  }
}

// Offsets at aggregated element `t` (row-major over the aggregated dims) from the base offsets.
template <int kInputs>
DOPPLER_FAST_HD inline void join_agg_offsets(const JoinLaunch& p, std::uint32_t t, const std::uint32_t* base,
                                             std::uint32_t* off) {
  DOPPLER_UNROLL
  for (int k = 0; k < kInputs; ++k) off[k] = base[k];
  std::uint32_t rest = t;
  DOPPLER_UNROLL
  for (int i = 0; i < kMaxLoopDims; ++i) {
    const int d = p.loop_dims - 1 - i;
    if (d < p.out_dims) break;
    std::uint32_t at = rest;
    if (d > p.out_dims) p.size[d].divmod(rest, rest, at);
    DOPPLER_UNROLL
    for (int k = 0; k < kInputs; ++k) off[k] += at * p.in_stride[k][d];
  }
}

}  // namespace doppler::hw
