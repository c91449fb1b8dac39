// The row kernels (hw/src/row_kernels.hpp) against the CPU reference: softmax, rms_norm and rotary
// in f32, f16 and bf16, on shapes that take the vectorised path (axis last, a multiple of 8; rows
// of one to several warp strides) and the plain one (axis not last, odd sizes), with random sizes
// around them. GPU tests skip with the
// reason when no GPU is visible.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "doppler/einsum/lowering.hpp"
#include "doppler/einsum/reference_executor.hpp"
#include "doppler/hw/executor.hpp"
#include "max_relative_error.hpp"

namespace doppler::hw {
namespace {

using namespace doppler::einsum;

struct Case {
  OpKind kind;
  std::vector<std::int64_t> dims;  // x's dims, letters "abcd..." in order
  int axis;
  int seq_axis = 0;  // rotary: the tables' seq letter
};

// One row op on x (and its weight or tables), decomposed not at all.
EinsumGraph row_graph(const Case& c, DType dtype) {
  EinsumGraph g;
  const std::string letters = std::string("abcd").substr(0, c.dims.size());
  const TensorId x = g.add_input("x", c.dims, dtype);
  const std::string head(1, letters[static_cast<std::size_t>(c.axis)]);
  const std::int64_t n = c.dims[static_cast<std::size_t>(c.axis)];
  TensorId y = 0;
  if (c.kind == OpKind::kSoftmax) {
    y = g.add_row_op("y", c.kind, letters + "->" + letters, {x}, c.axis, 1.7);
  } else if (c.kind == OpKind::kRmsNorm) {
    y = g.add_row_op("y", c.kind, letters + "," + head + "->" + letters, {x, g.add_input("w", {n}, dtype)},
                     c.axis, 1e-5);
  } else {
    const std::string table = std::string(1, letters[static_cast<std::size_t>(c.seq_axis)]) + head;
    const std::vector<std::int64_t> table_dims{c.dims[static_cast<std::size_t>(c.seq_axis)], n};
    y = g.add_row_op("y", c.kind, letters + "," + table + "," + table + "->" + letters,
                     {x, g.add_input("cos", table_dims, dtype), g.add_input("sin", table_dims, dtype)},
                     c.axis);
  }
  g.mark_output(y);
  return g;
}

TEST(HwRowKernels, EqualTheReferenceInEveryDtypeAndLayout) {
  if (const std::string missing = missing_gpus(1); !missing.empty()) GTEST_SKIP() << missing;
  std::vector<Case> cases = {
      {OpKind::kSoftmax, {4, 3, 1024}, 2},     {OpKind::kSoftmax, {3, 40, 5}, 1},
      {OpKind::kSoftmax, {7, 13}, 1},          {OpKind::kRmsNorm, {2, 5, 2048}, 2},
      {OpKind::kRmsNorm, {6, 33}, 1},          {OpKind::kRmsNorm, {3, 24, 4}, 1},
      {OpKind::kRotary, {2, 6, 3, 128}, 3, 1}, {OpKind::kRotary, {2, 6, 3, 10}, 3, 1},
      {OpKind::kRotary, {2, 5, 16, 3}, 2, 1},  {OpKind::kSoftmax, {3, 4096}, 1},
      {OpKind::kSoftmax, {5, 264}, 1},         {OpKind::kRmsNorm, {2, 8192}, 1},
      {OpKind::kRmsNorm, {4, 1544}, 1},
  };
  std::mt19937_64 rng(5);
  for (int r = 0; r < 6; ++r) {
    const auto size = [&](std::int64_t lo, std::int64_t hi) {
      return lo + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(hi - lo + 1));
    };
    cases.push_back({OpKind::kSoftmax, {size(1, 9), 8 * size(1, 70)}, 1});
    cases.push_back({OpKind::kRmsNorm, {size(1, 9), size(1, 300)}, 1});
    cases.push_back({OpKind::kRmsNorm, {size(1, 9), 8 * size(1, 300)}, 1});
    cases.push_back({OpKind::kRotary, {size(1, 5), size(1, 9), 2 * size(1, 40)}, 2, 1});
  }
  for (const DType dtype : {DType::kF32, DType::kF16, DType::kBF16}) {
    for (const Case& c : cases) {
      const EinsumGraph g = row_graph(c, dtype);
      const LoweredGraph lowered = lower(g, std::vector<Partition>(g.num_ops()));
      Executor executor(g, lowered, {});
      Plan plan;
      plan.device.assign(lowered.graph.num_ops(), 0);
      const ExecuteResult got = executor.run(plan);
      const TensorId y = g.find_tensor("y");
      const std::vector<double> values(got.values[y].begin(), got.values[y].end());
      std::string shape;
      for (const std::int64_t d : c.dims) shape += std::to_string(d) + " ";
      // Inputs are rounded to the dtype on the GPU only: bf16 and f16 compare loosely.
      EXPECT_LT(test_support::max_relative_error(values, run_reference<double>(g)[y]),
                dtype == DType::kF32 ? 1e-5 : 3e-2)
          << op_kind_name(c.kind) << " " << dtype_name(dtype) << " dims " << shape << "axis " << c.axis;
    }
  }
}

}  // namespace
}  // namespace doppler::hw
