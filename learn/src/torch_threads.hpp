#pragma once
// Contract: runs torch and its BLAS (OpenBLAS, when that is torch's BLAS) on one thread for the rest of
// the process. Matrix products then round the same way on every machine, so training and placing with
// the same weights give the same probabilities to the last bit, and greedy placements, which break
// near-ties by them, are the same everywhere (with several BLAS threads a near-tie can flip).
#include <cstddef>

namespace doppler::learn {

void use_one_torch_thread();

// The CPUs this process may run on (its affinity mask; taskset limits it).
std::size_t usable_cores();

}  // namespace doppler::learn
