#pragma once
// Contract: the CUDA resources of one run, per plan device of this process (ordinal >= 0; in
// multi-process mode the other processes' devices have ordinal -1 and no resources): the CUDA ordinal,
// `streams` compute streams each with its own cuBLAS handle (bound to the stream, with a preallocated cuBLAS
// workspace), a host->device and a device->host stream, one device->device stream per destination (created on
// the source), peer access enabled between every pair that supports it, one device arena (grown on demand,
// reused across runs) and pooled timing events (reused after reset_events()). Owns all of it; the destructor
// releases everything (errors ignored there).
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "doppler/machine.hpp"

namespace doppler::hw {

// Every buffer the executors place in an arena or in pinned memory starts at a multiple of this.
inline constexpr std::size_t kArenaAlign = 256;
inline std::size_t align_up(std::size_t bytes) {
  return (bytes + kArenaAlign - 1) / kArenaAlign * kArenaAlign;
}

struct DeviceResources {
  int ordinal = 0;
  std::vector<cudaStream_t> compute;
  std::vector<cublasHandle_t> blas;
  cudaStream_t host_to_device = nullptr;
  cudaStream_t device_to_host = nullptr;
  std::vector<cudaStream_t> to_device;  // by destination (local ones); null for itself
  cudaStream_t remote = nullptr;        // NCCL sends and receives with other processes' devices
  std::vector<bool> peer_access;        // by destination
  std::byte* arena = nullptr;
  std::size_t arena_bytes = 0;
  std::uint64_t arena_generation = 0;  // counts the arena's allocations (contents lost at each)
  std::byte* scratch = nullptr;
  std::size_t scratch_bytes = 0;
};

class DeviceSet {
 public:
  DeviceSet(const std::vector<int>& ordinals, int streams);
  ~DeviceSet();
  DeviceSet(const DeviceSet&) = delete;
  DeviceSet& operator=(const DeviceSet&) = delete;

  std::size_t size() const { return devices_.size(); }
  bool is_local(DeviceId d) const { return devices_[d].ordinal >= 0; }
  DeviceResources& operator[](DeviceId d) { return devices_[d]; }
  const DeviceResources& operator[](DeviceId d) const { return devices_[d]; }

  // Device d's arena with at least `bytes`: the current one when large enough, else a new one
  // (the old one is freed: its contents are lost).
  std::byte* arena(DeviceId d, std::size_t bytes);
  // A second buffer of device d for small exchanges (barrier, gathered timings and outputs), grown on
  // demand like the arena.
  std::byte* scratch(DeviceId d, std::size_t bytes);
  // Pinned host memory, released with the set.
  std::byte* allocate_pinned(std::size_t bytes);
  // A timing event on device d: the next one of its pool (created when the pool is used up).
  cudaEvent_t make_event(DeviceId d);
  // Every pooled event may be handed out again (the previous run's timings are read).
  void reset_events();
  // Makes device d current.
  void use(DeviceId d) const;
  // Waits for all work on every device.
  void synchronize() const;
  // Brings every device out of idle before a timed run: a burst of bf16 GEMMs on compute stream 0
  // (an idle GPU runs its first kernels several times slower), then waits for it.
  void warm_up();
  // Holds compute stream 0 of every local device: it runs a one-thread kernel that waits for a flag
  // in mapped pinned memory, so work enqueued there afterwards starts when open_gate() sets the
  // flag (release() opens it too). The caller makes the other streams wait for an event after it.
  void close_gate();
  void open_gate();
  // Every stream of device d but compute stream 0.
  std::vector<cudaStream_t> other_streams(DeviceId d) const;

 private:
  void init(const std::vector<int>& ordinals, int streams);
  void release();

  std::vector<DeviceResources> devices_;
  std::vector<void*> cublas_workspaces_;
  std::vector<void*> warm_up_buffers_;  // by device
  std::vector<void*> pinned_;
  volatile int* gate_flag_ = nullptr;  // mapped pinned memory: 0 = closed
  std::vector<std::vector<cudaEvent_t>> events_;
  std::vector<std::size_t> events_used_;
};

}  // namespace doppler::hw
