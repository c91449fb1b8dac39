// Every kernel kind of the CUDA backend against the CPU reference, on one GPU, for f32, f16 and
// bf16: joins (cuBLAS GEMM in all its layouts, the generic join kernel with custom joins and
// sum/max/min/prod aggregation, fills, mixed dtypes), long reductions (every group size of the
// join kernel), the vectorised join and copy kernels (inner dims in multiples of 8: softmax,
// RMSNorm, rotary, broadcasts), aggregation of split contractions,
// repartitions, structural copies (slice, concat, reshape) and loads (preloaded and copied
// during the run). Shapes and partitions are random. Skips with the reason when no GPU is visible.
#include <gtest/gtest.h>

#include <array>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "doppler/einsum/einsum_builder.hpp"
#include "doppler/einsum/lowering.hpp"
#include "doppler/einsum/reference_executor.hpp"
#include "doppler/hw/executor.hpp"
#include "max_relative_error.hpp"

namespace doppler::hw {
namespace {

using namespace doppler::einsum;

struct Case {
  std::string name;
  std::function<void(EinsumGraph&, DType, std::mt19937_64&)> build;
};

std::int64_t size_in(std::mt19937_64& rng, std::int64_t lo, std::int64_t hi) {
  return lo + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(hi - lo + 1));
}

// Per op, per splittable letter, a random count among 1, 2, 4 that its size can take.
std::vector<Partition> random_partitions(const EinsumGraph& g, std::mt19937_64& rng) {
  std::vector<Partition> parts(g.num_ops());
  for (EinsumOpId o = 0; o < g.num_ops(); ++o) {
    for (const char c : splittable_indices(g, o)) {
      std::vector<int> options;
      for (const int k : {1, 2, 4}) {
        const std::int64_t n = index_size(g.op(o).sizes, c);
        if (k <= n && block_range(n, k, k - 1).size() > 0) options.push_back(k);
      }
      parts[o].set(c, options[rng() % options.size()]);
    }
  }
  return parts;
}

double tolerance(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return 1e-4;
    case DType::kF16:
      return 1e-2;
    case DType::kBF16:
      break;
  }
  return 5e-2;
}

TensorId contraction(EinsumGraph& g, DType dt, std::mt19937_64& rng, const std::string& spec_text) {
  const EinsumSpec spec = parse_einsum(spec_text);
  IndexSizes sizes{};
  for (const char c : spec.all_indices()) index_size(sizes, c) = size_in(rng, 3, 24);
  std::vector<TensorId> inputs;
  for (std::size_t k = 0; k < spec.inputs.size(); ++k)
    inputs.push_back(g.add_input("in" + std::to_string(k), dims_of(spec.inputs[k], sizes), dt));
  return g.add_einsum("y", spec, inputs);
}

std::vector<Case> cases() {
  std::vector<Case> all;
  const auto single = [&](const std::string& spec) {
    all.push_back({spec, [spec](EinsumGraph& g, DType dt, std::mt19937_64& rng) {
                     g.mark_output(contraction(g, dt, rng, spec));
                   }});
  };
  for (const char* spec :
       {"ij,jk->ik", "ji,kj->ki", "bij,bjk->bik", "ibj,bjk->bik", "bij,bjk->ibk", "ij,jk->ki",
        "bsh,hnd->bsnd", "i,j->ij", "ij,jk->ik | join=a*b*0.5", "ij,j,i->ij | join=a*b+c", "ij->i | agg=max",
        "ijk->ik | agg=min", "ij,ij->ij | join=max(a,b)-silu(b)", "ij,jk->ik | agg=max | join=a+b",
        "ij->j | join=exp(a)"}) {
    single(spec);
  }
  all.push_back({"prod", [](EinsumGraph& g, DType dt, std::mt19937_64& rng) {
                   const TensorId x = g.add_input("x", {size_in(rng, 2, 20), size_in(rng, 2, 4)}, dt);
                   g.mark_output(g.add_einsum("p", "ij->i | agg=prod | join=a+1.5", {x}));
                 }});
  all.push_back({"softmax chain", [](EinsumGraph& g, DType dt, std::mt19937_64& rng) {
                   const std::int64_t m = size_in(rng, 4, 24), k = size_in(rng, 4, 24),
                                      n = size_in(rng, 4, 24);
                   const TensorId a = g.add_input("a", {m, k}, dt);
                   const TensorId w = g.add_parameter("w", {k, n}, dt);
                   const TensorId h = relu(g, "h", matmul(g, "mm", a, w));
                   g.mark_output(softmax(g, "s", h, 1));
                 }});
  all.push_back({"structural", [](EinsumGraph& g, DType dt, std::mt19937_64& rng) {
                   const std::int64_t a = size_in(rng, 2, 8), b = size_in(rng, 2, 8),
                                      c = 2 * size_in(rng, 2, 6);
                   const TensorId x = g.add_input("x", {a, b, c}, dt);
                   const TensorId s = slice(g, "s", x, 2, 1, c - 1);
                   const TensorId cat = concat(g, "cat", {s, x}, 2);
                   const TensorId r = reshape(g, "r", cat, {a, b, 2, c - 1});
                   g.mark_output(scale(g, "y", r, 2.0));
                 }});
  all.push_back({"fill and mixed dtypes", [](EinsumGraph& g, DType dt, std::mt19937_64& rng) {
                   const std::int64_t m = size_in(rng, 2, 30), n = size_in(rng, 2, 30);
                   const TensorId x = g.add_input("x", {m, n}, dt);
                   const TensorId f = fill(g, "f", {m, n}, 0.75);
                   g.mark_output(elementwise(g, "y", "a*b-b", {x, f}));
                 }});
  return all;
}

class HwKernels : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const std::string missing = missing_gpus(1); !missing.empty()) GTEST_SKIP() << missing;
  }
};

TEST_F(HwKernels, EveryKindAndDtypeEqualsTheReference) {
  std::mt19937_64 rng(2024);
  int gemm = 0, generic = 0;
  std::array<int, 4> roles{};
  for (const Case& c : cases()) {
    for (const DType dt : {DType::kF32, DType::kF16, DType::kBF16}) {
      for (int trial = 0; trial < 3; ++trial) {
        EinsumGraph g;
        c.build(g, dt, rng);
        const LoweredGraph lowered = lower(g, random_partitions(g, rng));
        for (const TaskInfo& t : lowered.tasks) ++roles[static_cast<std::size_t>(t.role)];
        Plan plan;
        plan.device.assign(lowered.graph.num_ops(), 0);
        ExecuteOptions options;
        options.inputs.seed = rng();
        options.use_cublas = trial != 2;
        options.preload_inputs = trial != 1;
        const ExecuteResult got = execute(g, lowered, plan, options);
        gemm += got.gemm_joins;
        generic += got.generic_joins;
        const auto want = run_reference<double>(g, options.inputs);
        for (TensorId t = 0; t < g.num_tensors(); ++t) {
          if (g.tensor(t).kind != TensorKind::kOutput) continue;
          ASSERT_EQ(got.values[t].size(), want[t].size()) << c.name;
          const std::vector<double> values(got.values[t].begin(), got.values[t].end());
          EXPECT_LT(test_support::max_relative_error(values, want[t]), tolerance(dt))
              << c.name << " " << dtype_name(dt) << " trial " << trial;
        }
      }
    }
  }
  EXPECT_GT(gemm, 0);
  EXPECT_GT(generic, 0);
  for (const int count : roles) EXPECT_GT(count, 0);
}

// Runs g's single op split by `partition`, every task on GPU 0; `y` against the reference.
ExecuteResult run_y_on_gpu0(const EinsumGraph& g, const Partition& partition, DType dt,
                            const std::string& what) {
  const LoweredGraph lowered = lower(g, {partition});
  Plan plan;
  plan.device.assign(lowered.graph.num_ops(), 0);
  ExecuteResult got = execute(g, lowered, plan);
  const auto want = run_reference<double>(g);
  const TensorId y = g.find_tensor("y");
  const std::vector<double> values(got.values[y].begin(), got.values[y].end());
  EXPECT_LT(test_support::max_relative_error(values, want[y]), tolerance(dt)) << what;
  return got;
}

TEST_F(HwKernels, SplitContractionAggregatesPartialsOnTheGpu) {
  for (const DType dt : {DType::kF32, DType::kBF16}) {
    EinsumGraph g;
    const TensorId a = g.add_input("a", {64, 96}, dt);
    const TensorId b = g.add_input("b", {96, 40}, dt);
    g.mark_output(g.add_einsum("y", "ij,jk->ik", {a, b}));
    const ExecuteResult got = run_y_on_gpu0(g, make_partition("ijk", {2, 4, 2}), dt, "split contraction");
    EXPECT_EQ(got.gemm_joins, 16);
    for (const TaskTiming& t : got.tasks) EXPECT_LE(t.start_ms, t.end_ms);
    EXPECT_GT(got.makespan_ms, 0);
  }
}

// Long reductions run by a warp or a block per output element, and many short column sums by a
// thread each: every kernel group size against the reference.
TEST_F(HwKernels, LongReductionsOfEveryGroupSizeEqualTheReference) {
  struct Reduction {
    std::int64_t rows, cols;
    const char* spec;
  };
  for (const DType dt : {DType::kF32, DType::kBF16}) {
    for (const Reduction& r :
         {Reduction{3, 5000, "ij->i"}, Reduction{700, 300, "ij->i | agg=max"},
          Reduction{20000, 40, "ij->i | join=a*a"}, Reduction{300, 70, "ij->j"},
          Reduction{64, 20000, "ij->j | agg=min"}, Reduction{9, 4000, "ij->j | join=exp(a)"}}) {
      EinsumGraph g;
      const TensorId x = g.add_input("x", {r.rows, r.cols}, dt);
      g.mark_output(g.add_einsum("y", r.spec, {x}));
      const ExecuteResult got = run_y_on_gpu0(g, make_partition("ij", {1, 1}), dt, r.spec);
      EXPECT_EQ(got.generic_joins, 1) << r.spec;
    }
  }
}

// Attention's memory-bound pieces with inner dims that are multiples of 8 (the vectorised join
// and copy kernels) and the same with odd dims (scalar kernels), unsplit, every dtype.
TEST_F(HwKernels, VectorisedJoinsAndCopiesEqualTheReference) {
  for (const std::int64_t d : {16, 64, 13}) {
    for (const DType dt : {DType::kF32, DType::kF16, DType::kBF16}) {
      const std::int64_t b = 2, s = d == 13 ? 9 : 24, heads = 3;
      const std::int64_t head_dim = d == 13 ? 14 : d;
      EinsumGraph g;
      const TensorId x = g.add_input("x", {b, s, heads, head_dim}, dt);
      const TensorId w = g.add_parameter("w", {head_dim}, dt);
      const TensorId cos = g.add_input("cos", {s, head_dim}, dt);
      const TensorId sin = g.add_input("sin", {s, head_dim}, dt);
      const TensorId xn = rms_norm(g, "xn", x, w, 3);
      const TensorId q = rotary(g, "q", xn, cos, sin, 1, 3);
      const TensorId scores = g.add_einsum("scores", "bsnd,btnd->bnst | join=a*b*0.25", {q, xn});
      const TensorId probs = softmax(g, "probs", scores, 3);
      g.mark_output(elementwise(g, "y", "silu(a)*b", {probs, probs}));
      g.mark_output(g.add_einsum("rowmax", "bsnd->bsn | agg=max", {q}));
      std::vector<Partition> unsplit(g.num_ops());
      const LoweredGraph lowered = lower(g, unsplit);
      Plan plan;
      plan.device.assign(lowered.graph.num_ops(), 0);
      const ExecuteResult got = execute(g, lowered, plan);
      const auto want = run_reference<double>(g);
      for (TensorId t = 0; t < g.num_tensors(); ++t) {
        if (g.tensor(t).kind != TensorKind::kOutput) continue;
        const std::vector<double> values(got.values[t].begin(), got.values[t].end());
        EXPECT_LT(test_support::max_relative_error(values, want[t]), tolerance(dt))
            << g.tensor(t).name << " " << dtype_name(dt) << " head dim " << head_dim;
      }
    }
  }
}

}  // namespace
}  // namespace doppler::hw
