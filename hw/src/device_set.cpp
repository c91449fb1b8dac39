#include "device_set.hpp"

#include "cuda_check.hpp"

namespace doppler::hw {
namespace {

constexpr std::size_t kCublasWorkspaceBytes = std::size_t{32} << 20;

Where setup(DeviceId d) {
  return Where{"set-up", "", static_cast<int>(d)};
}

}  // namespace

DeviceSet::DeviceSet(const std::vector<int>& ordinals, int streams) : events_(ordinals.size()) {
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
  for (DeviceId d = 0; d < n; ++d) {
    DeviceResources& r = devices_[d];
    r.ordinal = ordinals[d];
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
    r.to_device.assign(n, nullptr);
    r.peer_access.assign(n, false);
    for (DeviceId e = 0; e < n; ++e) {
      if (e == d) continue;
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

void DeviceSet::release() {
  for (DeviceId d = 0; d < devices_.size(); ++d) {
    DeviceResources& r = devices_[d];
    if (cudaSetDevice(r.ordinal) != cudaSuccess) continue;
    cudaDeviceSynchronize();
    for (cudaEvent_t e : events_[d]) cudaEventDestroy(e);
    for (cublasHandle_t h : r.blas) cublasDestroy(h);
    for (cudaStream_t s : r.compute) cudaStreamDestroy(s);
    for (cudaStream_t s : r.to_device)
      if (s) cudaStreamDestroy(s);
    if (r.host_to_device) cudaStreamDestroy(r.host_to_device);
    if (r.arena) cudaFree(r.arena);
  }
  for (void* w : cublas_workspaces_) cudaFree(w);
  for (void* p : pinned_) cudaFreeHost(p);
  devices_.clear();
  cublas_workspaces_.clear();
  pinned_.clear();
}

std::byte* DeviceSet::allocate_arena(DeviceId d, std::size_t bytes) {
  use(d);
  void* p = nullptr;
  check(cudaMalloc(&p, bytes == 0 ? 1 : bytes), setup(d), "cudaMalloc (" + std::to_string(bytes) + " bytes)");
  devices_[d].arena = static_cast<std::byte*>(p);
  return devices_[d].arena;
}

std::byte* DeviceSet::allocate_pinned(std::size_t bytes) {
  void* p = nullptr;
  check(cudaMallocHost(&p, bytes == 0 ? 1 : bytes), setup(0), "cudaMallocHost");
  pinned_.push_back(p);
  return static_cast<std::byte*>(p);
}

cudaEvent_t DeviceSet::make_event(DeviceId d) {
  use(d);
  cudaEvent_t event = nullptr;
  check(cudaEventCreate(&event), setup(d), "cudaEventCreate");
  events_[d].push_back(event);
  return event;
}

void DeviceSet::use(DeviceId d) const {
  check(cudaSetDevice(devices_[d].ordinal), setup(d), "cudaSetDevice");
}

void DeviceSet::synchronize() const {
  for (DeviceId d = 0; d < devices_.size(); ++d) {
    use(d);
    check(cudaDeviceSynchronize(), Where{"run", "", static_cast<int>(d)}, "cudaDeviceSynchronize");
  }
}

}  // namespace doppler::hw
