#include "device_set.hpp"

#include <algorithm>
#include <atomic>
#include <random>

#include "cuda_check.hpp"
#include "elements.hpp"
#include "kernels.hpp"

namespace doppler::hw {
namespace {

constexpr std::size_t kCublasWorkspaceBytes = std::size_t{32} << 20;

Where setup(DeviceId d) {
  return Where{"set-up", "", static_cast<int>(d)};
}

}  // namespace

DeviceSet::DeviceSet(const std::vector<int>& ordinals, int streams)
    : events_(ordinals.size()), events_used_(ordinals.size(), 0) {
  try {
    init(ordinals, streams);
  } catch (...) {
    release();
    throw;
  }
}

void DeviceSet::init(const std::vector<int>& ordinals, int streams) {
  const std::size_t n = ordinals.size();
  devices_.resize(n);
  for (DeviceId d = 0; d < n; ++d) devices_[d].ordinal = ordinals[d];
  for (DeviceId d = 0; d < n; ++d) {
    DeviceResources& r = devices_[d];
    if (!is_local(d)) continue;
    use(d);
    for (int s = 0; s < streams; ++s) {
      cudaStream_t stream = nullptr;
      check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), setup(d), "cudaStreamCreate");
      r.compute.push_back(stream);
      cublasHandle_t handle = nullptr;
      check(cublasCreate(&handle), setup(d), "cublasCreate");
      r.blas.push_back(handle);
      check(cublasSetStream(handle, stream), setup(d), "cublasSetStream");
      void* workspace = nullptr;
      check(cudaMalloc(&workspace, kCublasWorkspaceBytes), setup(d), "cudaMalloc (cuBLAS workspace)");
      cublas_workspaces_.push_back(workspace);
      check(cublasSetWorkspace(handle, workspace, kCublasWorkspaceBytes), setup(d), "cublasSetWorkspace");
    }
    check(cudaStreamCreateWithFlags(&r.host_to_device, cudaStreamNonBlocking), setup(d), "cudaStreamCreate");
    check(cudaStreamCreateWithFlags(&r.device_to_host, cudaStreamNonBlocking), setup(d), "cudaStreamCreate");
    r.to_device.assign(n, nullptr);
    r.peer_access.assign(n, false);
    for (DeviceId e = 0; e < n; ++e) {
      if (e == d) continue;
      if (!is_local(e)) {
        if (!r.remote)
          check(cudaStreamCreateWithFlags(&r.remote, cudaStreamNonBlocking), setup(d), "cudaStreamCreate");
        continue;
      }
      check(cudaStreamCreateWithFlags(&r.to_device[e], cudaStreamNonBlocking), setup(d), "cudaStreamCreate");
      int can = 0;
      check(cudaDeviceCanAccessPeer(&can, r.ordinal, ordinals[e]), setup(d), "cudaDeviceCanAccessPeer");
      if (can && ordinals[e] != r.ordinal) {
        const cudaError_t status = cudaDeviceEnablePeerAccess(ordinals[e], 0);
        if (status == cudaErrorPeerAccessAlreadyEnabled) {
          cudaGetLastError();
        } else {
          check(status, setup(d), "cudaDeviceEnablePeerAccess");
        }
        r.peer_access[e] = true;
      }
    }
  }
}

DeviceSet::~DeviceSet() {
  release();
}

void DeviceSet::close_gate() {
  if (!gate_flag_) {
    void* flag = nullptr;
    check(cudaHostAlloc(&flag, sizeof(int), cudaHostAllocMapped | cudaHostAllocPortable), setup(0),
          "cudaHostAlloc (gate)");
    gate_flag_ = static_cast<volatile int*>(flag);
  }
  *gate_flag_ = 0;
  std::atomic_thread_fence(std::memory_order_seq_cst);
  for (DeviceId d = 0; d < devices_.size(); ++d) {
    if (!is_local(d)) continue;
    use(d);
    check(launch_wait_for_flag(gate_flag_, devices_[d].compute[0]), setup(d), "gate kernel");
  }
}

std::vector<cudaStream_t> DeviceSet::other_streams(DeviceId d) const {
  const DeviceResources& r = devices_[d];
  std::vector<cudaStream_t> others(r.compute.begin() + 1, r.compute.end());
  for (const cudaStream_t s : {r.host_to_device, r.device_to_host, r.remote})
    if (s) others.push_back(s);
  for (const cudaStream_t s : r.to_device)
    if (s) others.push_back(s);
  return others;
}

void DeviceSet::open_gate() {
  if (!gate_flag_) return;
  std::atomic_thread_fence(std::memory_order_seq_cst);
  *gate_flag_ = 1;
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

void DeviceSet::release() {
  open_gate();
  for (DeviceId d = 0; d < devices_.size(); ++d) {
    DeviceResources& r = devices_[d];
    if (!is_local(d) || cudaSetDevice(r.ordinal) != cudaSuccess) continue;
    cudaDeviceSynchronize();
    for (cudaEvent_t e : events_[d]) cudaEventDestroy(e);
    for (cublasHandle_t h : r.blas) cublasDestroy(h);
    for (cudaStream_t s : r.compute) cudaStreamDestroy(s);
    for (cudaStream_t s : r.to_device)
      if (s) cudaStreamDestroy(s);
    if (r.remote) cudaStreamDestroy(r.remote);
    if (r.host_to_device) cudaStreamDestroy(r.host_to_device);
    if (r.device_to_host) cudaStreamDestroy(r.device_to_host);
    if (r.arena) cudaFree(r.arena);
    if (r.scratch) cudaFree(r.scratch);
  }
  if (gate_flag_) cudaFreeHost(const_cast<int*>(gate_flag_));
  gate_flag_ = nullptr;
  for (void* w : cublas_workspaces_) cudaFree(w);
  for (void* w : warm_up_buffers_)
    if (w) cudaFree(w);
  for (void* p : pinned_) cudaFreeHost(p);
  devices_.clear();
  cublas_workspaces_.clear();
  warm_up_buffers_.clear();
  pinned_.clear();
}

namespace {

// `buffer` with at least `bytes` (a new allocation when it is smaller; contents are lost).
std::byte* grown(std::byte*& buffer, std::size_t& capacity, std::size_t bytes, const Where& where) {
  if (buffer && capacity >= bytes) return buffer;
  if (buffer) {
    check(cudaDeviceSynchronize(), where, "cudaDeviceSynchronize");
    check(cudaFree(buffer), where, "cudaFree");
    buffer = nullptr;
  }
  void* p = nullptr;
  check(cudaMalloc(&p, bytes == 0 ? 1 : bytes), where, "cudaMalloc (" + std::to_string(bytes) + " bytes)");
  buffer = static_cast<std::byte*>(p);
  capacity = bytes;
  return buffer;
}

}  // namespace

std::byte* DeviceSet::arena(DeviceId d, std::size_t bytes) {
  use(d);
  DeviceResources& r = devices_[d];
  if (!r.arena || r.arena_bytes < bytes) ++r.arena_generation;
  return grown(r.arena, r.arena_bytes, bytes, setup(d));
}

std::byte* DeviceSet::scratch(DeviceId d, std::size_t bytes) {
  use(d);
  return grown(devices_[d].scratch, devices_[d].scratch_bytes, bytes, setup(d));
}

std::byte* DeviceSet::allocate_pinned(std::size_t bytes) {
  void* p = nullptr;
  check(cudaMallocHost(&p, bytes == 0 ? 1 : bytes), setup(0), "cudaMallocHost");
  pinned_.push_back(p);
  return static_cast<std::byte*>(p);
}

cudaEvent_t DeviceSet::make_event(DeviceId d) {
  if (events_used_[d] < events_[d].size()) return events_[d][events_used_[d]++];
  use(d);
  cudaEvent_t event = nullptr;
  check(cudaEventCreate(&event), setup(d), "cudaEventCreate");
  events_[d].push_back(event);
  ++events_used_[d];
  return event;
}

void DeviceSet::reset_events() {
  std::fill(events_used_.begin(), events_used_.end(), 0);
}

void DeviceSet::warm_up() {
  constexpr int kN = 2048;
  constexpr std::size_t kBytes = std::size_t{3} * kN * kN * 2;
  const float alpha = 1.0f, beta = 0.0f;
  warm_up_buffers_.resize(devices_.size(), nullptr);
  for (DeviceId d = 0; d < devices_.size(); ++d) {
    if (!is_local(d)) continue;
    use(d);
    if (!warm_up_buffers_[d]) {
      void* p = nullptr;
      check(cudaMalloc(&p, kBytes), setup(d), "cudaMalloc (warm-up)");
      warm_up_buffers_[d] = p;
      // Random operands: GEMMs on zeros draw less power than the run's GEMMs will.
      std::vector<float> values(kBytes / 2);
      std::minstd_rand random(static_cast<unsigned>(d) + 1);
      std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
      for (float& v : values) v = uniform(random);
      std::vector<std::byte> bf16(kBytes);
      encode(values, elem_type(einsum::DType::kBF16), bf16.data());
      check(cudaMemcpy(p, bf16.data(), kBytes, cudaMemcpyHostToDevice), setup(d), "cudaMemcpy (warm-up)");
    }
    auto* base = static_cast<std::byte*>(warm_up_buffers_[d]);
    const std::size_t matrix = std::size_t{kN} * kN * 2;
    for (int k = 0; k < 8; ++k) {
      check(cublasGemmEx(devices_[d].blas[0], CUBLAS_OP_N, CUBLAS_OP_N, kN, kN, kN, &alpha, base, CUDA_R_16BF,
                         kN, base + matrix, CUDA_R_16BF, kN, &beta, base + 2 * matrix, CUDA_R_16BF, kN,
                         CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
            setup(d), "cublasGemmEx (warm-up)");
    }
  }
  synchronize();
}

void DeviceSet::use(DeviceId d) const {
  check(cudaSetDevice(devices_[d].ordinal), setup(d), "cudaSetDevice");
}

void DeviceSet::synchronize() const {
  for (DeviceId d = 0; d < devices_.size(); ++d) {
    if (!is_local(d)) continue;
    use(d);
    check(cudaDeviceSynchronize(), Where{"run", "", static_cast<int>(d)}, "cudaDeviceSynchronize");
  }
}

}  // namespace doppler::hw
