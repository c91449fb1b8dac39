#pragma once
// Contract: JOIN FORMS: the join expressions the built-in workloads use most (products, sums,
// scaling, softmax's exp(a-b), SwiGLU, RMSNorm, rotary), recognised in a compiled JoinProgram so
// that the join kernel can run them as straight-line code instead of interpreting the program
// per element. A form's value equals run_join's on the same program, operation for operation
// (apply_join_op), so results do not depend on whether a form matched. kGeneric = no match.
#include <cstdint>

#include "join_program.hpp"

namespace doppler::hw {

enum class JoinForm : std::uint8_t {
  kGeneric,
  kFirst,        // a
  kNeg,          // -a
  kAdd,          // a+b
  kSub,          // a-b
  kMul,          // a*b
  kDiv,          // a/b
  kScale,        // a*C
  kRelu,         // relu(a)
  kSquareScale,  // square(a)*C
  kExpSub,       // exp(a-b)
  kSiluMul,      // silu(a)*b
  kRmsNorm,      // a*rsqrt(b+C)*c
  kRotary,       // a*c+b*d
  // The joins elementwise fusion (einsum/fusion.hpp) makes of a Llama layer:
  kExpScaleSub,     // exp(a*C-b): softmax's sum over the raw scores
  kExpScaleSubDiv,  // exp(a*C-b)/c: softmax's output from the raw scores
  kAdd3,            // a+b+c: two residual adds
  kAddSquareScale,  // square(a+b)*C: RMSNorm's mean square of a residual sum
  kAddRmsNorm,      // (a+b)*rsqrt(c+C)*d: RMSNorm of a residual sum
};
inline constexpr int kJoinForms = 19;

// The form of `program` (kGeneric when none fits); `constant` receives a form's constant C.
JoinForm match_join_form(const JoinProgram& program, float& constant);

// Operands a form reads (a compile-time bound for the kernel); the generic form: up to all.
DOPPLER_HD constexpr int form_inputs(JoinForm f) {
  switch (f) {
    case JoinForm::kFirst:
    case JoinForm::kNeg:
    case JoinForm::kScale:
    case JoinForm::kRelu:
    case JoinForm::kSquareScale:
      return 1;
    case JoinForm::kRmsNorm:
    case JoinForm::kExpScaleSubDiv:
    case JoinForm::kAdd3:
      return 3;
    case JoinForm::kRotary:
    case JoinForm::kAddRmsNorm:
      return 4;
    case JoinForm::kGeneric:
      return kMaxJoinInputs;
    default:
      return 2;
  }
}

template <JoinForm F>
DOPPLER_HD inline float form_value(const JoinProgram& program, float c, const float* v) {
  using K = einsum::ExprKind;
  const auto op = [](K kind, float x, float y) {
    return apply_join_op(static_cast<std::uint8_t>(kind), x, y, 0.0f);
  };
  if constexpr (F == JoinForm::kFirst) return v[0];
  if constexpr (F == JoinForm::kNeg) return op(K::kNeg, v[0], 0.0f);
  if constexpr (F == JoinForm::kAdd) return op(K::kAdd, v[0], v[1]);
  if constexpr (F == JoinForm::kSub) return op(K::kSub, v[0], v[1]);
  if constexpr (F == JoinForm::kMul) return op(K::kMul, v[0], v[1]);
  if constexpr (F == JoinForm::kDiv) return op(K::kDiv, v[0], v[1]);
  if constexpr (F == JoinForm::kScale) return op(K::kMul, v[0], c);
  if constexpr (F == JoinForm::kRelu) return op(K::kRelu, v[0], 0.0f);
  if constexpr (F == JoinForm::kSquareScale) return op(K::kMul, op(K::kSquare, v[0], 0.0f), c);
  if constexpr (F == JoinForm::kExpSub) return op(K::kExp, op(K::kSub, v[0], v[1]), 0.0f);
  if constexpr (F == JoinForm::kSiluMul) return op(K::kMul, op(K::kSilu, v[0], 0.0f), v[1]);
  if constexpr (F == JoinForm::kRmsNorm)
    return op(K::kMul, op(K::kMul, v[0], op(K::kRsqrt, op(K::kAdd, v[1], c), 0.0f)), v[2]);
  if constexpr (F == JoinForm::kRotary) return op(K::kAdd, op(K::kMul, v[0], v[2]), op(K::kMul, v[1], v[3]));
  if constexpr (F == JoinForm::kExpScaleSub)
    return op(K::kExp, op(K::kSub, op(K::kMul, v[0], c), v[1]), 0.0f);
  if constexpr (F == JoinForm::kExpScaleSubDiv)
    return op(K::kDiv, op(K::kExp, op(K::kSub, op(K::kMul, v[0], c), v[1]), 0.0f), v[2]);
  if constexpr (F == JoinForm::kAdd3) return op(K::kAdd, op(K::kAdd, v[0], v[1]), v[2]);
  if constexpr (F == JoinForm::kAddSquareScale)
    return op(K::kMul, op(K::kSquare, op(K::kAdd, v[0], v[1]), 0.0f), c);
  if constexpr (F == JoinForm::kAddRmsNorm)
    return op(K::kMul, op(K::kMul, op(K::kAdd, v[0], v[1]), op(K::kRsqrt, op(K::kAdd, v[2], c), 0.0f)), v[3]);
  if constexpr (F == JoinForm::kGeneric) return run_join(program, v);
  return 0.0f;
}

}  // namespace doppler::hw
