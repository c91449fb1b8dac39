// GPU benchmarks of the hw backend (issue 4), each against its baseline measured in the same run,
// printed as one JSON object:
//   overhead  host time per task of the executor (scheduler, bookkeeping, events, launch) on N
//             independent one-element join tasks, against a plain loop that launches the same
//             kernel with the same two timing events per task; the difference is the executor's
//             scheduling overhead per task (target <= 3 us).
//   gemm      a GEMM-heavy graph (chain_mm, one GPU, no split) run by the executor, against the
//             same GEMMs issued back to back to cuBLAS on one stream: cublas_ms / executor_ms
//             (target >= 0.9).
// Medians over --repetitions after one warm-up. Usage:
//   doppler_hw_bench overhead [--tasks N] | gemm [--n N] [--length L] [--dtype bf16|f16|f32]
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "doppler/einsum/decomposition.hpp"
#include "doppler/einsum/einsum_builder.hpp"
#include "doppler/einsum/lowering.hpp"
#include "doppler/einsum/workloads.hpp"
#include "doppler/error.hpp"
#include "doppler/hw/executor.hpp"
#include "elements.hpp"
#include "join_launch.hpp"
#include "kernels.hpp"

namespace {

using namespace doppler;
using namespace doppler::einsum;

struct Flags {
  std::string mode;
  int tasks = 2000;
  std::int64_t n = 8192;
  int length = 8;
  std::string dtype = "bf16";
  int repetitions = 7;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void cuda(cudaError_t status, const char* what) {
  if (status != cudaSuccess) throw Error(std::string(what) + ": " + cudaGetErrorString(status));
}

void overhead(const Flags& f) {
  EinsumGraph g;
  const TensorId x = g.add_input("x", {1}, DType::kF32);
  for (int k = 0; k < f.tasks; ++k) g.mark_output(elementwise(g, "y" + std::to_string(k), "a+1", {x}));
  const LoweredGraph lowered = lower(g, std::vector<Partition>(g.num_ops()));
  Plan plan;
  plan.device.assign(lowered.graph.num_ops(), 0);
  hw::ExecuteOptions options;
  options.queue_depth = static_cast<int>(lowered.graph.num_ops());  // never blocked by completions
  hw::Executor executor(g, lowered, options);
  executor.run(plan);
  std::vector<double> executor_us;
  for (int r = 0; r < f.repetitions; ++r)
    executor_us.push_back(executor.run(plan).host_ms * 1e3 / static_cast<double>(lowered.graph.num_ops()));

  // The floor: the same join kernel and two events per task, launched in a plain loop.
  hw::JoinParams p;
  p.loop_dims = 1;
  p.out_dims = 1;
  p.size[0] = 1;
  p.inputs = 1;
  p.in_stride[0][0] = 1;
  p.program = hw::compile_join(parse_expr("a+1"), "bench");
  hw::JoinLaunch launch = hw::make_join_launch(p, "bench");
  void* buffer = nullptr;
  cuda(cudaMalloc(&buffer, static_cast<std::size_t>(f.tasks + 1) * sizeof(float)), "cudaMalloc");
  cudaStream_t stream = nullptr;
  cuda(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate");
  std::vector<cudaEvent_t> events(2 * static_cast<std::size_t>(f.tasks));
  for (cudaEvent_t& e : events) cuda(cudaEventCreate(&e), "cudaEventCreate");
  std::vector<double> raw_us;
  for (int r = 0; r <= f.repetitions; ++r) {
    cuda(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    const auto start = std::chrono::steady_clock::now();
    for (int k = 0; k < f.tasks; ++k) {
      launch.in[0] = buffer;
      launch.out = static_cast<float*>(buffer) + k + 1;
      cuda(cudaEventRecord(events[2 * static_cast<std::size_t>(k)], stream), "cudaEventRecord");
      cuda(hw::launch_join(launch, stream), "launch_join");
      cuda(cudaEventRecord(events[2 * static_cast<std::size_t>(k) + 1], stream), "cudaEventRecord");
    }
    cuda(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    const double us =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
    if (r > 0) raw_us.push_back(us / f.tasks);
  }
  for (cudaEvent_t e : events) cudaEventDestroy(e);
  cudaStreamDestroy(stream);
  cudaFree(buffer);
  const double ex = median(executor_us), raw = median(raw_us);
  std::printf(
      "{\"benchmark\": \"overhead\", \"tasks\": %zu, \"executor_us_per_task\": %.3f, "
      "\"raw_launch_us_per_task\": "
      "%.3f, \"overhead_us_per_task\": %.3f}\n",
      lowered.graph.num_ops(), ex, raw, ex - raw);
}

void gemm(const Flags& f) {
  const DType dtype = parse_dtype(f.dtype);
  const EinsumGraph g = chain_mm({.n = f.n, .length = f.length, .dtype = dtype});
  const LoweredGraph lowered =
      lower(g, decompose(g, {.devices = 1, .method = DecomposeMethod::kNoSplit}).partitions);
  Plan plan;
  plan.device.assign(lowered.graph.num_ops(), 0);
  hw::Executor executor(g, lowered);
  executor.run(plan);
  std::vector<double> executor_ms;
  int gemms = 0;
  for (int r = 0; r < f.repetitions; ++r) {
    const hw::ExecuteResult result = executor.run(plan);
    executor_ms.push_back(result.makespan_ms);
    gemms = result.gemm_joins;
  }

  const cudaDataType_t type = dtype == DType::kF32   ? CUDA_R_32F
                              : dtype == DType::kF16 ? CUDA_R_16F
                                                     : CUDA_R_16BF;
  const std::size_t bytes = static_cast<std::size_t>(f.n * f.n) * (dtype == DType::kF32 ? 4 : 2);
  // Random operands as in the executor's run (GEMMs on zeros draw less power and run faster).
  std::vector<float> values(static_cast<std::size_t>(f.n * f.n));
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (float& v : values) v = uniform(rng);
  std::vector<std::byte> encoded(bytes);
  hw::encode(values, hw::elem_type(dtype), encoded.data());
  std::vector<void*> m(3);
  for (void*& p : m) {
    cuda(cudaMalloc(&p, bytes), "cudaMalloc");
    cuda(cudaMemcpy(p, encoded.data(), bytes, cudaMemcpyHostToDevice), "cudaMemcpy");
  }
  cudaStream_t stream = nullptr;
  cuda(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate");
  cublasHandle_t blas = nullptr;
  if (cublasCreate(&blas) != CUBLAS_STATUS_SUCCESS) throw Error("cublasCreate failed");
  cublasSetStream(blas, stream);
  void* workspace = nullptr;
  cuda(cudaMalloc(&workspace, std::size_t{32} << 20), "cudaMalloc");
  cublasSetWorkspace(blas, workspace, std::size_t{32} << 20);
  cudaEvent_t start = nullptr, end = nullptr;
  cuda(cudaEventCreate(&start), "cudaEventCreate");
  cuda(cudaEventCreate(&end), "cudaEventCreate");
  const float alpha = 1.0f, beta = 0.0f;
  const int n = static_cast<int>(f.n);
  std::vector<double> cublas_ms;
  for (int r = 0; r <= f.repetitions; ++r) {
    cuda(cudaEventRecord(start, stream), "cudaEventRecord");
    for (int k = 0; k < gemms; ++k) {
      if (cublasGemmStridedBatchedEx(blas, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &alpha, m[0], type, n,
                                     f.n * f.n, m[1], type, n, f.n * f.n, &beta, m[2], type, n, f.n * f.n, 1,
                                     CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT) != CUBLAS_STATUS_SUCCESS)
        throw Error("cublasGemmStridedBatchedEx failed");
    }
    cuda(cudaEventRecord(end, stream), "cudaEventRecord");
    cuda(cudaEventSynchronize(end), "cudaEventSynchronize");
    float ms = 0;
    cuda(cudaEventElapsedTime(&ms, start, end), "cudaEventElapsedTime");
    if (r > 0) cublas_ms.push_back(ms);
  }
  cublasDestroy(blas);
  cudaStreamDestroy(stream);
  for (void* p : m) cudaFree(p);
  cudaFree(workspace);
  const double ex = median(executor_ms), cb = median(cublas_ms);
  const double flops =
      2.0 * static_cast<double>(f.n) * static_cast<double>(f.n) * static_cast<double>(f.n) * gemms;
  std::printf(
      "{\"benchmark\": \"gemm\", \"n\": %lld, \"gemms\": %d, \"dtype\": \"%s\", \"executor_ms\": %.4f, "
      "\"cublas_ms\": %.4f, \"ratio\": %.4f, \"executor_tflops\": %.1f, \"cublas_tflops\": %.1f}\n",
      static_cast<long long>(f.n), gemms, f.dtype.c_str(), ex, cb, cb / ex, flops / ex * 1e-9,
      flops / cb * 1e-9);
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto value = [&] {
      if (i + 1 >= argc) throw Error(a + " needs a value");
      return std::string(argv[++i]);
    };
    if (a == "--tasks")
      f.tasks = std::stoi(value());
    else if (a == "--n")
      f.n = std::stoll(value());
    else if (a == "--length")
      f.length = std::stoi(value());
    else if (a == "--dtype")
      f.dtype = value();
    else if (a == "--repetitions")
      f.repetitions = std::stoi(value());
    else if (f.mode.empty())
      f.mode = a;
    else {
      std::fprintf(stderr, "doppler_hw_bench: unknown argument '%s'\n", a.c_str());
      return 2;
    }
  }
  try {
    if (f.mode == "overhead")
      overhead(f);
    else if (f.mode == "gemm")
      gemm(f);
    else
      throw Error("usage: doppler_hw_bench overhead [--tasks N] | gemm [--n N] [--length L] [--dtype D]");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "doppler_hw_bench: %s\n", e.what());
    return 2;
  }
  return 0;
}
