#include "doppler/hw/host_link_probe.hpp"

#include <algorithm>
#include <string>

#include "cuda_check.hpp"

namespace doppler::hw {
namespace {

// Owns the probe's buffers, streams and events; releases them whatever happens.
struct ProbeResources {
  void* host_in = nullptr;
  void* host_out = nullptr;
  void* device_in = nullptr;
  void* device_out = nullptr;
  cudaStream_t streams[2] = {nullptr, nullptr};
  cudaEvent_t events[4] = {nullptr, nullptr, nullptr, nullptr};
  ~ProbeResources() {
    for (cudaEvent_t e : events)
      if (e) cudaEventDestroy(e);
    for (cudaStream_t s : streams)
      if (s) cudaStreamDestroy(s);
    if (device_in) cudaFree(device_in);
    if (device_out) cudaFree(device_out);
    if (host_in) cudaFreeHost(host_in);
    if (host_out) cudaFreeHost(host_out);
  }
};

}  // namespace

HostLinkSamples probe_host_links(int device, std::span<const std::size_t> sizes, int repetitions) {
  const Where at{"host-link probe", "", device};
  int count = 0;
  check(cudaGetDeviceCount(&count), at, "cudaGetDeviceCount");
  if (device < 0 || device >= count)
    throw Error("hw: host-link probe: no CUDA device " + std::to_string(device) + " (" +
                std::to_string(count) + " found)");
  check(cudaSetDevice(device), at, "cudaSetDevice");
  const std::size_t largest = sizes.empty() ? 0 : *std::max_element(sizes.begin(), sizes.end());
  HostLinkSamples samples;
  if (largest == 0) return samples;
  ProbeResources r;
  check(cudaMallocHost(&r.host_in, largest), at, "cudaMallocHost");
  check(cudaMallocHost(&r.host_out, largest), at, "cudaMallocHost");
  check(cudaMalloc(&r.device_in, largest), at, "cudaMalloc");
  check(cudaMalloc(&r.device_out, largest), at, "cudaMalloc");
  check(cudaMemset(r.device_out, 0, largest), at, "cudaMemset");
  std::fill_n(static_cast<char*>(r.host_in), largest, char{1});
  for (cudaStream_t& s : r.streams)
    check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), at, "cudaStreamCreate");
  for (cudaEvent_t& e : r.events) check(cudaEventCreate(&e), at, "cudaEventCreate");
  // One copy each way (either may be skipped), timed by its own events on its own stream.
  const auto copy = [&](std::size_t bytes, bool in, bool out, double seconds[2]) {
    check(cudaDeviceSynchronize(), at, "cudaDeviceSynchronize");
    if (in) {
      check(cudaEventRecord(r.events[0], r.streams[0]), at, "cudaEventRecord");
      check(cudaMemcpyAsync(r.device_in, r.host_in, bytes, cudaMemcpyHostToDevice, r.streams[0]), at,
            "cudaMemcpyAsync (host to device)");
      check(cudaEventRecord(r.events[1], r.streams[0]), at, "cudaEventRecord");
    }
    if (out) {
      check(cudaEventRecord(r.events[2], r.streams[1]), at, "cudaEventRecord");
      check(cudaMemcpyAsync(r.host_out, r.device_out, bytes, cudaMemcpyDeviceToHost, r.streams[1]), at,
            "cudaMemcpyAsync (device to host)");
      check(cudaEventRecord(r.events[3], r.streams[1]), at, "cudaEventRecord");
    }
    check(cudaDeviceSynchronize(), at, "cudaDeviceSynchronize");
    float ms = 0;
    if (in) {
      check(cudaEventElapsedTime(&ms, r.events[0], r.events[1]), at, "cudaEventElapsedTime");
      seconds[0] = ms * 1e-3;
    }
    if (out) {
      check(cudaEventElapsedTime(&ms, r.events[2], r.events[3]), at, "cudaEventElapsedTime");
      seconds[1] = ms * 1e-3;
    }
  };
  for (const std::size_t bytes : sizes) {
    const double b = static_cast<double>(bytes);
    for (int k = -1; k < repetitions; ++k) {
      double alone_in[2] = {0, 0}, alone_out[2] = {0, 0}, duplex[2] = {0, 0};
      copy(bytes, true, false, alone_in);
      copy(bytes, false, true, alone_out);
      copy(bytes, true, true, duplex);
      if (k < 0) continue;
      samples.to_device.push_back({b, alone_in[0]});
      samples.from_device.push_back({b, alone_out[1]});
      samples.to_device_duplex.push_back({b, duplex[0]});
      samples.from_device_duplex.push_back({b, duplex[1]});
    }
  }
  return samples;
}

}  // namespace doppler::hw
