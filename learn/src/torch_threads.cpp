#include "torch_threads.hpp"

#include <sched.h>
#include <torch/torch.h>

#include <algorithm>
#include <thread>

// OpenBLAS keeps its own threads; null when another BLAS is in use.
extern "C" void openblas_set_num_threads(int) __attribute__((weak));

namespace doppler::learn {

void use_one_torch_thread() {
  torch::set_num_threads(1);
  if (openblas_set_num_threads != nullptr) openblas_set_num_threads(1);
}

std::size_t usable_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return static_cast<std::size_t>(CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace doppler::learn
