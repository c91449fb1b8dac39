#pragma once
// Contract: maps a join block of a 2-operand einsum with product join and sum aggregation onto
// ONE strided-batched GEMM (cuBLAS, column-major) plus, where an operand's or the output's letter
// order fits no GEMM layout, strided copies into/out of a workspace. Letters of size 1 are ignored.
// Letter roles: batch (both operands and output), m (operand 0 and output), n (operand 1 and
// output), k (both operands, aggregated). An operand fits when its letters are batch+m+k or
// batch+k+m (operand 1: batch+k+n or batch+n+k); the output when batch+m+n or batch+n+m; groups in
// the output's order (k: operand 0's order). nullopt when the op is no such contraction, a letter
// is aggregated from one operand only, or the shape is too degenerate to gain from a GEMM.
#include <cstdint>
#include <optional>

#include "doppler/einsum/einsum_op.hpp"
#include "strided_copy.hpp"

namespace doppler::hw {

struct GemmOperand {
  bool k_first = false;                // row-major [batch, k, other] (else [batch, other, k])
  std::optional<StridedCopy> permute;  // operand -> workspace (then k_first = false)
  std::int64_t workspace_offset = 0;   // elements, when permuted
};

// cublasGemmStridedBatchedEx(op_x, op_y, rows, cols, k, x, ldx, stride_x, y, ldy, stride_y, c,
// ldc = rows, stride_c, batch): the column-major rows x cols result is the row-major output
// [batch, cols-letters, rows-letters].
struct GemmMapping {
  std::int64_t batch = 1, rows = 1, cols = 1, k = 1;
  int x_operand = 1;  // which einsum operand is cuBLAS's first matrix (its letters are the rows)
  GemmOperand operand[2];
  std::optional<StridedCopy> unpermute;  // workspace [batch, m, n] -> output
  std::int64_t result_offset = 0;        // elements, when unpermuted
  std::int64_t workspace_elements = 0;

  bool transpose_x() const { return !operand[x_operand].k_first; }
  bool transpose_y() const { return operand[1 - x_operand].k_first; }
  std::int64_t ldx() const { return operand[x_operand].k_first ? rows : k; }
  std::int64_t ldy() const { return operand[1 - x_operand].k_first ? cols : k; }
};

// `sizes`: every letter of the spec (a join block's sizes).
std::optional<GemmMapping> map_to_gemm(const einsum::EinsumSpec& spec, const einsum::IndexSizes& sizes);

}  // namespace doppler::hw
