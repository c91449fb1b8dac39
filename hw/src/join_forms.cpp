#include "join_forms.hpp"

#include <array>
#include <utility>

namespace doppler::hw {
namespace {

// Each form as a join text; its constants match any constant.
constexpr std::array<std::pair<JoinForm, const char*>, kJoinForms - 1> kPatterns{{
    {JoinForm::kFirst, "a"},
    {JoinForm::kNeg, "-a"},
    {JoinForm::kAdd, "a+b"},
    {JoinForm::kSub, "a-b"},
    {JoinForm::kMul, "a*b"},
    {JoinForm::kDiv, "a/b"},
    {JoinForm::kScale, "a*2"},
    {JoinForm::kRelu, "relu(a)"},
    {JoinForm::kSquareScale, "square(a)*2"},
    {JoinForm::kExpSub, "exp(a-b)"},
    {JoinForm::kSiluMul, "silu(a)*b"},
    {JoinForm::kRmsNorm, "a*rsqrt(b+2)*c"},
    {JoinForm::kRotary, "a*c+b*d"},
    {JoinForm::kExpScaleSub, "exp(a*2-b)"},
    {JoinForm::kExpScaleSubDiv, "exp(a*2-b)/c"},
    {JoinForm::kAdd3, "a+b+c"},
    {JoinForm::kAddSquareScale, "square(a+b)*2"},
    {JoinForm::kAddRmsNorm, "(a+b)*rsqrt(c+2)*d"},
}};

bool is_constant(const JoinInstr& in) {
  return in.arity == 0 && in.kind == static_cast<std::uint8_t>(einsum::ExprKind::kConst);
}

bool fits(const JoinProgram& pattern, const JoinProgram& program, float& constant) {
  if (pattern.length != program.length) return false;
  for (int i = 0; i < program.length; ++i) {
    const JoinInstr& p = pattern.code[i];
    const JoinInstr& q = program.code[i];
    if (p.kind != q.kind || p.arity != q.arity) return false;
    if (is_constant(p)) {
      constant = q.value;
    } else if (p.kind == static_cast<std::uint8_t>(einsum::ExprKind::kInput) && p.input != q.input) {
      return false;
    } else if (p.kind == static_cast<std::uint8_t>(einsum::ExprKind::kPow) && p.value != q.value) {
      return false;
    }
  }
  return true;
}

}  // namespace

JoinForm match_join_form(const JoinProgram& program, float& constant) {
  static const std::array<JoinProgram, kPatterns.size()> compiled = [] {
    std::array<JoinProgram, kPatterns.size()> all{};
    for (std::size_t i = 0; i < kPatterns.size(); ++i)
      all[i] = compile_join(einsum::parse_expr(kPatterns[i].second), "join form");
    return all;
  }();
  for (std::size_t i = 0; i < kPatterns.size(); ++i)
    if (fits(compiled[i], program, constant)) return kPatterns[i].first;
  constant = 0.0f;
  return JoinForm::kGeneric;
}

}  // namespace doppler::hw
