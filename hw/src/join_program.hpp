#pragma once
// Contract: a join Expr compiled to a fixed-size postfix PROGRAM that the GPU join kernel runs on a
// small stack, in float. compile_join throws a doppler::Error naming `where` when the expression
// needs more than kMaxJoinCode instructions, kMaxJoinStack stack slots or kMaxJoinInputs inputs.
// run_join is the interpreter, the same code on host (for tests) and device.
#include <cmath>
#include <cstdint>
#include <string>

#include "doppler/einsum/expr.hpp"

#if defined(__CUDACC__)
#define DOPPLER_HD __host__ __device__
#else
#define DOPPLER_HD
#endif

namespace doppler::hw {

inline constexpr int kMaxJoinCode = 48;
inline constexpr int kMaxJoinStack = 12;
inline constexpr int kMaxJoinInputs = 6;

struct JoinInstr {
  std::uint8_t kind;   // einsum::ExprKind
  std::uint8_t arity;  // 0: push a constant or input; 1, 2: pop that many, push the result
  std::uint8_t input;  // kInput: which input
  std::uint8_t unused = 0;
  float value;  // kConst: the constant; kPow: the exponent
};

struct JoinProgram {
  int length = 0;
  JoinInstr code[kMaxJoinCode];
};

JoinProgram compile_join(const einsum::Expr& join, const std::string& where);

DOPPLER_HD inline float join_rsqrt(float x) {
#if defined(__CUDA_ARCH__)
  return rsqrtf(x);
#else
  return 1.0f / std::sqrt(x);
#endif
}

DOPPLER_HD inline float apply_join_op(std::uint8_t kind, float x, float y, float p) {
  using K = einsum::ExprKind;
  switch (static_cast<K>(kind)) {
    case K::kNeg:
      return -x;
    case K::kAdd:
      return x + y;
    case K::kSub:
      return x - y;
    case K::kMul:
      return x * y;
    case K::kDiv:
      return x / y;
    case K::kMax:
      return x >= y ? x : y;
    case K::kMin:
      return x <= y ? x : y;
    case K::kExp:
      return expf(x);
    case K::kLog:
      return logf(x);
    case K::kSqrt:
      return sqrtf(x);
    case K::kRsqrt:
      return join_rsqrt(x);
    case K::kRelu:
      return x > 0.0f ? x : 0.0f;
    case K::kSilu:
      return x / (1.0f + expf(-x));
    case K::kGelu:
      return 0.5f * x *
             (1.0f + tanhf(static_cast<float>(einsum::kGeluC) *
                           (x + static_cast<float>(einsum::kGeluA) * x * x * x)));
    case K::kSigmoid:
      return 1.0f / (1.0f + expf(-x));
    case K::kTanh:
      return tanhf(x);
    case K::kSquare:
      return x * x;
    case K::kStep:
      return x >= 0.0f ? 1.0f : 0.0f;
    case K::kPow:
      return powf(x, p);
    case K::kConst:
    case K::kInput:
      break;
  }
  return x;
}

// Runs `program` on the join inputs `inputs` (one value per operand).
DOPPLER_HD inline float run_join(const JoinProgram& program, const float* inputs) {
  float stack[kMaxJoinStack];
  int sp = 0;
  for (int i = 0; i < program.length; ++i) {
    const JoinInstr in = program.code[i];
    if (in.arity == 0) {
      stack[sp++] =
          in.kind == static_cast<std::uint8_t>(einsum::ExprKind::kConst) ? in.value : inputs[in.input];
    } else if (in.arity == 1) {
      stack[sp - 1] = apply_join_op(in.kind, stack[sp - 1], 0.0f, in.value);
    } else {
      stack[sp - 2] = apply_join_op(in.kind, stack[sp - 2], stack[sp - 1], in.value);
      --sp;
    }
  }
  return stack[0];
}

}  // namespace doppler::hw
