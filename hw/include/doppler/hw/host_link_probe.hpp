#pragma once
// Contract: measures the host link of one GPU (CUDA ordinal `device`) with plain cudaMemcpyAsync
// between pinned host memory and cudaMalloc'd device memory: for every size, `repetitions` copies
// host->device alone, device->host alone, and both directions at once (one copy each way started
// together on two streams, each timed by its own events). Samples are (bytes, seconds) for
// sim::fit_link. The first round of each kind is untimed. Errors: one-line doppler::Errors
// (no such device, out of memory, any CUDA failure).
#include <cstddef>
#include <span>
#include <utility>
#include <vector>

namespace doppler::hw {

struct HostLinkSamples {
  std::vector<std::pair<double, double>> to_device, from_device;                // each alone
  std::vector<std::pair<double, double>> to_device_duplex, from_device_duplex;  // both at once
};

HostLinkSamples probe_host_links(int device, std::span<const std::size_t> sizes, int repetitions = 5);

}  // namespace doppler::hw
