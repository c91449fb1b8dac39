// GPU benchmarks of the hw backend (issue 4), each against its baseline measured in the same run,
// printed as one JSON object:
//   overhead  host time per task of the executor (scheduler, bookkeeping, events, launch) on N
//             independent one-element join tasks, against a plain loop that launches the same
//             kernel with the same two timing events per task; the difference is the executor's
//             scheduling overhead per task (target <= 3 us).
//   gemm      a GEMM-heavy graph (chain_mm, one GPU, no split) run by the executor, against the
//             same GEMMs (same tree, distinct buffers) issued back to back to cuBLAS on one
//             stream: cublas_ms / executor_ms (target >= 0.9). Also: cuBLAS with every GEMM on the
//             same three buffers (the earlier baseline; operands partly in L2), and per-GEMM
//             durations (us, in issue order) of: the executor, the executor without copying its
//             outputs back between runs, cuBLAS back to back, cuBLAS after its inputs were copied
//             in again, cuBLAS after 5 ms idle (where a run's first GEMM loses its time); and
//             the executor without gated_start (the default: the GPUs held until the first
//             launches are in), where the first GEMM waits for its own launch call.
//   calls     host time per CUDA call of the kinds one executor launch makes (event record, stream
//             wait, join kernel, small cuBLAS GEMM, peer copy, event query), by one host thread on
//             GPU 0 and then by one thread per GPU at once; --tasks calls per measurement.
// Medians over --repetitions after one warm-up. Usage:
//   doppler_hw_bench overhead [--tasks N] | gemm [--n N] [--length L] [--dtype bf16|f16|f32] | calls
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "doppler/einsum/decomposition.hpp"
#include "doppler/einsum/einsum_builder.hpp"
#include "doppler/einsum/lowering.hpp"
#include "doppler/einsum/workloads.hpp"
#include "doppler/error.hpp"
#include "doppler/hw/executor.hpp"
#include "doppler/median.hpp"
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

void cuda(cudaError_t status, const char* what) {
  if (status != cudaSuccess) throw Error(std::string(what) + ": " + cudaGetErrorString(status));
}

// The join kernel y = a + 1 over one element (its pointers set by the caller).
hw::JoinLaunch one_element_join() {
  hw::JoinParams p;
  p.loop_dims = 1;
  p.out_dims = 1;
  p.size[0] = 1;
  p.inputs = 1;
  p.in_stride[0][0] = 1;
  p.program = hw::compile_join(parse_expr("a+1"), "bench");
  return hw::make_join_launch(p, "bench");
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
  options.gated_start = false;  // host time from the first launch: a held GPU would block the launches
  hw::Executor executor(g, lowered, options);
  executor.run(plan);
  std::vector<double> executor_us;
  for (int r = 0; r < f.repetitions; ++r)
    executor_us.push_back(executor.run(plan).host_ms * 1e3 / static_cast<double>(lowered.graph.num_ops()));

  // The floor: the same join kernel and two events per task, launched in a plain loop.
  hw::JoinLaunch launch = one_element_join();
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

// Per-position medians of the GEMMs' durations over the timed runs (us), in issue order.
std::vector<double> position_medians(const std::vector<std::vector<double>>& runs) {
  std::vector<double> medians;
  for (std::size_t k = 0; !runs.empty() && k < runs.front().size(); ++k) {
    std::vector<double> at;
    for (const std::vector<double>& run : runs) at.push_back(run[k]);
    medians.push_back(median(at));
  }
  return medians;
}

std::string json_list(const std::vector<double>& values) {
  std::string text = "[";
  for (std::size_t i = 0; i < values.size(); ++i)
    text += (i ? ", " : "") + std::to_string(static_cast<int>(values[i] + 0.5));
  return text + "]";
}

// chain_mm's GEMMs in cuBLAS, one stream: the same binary tree over `length` distinct inputs
// (products in fresh buffers, as the executor has them), or (`reuse`) every GEMM on the same
// three buffers, whose operands then stay partly in L2. With `events`, a pair around each GEMM.
class CublasChain {
 public:
  CublasChain(const Flags& f, cudaDataType_t type, const std::vector<std::byte>& encoded)
      : n_(f.n), type_(type), inputs_(static_cast<std::size_t>(f.length)) {
    const std::size_t bytes = encoded.size();
    for (int i = 0; i < 2 * f.length - 1; ++i) {
      void* p = nullptr;
      cuda(cudaMalloc(&p, bytes), "cudaMalloc");
      cuda(cudaMemcpy(p, encoded.data(), bytes, cudaMemcpyHostToDevice), "cudaMemcpy");
      buffers_.push_back(p);
    }
    std::vector<int> level(static_cast<std::size_t>(f.length));
    for (int i = 0; i < f.length; ++i) level[static_cast<std::size_t>(i)] = i;
    int next = f.length;
    while (level.size() > 1) {
      std::vector<int> up;
      for (std::size_t i = 0; i + 1 < level.size(); i += 2) {
        tree_.push_back({level[i], level[i + 1], next});
        up.push_back(next++);
      }
      if (level.size() % 2 == 1) up.push_back(level.back());
      level = std::move(up);
    }
    cuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
    if (cublasCreate(&blas_) != CUBLAS_STATUS_SUCCESS) throw Error("cublasCreate failed");
    cublasSetStream(blas_, stream_);
    cuda(cudaMalloc(&workspace_, std::size_t{32} << 20), "cudaMalloc");
    cublasSetWorkspace(blas_, workspace_, std::size_t{32} << 20);
    events_.resize(2 * tree_.size() + 2);
    for (cudaEvent_t& e : events_) cuda(cudaEventCreate(&e), "cudaEventCreate");
  }
  ~CublasChain() {
    for (cudaEvent_t e : events_) cudaEventDestroy(e);
    cublasDestroy(blas_);
    cudaStreamDestroy(stream_);
    for (void* p : buffers_) cudaFree(p);
    cudaFree(workspace_);
  }
  std::size_t gemms() const { return tree_.size(); }
  // The inputs copied in again from the host, as the executor's preload does before each run.
  void reload(const std::vector<std::byte>& encoded) {
    for (std::size_t i = 0; i < inputs_; ++i)
      cuda(cudaMemcpyAsync(buffers_[i], encoded.data(), encoded.size(), cudaMemcpyHostToDevice, stream_),
           "cudaMemcpyAsync");
    cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
  }

  // One run: its makespan (ms); with `events`, each GEMM's duration (us) into `each`.
  double run(bool reuse, bool events, std::vector<double>* each) {
    cuda(cudaEventRecord(events_[0], stream_), "cudaEventRecord");
    for (std::size_t k = 0; k < tree_.size(); ++k) {
      const auto [a, b, c] = reuse ? std::array<int, 3>{0, 1, 2} : tree_[k];
      if (events) cuda(cudaEventRecord(events_[2 * k + 1], stream_), "cudaEventRecord");
      gemm(buffers_[static_cast<std::size_t>(a)], buffers_[static_cast<std::size_t>(b)],
           buffers_[static_cast<std::size_t>(c)]);
      if (events) cuda(cudaEventRecord(events_[2 * k + 2], stream_), "cudaEventRecord");
    }
    cudaEvent_t end = events_.back();
    cuda(cudaEventRecord(end, stream_), "cudaEventRecord");
    cuda(cudaEventSynchronize(end), "cudaEventSynchronize");
    float ms = 0;
    cuda(cudaEventElapsedTime(&ms, events_[0], end), "cudaEventElapsedTime");
    for (std::size_t k = 0; events && k < tree_.size(); ++k) {
      float one = 0;
      cuda(cudaEventElapsedTime(&one, events_[2 * k + 1], events_[2 * k + 2]), "cudaEventElapsedTime");
      each->push_back(one * 1e3);
    }
    return ms;
  }

 private:
  void gemm(const void* a, const void* b, void* c) {
    const float alpha = 1.0f, beta = 0.0f;
    const int n = static_cast<int>(n_);
    if (cublasGemmStridedBatchedEx(blas_, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &alpha, b, type_, n, n_ * n_, a,
                                   type_, n, n_ * n_, &beta, c, type_, n, n_ * n_, 1, CUBLAS_COMPUTE_32F,
                                   CUBLAS_GEMM_DEFAULT) != CUBLAS_STATUS_SUCCESS)
      throw Error("cublasGemmStridedBatchedEx failed");
  }

  std::int64_t n_;
  cudaDataType_t type_;
  std::size_t inputs_;
  std::vector<void*> buffers_;
  std::vector<std::array<int, 3>> tree_;  // (left, right, product) buffer indices, in issue order
  cudaStream_t stream_ = nullptr;
  cublasHandle_t blas_ = nullptr;
  void* workspace_ = nullptr;
  std::vector<cudaEvent_t> events_;
};

// Host time (us per call) of the CUDA calls one launch is made of, measured by one host thread per
// GPU on `gpus` GPUs at once (as the executor's device threads run): event record, stream wait on
// another stream's event, a one-element join kernel, a 256^3 bf16 cuBLAS GEMM, a 4 KB peer copy,
// and cudaEventQuery on a finished event. Each figure: median over repetitions of `calls` calls.
struct CallCosts {
  double event_record = 0, stream_wait = 0, join = 0, gemm = 0, peer_copy = 0, event_query = 0;
};

CallCosts measure_calls(int device, int peer, int calls, int repetitions, std::atomic<int>& arrived,
                        int gpus) {
  cuda(cudaSetDevice(device), "cudaSetDevice");
  if (peer != device) {
    const cudaError_t status = cudaDeviceEnablePeerAccess(peer, 0);
    if (status == cudaErrorPeerAccessAlreadyEnabled)
      cudaGetLastError();
    else
      cuda(status, "cudaDeviceEnablePeerAccess");
  }
  cudaStream_t stream = nullptr, other = nullptr;
  cuda(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate");
  cuda(cudaStreamCreateWithFlags(&other, cudaStreamNonBlocking), "cudaStreamCreate");
  std::vector<cudaEvent_t> events(static_cast<std::size_t>(calls));
  for (cudaEvent_t& e : events) cuda(cudaEventCreate(&e), "cudaEventCreate");
  constexpr std::size_t kMatrix = 256 * 256;
  void* buffer = nullptr;
  cuda(cudaMalloc(&buffer, 3 * kMatrix * 2 + 4096), "cudaMalloc");
  cuda(cudaMemset(buffer, 0, 3 * kMatrix * 2 + 4096), "cudaMemset");
  void* remote = nullptr;
  cuda(cudaSetDevice(peer), "cudaSetDevice");
  cuda(cudaMalloc(&remote, 4096), "cudaMalloc");
  cuda(cudaSetDevice(device), "cudaSetDevice");
  cublasHandle_t blas = nullptr;
  if (cublasCreate(&blas) != CUBLAS_STATUS_SUCCESS) throw Error("cublasCreate failed");
  cublasSetStream(blas, stream);
  hw::JoinLaunch launch = one_element_join();
  launch.in[0] = buffer;
  launch.out = static_cast<float*>(buffer) + 1;
  auto* m = static_cast<std::byte*>(buffer) + 4096;
  const float alpha = 1, beta = 0;
  const auto gemm_call = [&] {
    if (cublasGemmEx(blas, CUBLAS_OP_N, CUBLAS_OP_N, 256, 256, 256, &alpha, m, CUDA_R_16BF, 256,
                     m + kMatrix * 2, CUDA_R_16BF, 256, &beta, m + 4 * kMatrix, CUDA_R_16BF, 256,
                     CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT) != CUBLAS_STATUS_SUCCESS)
      throw Error("cublasGemmEx failed");
  };
  gemm_call();
  cuda(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
  ++arrived;
  while (arrived < gpus) std::this_thread::yield();
  // us per call of `body(k)` over `calls` calls, median over repetitions (the streams drained first).
  const auto per_call = [&](auto body) {
    std::vector<double> us;
    for (int r = 0; r < repetitions; ++r) {
      cuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
      const auto start = std::chrono::steady_clock::now();
      for (int k = 0; k < calls; ++k) body(static_cast<std::size_t>(k));
      us.push_back(
          std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() /
          calls);
    }
    return median(us);
  };
  CallCosts c;
  c.event_record =
      per_call([&](std::size_t k) { cuda(cudaEventRecord(events[k], other), "cudaEventRecord"); });
  c.stream_wait = per_call(
      [&](std::size_t k) { cuda(cudaStreamWaitEvent(stream, events[k], 0), "cudaStreamWaitEvent"); });
  c.join = per_call([&](std::size_t) { cuda(hw::launch_join(launch, stream), "launch_join"); });
  c.gemm = per_call([&](std::size_t) { gemm_call(); });
  c.peer_copy = per_call([&](std::size_t) {
    cuda(cudaMemcpyPeerAsync(remote, peer, buffer, device, 4096, other), "cudaMemcpyPeerAsync");
  });
  cuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  c.event_query = per_call([&](std::size_t k) { cuda(cudaEventQuery(events[k]), "cudaEventQuery"); });
  cuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  cublasDestroy(blas);
  for (cudaEvent_t e : events) cudaEventDestroy(e);
  cudaStreamDestroy(stream);
  cudaStreamDestroy(other);
  cudaFree(buffer);
  cudaFree(remote);
  return c;
}

void calls(const Flags& f) {
  int visible = 0;
  cuda(cudaGetDeviceCount(&visible), "cudaGetDeviceCount");
  std::string out = "{\"benchmark\": \"calls\", \"calls\": " + std::to_string(f.tasks);
  for (const int gpus : {1, visible}) {
    std::vector<CallCosts> costs(static_cast<std::size_t>(gpus));
    std::atomic<int> arrived{0};
    std::vector<std::thread> threads;
    std::vector<std::exception_ptr> errors(static_cast<std::size_t>(gpus));
    for (int d = 0; d < gpus; ++d) {
      threads.emplace_back([&, d] {
        try {
          costs[static_cast<std::size_t>(d)] =
              measure_calls(d, (d + 1) % visible, f.tasks, f.repetitions, arrived, gpus);
        } catch (...) {
          errors[static_cast<std::size_t>(d)] = std::current_exception();
          arrived += gpus;
        }
      });
    }
    for (std::thread& t : threads) t.join();
    for (const std::exception_ptr& e : errors)
      if (e) std::rethrow_exception(e);
    const auto field = [&](const char* name, double CallCosts::*member) {
      std::vector<double> v;
      for (const CallCosts& c : costs) v.push_back(c.*member);
      out += std::string(", \"") + name + "_us_" + std::to_string(gpus) + "gpu\": " + json_list(v);
    };
    field("event_record", &CallCosts::event_record);
    field("stream_wait", &CallCosts::stream_wait);
    field("join_launch", &CallCosts::join);
    field("gemm_launch", &CallCosts::gemm);
    field("peer_copy", &CallCosts::peer_copy);
    field("event_query", &CallCosts::event_query);
    if (visible == 1) break;
  }
  std::printf("%s}\n", out.c_str());
}

void gemm(const Flags& f) {
  const DType dtype = parse_dtype(f.dtype);
  const EinsumGraph g = chain_mm({.n = f.n, .length = f.length, .dtype = dtype});
  const LoweredGraph lowered =
      lower(g, decompose(g, {.devices = 1, .method = DecomposeMethod::kNoSplit}).partitions);
  Plan plan;
  plan.device.assign(lowered.graph.num_ops(), 0);
  // The executor as `execute --verify` uses it (outputs copied back after each run), and without
  // copying the outputs back (as `execute` without --verify and training runs use it).
  hw::Executor executor(g, lowered);
  hw::ExecuteOptions quiet;
  quiet.return_outputs = false;
  hw::Executor no_output(g, lowered, quiet);
  hw::ExecuteOptions open;  // as `executor`, but the clock starts before the first launch
  open.gated_start = false;
  hw::Executor ungated(g, lowered, open);
  executor.run(plan);
  no_output.run(plan);
  ungated.run(plan);
  std::vector<double> executor_ms, executor_host_ms, quiet_ms, ungated_ms;
  std::vector<std::vector<double>> executor_each, quiet_each, ungated_each;
  int gemms = 0;
  const auto gemm_times = [](const hw::ExecuteResult& result) {
    std::vector<hw::TaskTiming> ran;
    for (const hw::TaskTiming& t : result.tasks)
      if (t.end_ms > t.start_ms) ran.push_back(t);
    std::sort(ran.begin(), ran.end(), [](const auto& a, const auto& b) { return a.start_ms < b.start_ms; });
    std::vector<double> each;
    for (const hw::TaskTiming& t : ran) each.push_back((t.end_ms - t.start_ms) * 1e3);
    return each;
  };
  // Each repetition runs the three executors in turn, the ungated one first; the order moves the
  // figures by a few percent (docs/PERFORMANCE.md, ninth session).
  for (int r = 0; r < f.repetitions; ++r) {
    const hw::ExecuteResult early = ungated.run(plan);
    ungated_ms.push_back(early.makespan_ms);
    ungated_each.push_back(gemm_times(early));
    const hw::ExecuteResult result = executor.run(plan);
    executor_ms.push_back(result.makespan_ms);
    executor_host_ms.push_back(result.host_ms);
    gemms = result.gemm_joins;
    executor_each.push_back(gemm_times(result));
    const hw::ExecuteResult plain = no_output.run(plan);
    quiet_ms.push_back(plain.makespan_ms);
    quiet_each.push_back(gemm_times(plain));
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
  CublasChain chain(f, type, encoded);
  if (static_cast<int>(chain.gemms()) != gemms)
    throw Error("the executor ran " + std::to_string(gemms) + " GEMMs, the cuBLAS chain has " +
                std::to_string(chain.gemms()));
  // Interleaved: tree, reused buffers, tree with a pair of events around each GEMM: back to
  // back, after the inputs were copied in again, and after 5 ms idle.
  std::vector<double> cublas_ms, reuse_ms;
  std::vector<std::vector<double>> cublas_each, reloaded_each, idle_each;
  for (int r = 0; r <= f.repetitions; ++r) {
    const double tree = chain.run(false, false, nullptr);
    const double reuse = chain.run(true, false, nullptr);
    std::vector<double> each, reloaded, idle;
    chain.run(false, true, &each);
    chain.reload(encoded);
    chain.run(false, true, &reloaded);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    chain.run(false, true, &idle);
    if (r == 0) continue;
    cublas_ms.push_back(tree);
    reuse_ms.push_back(reuse);
    cublas_each.push_back(each);
    reloaded_each.push_back(reloaded);
    idle_each.push_back(idle);
  }
  const double ex = median(executor_ms), cb = median(cublas_ms), cr = median(reuse_ms);
  const double flops =
      2.0 * static_cast<double>(f.n) * static_cast<double>(f.n) * static_cast<double>(f.n) * gemms;
  std::printf(
      "{\"benchmark\": \"gemm\", \"n\": %lld, \"gemms\": %d, \"dtype\": \"%s\", \"executor_ms\": %.4f, "
      "\"executor_host_ms\": %.4f, "
      "\"cublas_ms\": %.4f, \"ratio\": %.4f, \"executor_tflops\": %.1f, \"cublas_tflops\": %.1f, "
      "\"cublas_reused_buffers_ms\": %.4f, \"ratio_to_reused_buffers\": %.4f, \"executor_gemm_us\": %s, "
      "\"cublas_gemm_us\": %s, \"cublas_after_reload_gemm_us\": %s, \"cublas_after_idle_gemm_us\": %s, "
      "\"executor_no_output_copy_ms\": %.4f, \"executor_no_output_copy_gemm_us\": %s, "
      "\"executor_ungated_ms\": %.4f, \"ratio_ungated\": %.4f, \"executor_ungated_gemm_us\": %s}\n",
      static_cast<long long>(f.n), gemms, f.dtype.c_str(), ex, median(executor_host_ms), cb, cb / ex,
      flops / ex * 1e-9, flops / cb * 1e-9, cr, cr / ex, json_list(position_medians(executor_each)).c_str(),
      json_list(position_medians(cublas_each)).c_str(), json_list(position_medians(reloaded_each)).c_str(),
      json_list(position_medians(idle_each)).c_str(), median(quiet_ms),
      json_list(position_medians(quiet_each)).c_str(), median(ungated_ms), cb / median(ungated_ms),
      json_list(position_medians(ungated_each)).c_str());
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
    else if (f.mode == "calls")
      calls(f);
    else
      throw Error(
          "usage: doppler_hw_bench overhead [--tasks N] | gemm [--n N] [--length L] [--dtype D] | calls "
          "[--tasks N]");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "doppler_hw_bench: %s\n", e.what());
    return 2;
  }
  return 0;
}
