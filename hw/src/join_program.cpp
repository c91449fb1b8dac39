#include "join_program.hpp"

#include <algorithm>

#include "doppler/einsum/fusion.hpp"
#include "doppler/error.hpp"

namespace doppler::hw {
namespace {

// Elementwise fusion keeps the joins it makes within these limits (einsum/fusion.hpp).
static_assert(einsum::FusionOptions{}.max_inputs <= kMaxJoinInputs &&
              einsum::FusionOptions{}.max_join_nodes <= kMaxJoinCode &&
              einsum::FusionOptions{}.max_join_stack <= kMaxJoinStack);

void emit(const einsum::Expr& e, JoinProgram& program, int& depth, int& max_depth, const std::string& where) {
  const int arity = einsum::expr_arity(e.kind());
  for (int i = 0; i < arity; ++i) emit(e.arg(i), program, depth, max_depth, where);
  if (program.length == kMaxJoinCode) {
    throw Error(where + ": join '" + e.to_string() + "' needs more than " + std::to_string(kMaxJoinCode) +
                " GPU instructions");
  }
  depth += 1 - arity;
  max_depth = std::max(max_depth, depth);
  if (max_depth > kMaxJoinStack) {
    throw Error(where + ": join needs a stack deeper than " + std::to_string(kMaxJoinStack));
  }
  JoinInstr& in = program.code[program.length++];
  in.kind = static_cast<std::uint8_t>(e.kind());
  in.arity = static_cast<std::uint8_t>(arity);
  in.input = 0;
  in.value = static_cast<float>(e.value());
  if (e.kind() == einsum::ExprKind::kInput) {
    if (e.input_index() >= kMaxJoinInputs) {
      throw Error(where + ": join reads input " + std::to_string(e.input_index()) +
                  ", the GPU kernel takes " + std::to_string(kMaxJoinInputs));
    }
    in.input = static_cast<std::uint8_t>(e.input_index());
  }
}

}  // namespace

JoinProgram compile_join(const einsum::Expr& join, const std::string& where) {
  JoinProgram program;
  int depth = 0, max_depth = 0;
  emit(join, program, depth, max_depth, where);
  return program;
}

}  // namespace doppler::hw
