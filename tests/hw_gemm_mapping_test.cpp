// The GEMM mapping of contractions (hw/src/gemm_mapping.hpp), checked on the host: which specs
// map (and with which permutations), and for random shapes the mapped column-major
// strided-batched GEMM, run by a host model of cuBLAS's semantics, equals evaluate_einsum.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "doppler/einsum/einsum_op.hpp"
#include "doppler/einsum/reference_executor.hpp"
#include "gemm_mapping.hpp"
#include "max_relative_error.hpp"

namespace doppler::hw {
namespace {

using einsum::IndexSizes;

IndexSizes sizes_for(const einsum::EinsumSpec& spec, std::mt19937_64& rng) {
  IndexSizes sizes{};
  for (const char c : spec.all_indices())
    einsum::index_size(sizes, c) = 2 + static_cast<std::int64_t>(rng() % 5);
  return sizes;
}

// cublasGemmStridedBatchedEx's arithmetic: C (rows x cols, column-major) = op(X) * op(Y).
void host_gemm(const GemmMapping& g, const double* x, const double* y, double* c) {
  for (std::int64_t b = 0; b < g.batch; ++b) {
    const double* xb = x + b * g.rows * g.k;
    const double* yb = y + b * g.cols * g.k;
    for (std::int64_t col = 0; col < g.cols; ++col) {
      for (std::int64_t row = 0; row < g.rows; ++row) {
        double acc = 0;
        for (std::int64_t l = 0; l < g.k; ++l) {
          const double xv = g.transpose_x() ? xb[l + row * g.ldx()] : xb[row + l * g.ldx()];
          const double yv = g.transpose_y() ? yb[col + l * g.ldy()] : yb[l + col * g.ldy()];
          acc += xv * yv;
        }
        c[b * g.rows * g.cols + row + col * g.rows] = acc;
      }
    }
  }
}

std::vector<double> run_mapping(const GemmMapping& g, const std::vector<double>& a,
                                const std::vector<double>& b, std::size_t out_size) {
  std::vector<double> workspace(static_cast<std::size_t>(g.workspace_elements) + 1);
  const double* operand[2] = {a.data(), b.data()};
  for (int i = 0; i < 2; ++i) {
    if (!g.operand[i].permute) continue;
    double* to = workspace.data() + g.operand[i].workspace_offset;
    run_copy_on_host(*g.operand[i].permute, operand[i], to);
    operand[i] = to;
  }
  std::vector<double> out(out_size);
  double* result = g.unpermute ? workspace.data() + g.result_offset : out.data();
  host_gemm(g, operand[g.x_operand], operand[1 - g.x_operand], result);
  if (g.unpermute) run_copy_on_host(*g.unpermute, static_cast<const double*>(result), out.data());
  return out;
}

TEST(HwGemmMapping, ChoosesLayoutsWithoutCopiesWhereTheyFit) {
  std::mt19937_64 rng(1);
  const auto map = [&](const char* text) {
    const einsum::EinsumSpec spec = einsum::parse_einsum(text);
    return map_to_gemm(spec, sizes_for(spec, rng));
  };
  for (const char* fits : {"ij,jk->ik", "ji,jk->ik", "ij,kj->ik", "ji,kj->ik", "bij,bjk->bik", "ij,jk->ki",
                           "bsh,hnd->bsnd", "bnst,btnd->bsnd"}) {
    const auto g = map(fits);
    ASSERT_TRUE(g) << fits;
    if (std::string(fits) != "bnst,btnd->bsnd") {
      EXPECT_FALSE(g->operand[0].permute || g->operand[1].permute || g->unpermute) << fits;
    }
  }
  const auto permuted = map("ibj,bjk->bik");
  ASSERT_TRUE(permuted);
  EXPECT_TRUE(permuted->operand[0].permute);
  EXPECT_FALSE(permuted->operand[1].permute);
  const auto unpermuted = map("bij,bjk->ibk");
  ASSERT_TRUE(unpermuted);
  EXPECT_TRUE(unpermuted->unpermute);
  for (const char* no : {"ij,ij->ij", "ij,jk->ik | agg=max", "ij,jk->ik | join=a+b", "ij->i",
                         "ij,j->i | join=a*b*2", "ijl,jk->ik", "ij,jk,k->i"}) {
    EXPECT_FALSE(map(no)) << no;
  }
}

TEST(HwGemmMapping, MappedGemmEqualsTheReferenceOnRandomShapes) {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(-1, 1);
  const char* specs[] = {"ij,jk->ik",       "ji,jk->ik",       "ij,kj->ik",     "ji,kj->ki",
                         "bij,bjk->bik",    "ibj,bjk->bik",    "bij,bjk->ibk",  "bsh,hnd->bsnd",
                         "bsnd,btnd->bnst", "bnst,btnd->bsnd", "bsnd,ndh->bsh", "ijk,kjl->li",
                         "ab,bc->ca",       "xyz,zyw->wyx",    "i,j->ij",       "i,i->"};
  for (const char* text : specs) {
    const einsum::EinsumSpec spec = einsum::parse_einsum(text);
    for (int trial = 0; trial < 4; ++trial) {
      IndexSizes sizes = sizes_for(spec, rng);
      if (trial == 3) einsum::index_size(sizes, spec.all_indices()[0]) = 1;
      const auto g = map_to_gemm(spec, sizes);
      if (trial == 3 && !g) continue;  // a size-1 letter can make the shape too degenerate
      ASSERT_TRUE(g) << text;
      std::vector<std::vector<double>> in(2);
      for (int k = 0; k < 2; ++k) {
        std::int64_t n = 1;
        for (const char c : spec.inputs[static_cast<std::size_t>(k)]) n *= einsum::index_size(sizes, c);
        for (std::int64_t e = 0; e < n; ++e) in[static_cast<std::size_t>(k)].push_back(u(rng));
      }
      const std::vector<double> want = einsum::evaluate_einsum<double>(spec, sizes, in);
      const std::vector<double> got = run_mapping(*g, in[0], in[1], want.size());
      EXPECT_LT(test_support::max_relative_error(got, want), 1e-12) << text << " trial " << trial;
    }
  }
}

}  // namespace
}  // namespace doppler::hw
