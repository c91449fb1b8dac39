#pragma once
// Contract: the CUDA resources of one run, per plan device: the CUDA ordinal, `streams` compute
// streams each with its own cuBLAS handle (bound to the stream, with a preallocated cuBLAS
// workspace), a host->device stream, one device->device stream per destination (created on the
// source), peer access enabled between every pair that supports it, one device arena and the
// events of the run. Owns all of it; the destructor releases everything (errors ignored there).
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <vector>

#include "doppler/machine.hpp"

namespace doppler::hw {

struct DeviceResources {
  int ordinal = 0;
  std::vector<cudaStream_t> compute;
  std::vector<cublasHandle_t> blas;
  cudaStream_t host_to_device = nullptr;
  std::vector<cudaStream_t> to_device;  // by destination; null for itself
  std::vector<bool> peer_access;        // by destination
  std::byte* arena = nullptr;
};

class DeviceSet {
 public:
  DeviceSet(const std::vector<int>& ordinals, int streams);
  ~DeviceSet();
  DeviceSet(const DeviceSet&) = delete;
  DeviceSet& operator=(const DeviceSet&) = delete;

  std::size_t size() const { return devices_.size(); }
  DeviceResources& operator[](DeviceId d) { return devices_[d]; }
  const DeviceResources& operator[](DeviceId d) const { return devices_[d]; }

  // One cudaMalloc of `bytes` for device d (its arena).
  std::byte* allocate_arena(DeviceId d, std::size_t bytes);
  // Pinned host memory, released with the set.
  std::byte* allocate_pinned(std::size_t bytes);
  // A timing event on device d, released with the set.
  cudaEvent_t make_event(DeviceId d);
  // Makes device d current.
  void use(DeviceId d) const;
  // Waits for all work on every device.
  void synchronize() const;

 private:
  void init(const std::vector<int>& ordinals, int streams);
  void release();

  std::vector<DeviceResources> devices_;
  std::vector<void*> cublas_workspaces_;
  std::vector<void*> pinned_;
  std::vector<std::vector<cudaEvent_t>> events_;
};

}  // namespace doppler::hw
