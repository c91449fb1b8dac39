#pragma once
// Contract: reads where a run happens, as a traced run's GpuInfo: the NVIDIA driver release
// (through NVML, loaded at run time so that the binary needs no driver to start; else the CUDA
// driver API version), the CUDA runtime and cuBLAS versions, the first GPU's peak SM and memory
// clocks, and per CUDA ordinal the GPU's name. Unreadable fields stay empty; nothing throws.
#include <vector>

#include "doppler/traced_run.hpp"

namespace doppler::hw {

GpuInfo read_run_environment(const std::vector<int>& ordinals);

}  // namespace doppler::hw
