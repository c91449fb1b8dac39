#include "torch_threads.hpp"

#include <torch/torch.h>

// OpenBLAS keeps its own threads; null when another BLAS is in use.
extern "C" void openblas_set_num_threads(int) __attribute__((weak));

namespace doppler::learn {

void use_one_torch_thread() {
  torch::set_num_threads(1);
  if (openblas_set_num_threads != nullptr) openblas_set_num_threads(1);
}

}  // namespace doppler::learn
