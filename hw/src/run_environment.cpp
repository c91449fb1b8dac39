#include "run_environment.hpp"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <dlfcn.h>

#include <string>

namespace doppler::hw {
namespace {

std::string cuda_version(int v) {
  return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10);
}

std::string nvml_driver_release() {
  void* nvml = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!nvml) return "";
  using Init = int (*)();
  using DriverVersion = int (*)(char*, unsigned);
  auto init = reinterpret_cast<Init>(dlsym(nvml, "nvmlInit_v2"));
  auto version = reinterpret_cast<DriverVersion>(dlsym(nvml, "nvmlSystemGetDriverVersion"));
  auto shutdown = reinterpret_cast<Init>(dlsym(nvml, "nvmlShutdown"));
  std::string release;
  if (init && version && shutdown && init() == 0) {
    char text[96] = {};
    if (version(text, sizeof text) == 0) release = text;
    shutdown();
  }
  dlclose(nvml);
  return release;
}

int attribute(cudaDeviceAttr what, int ordinal) {
  int value = 0;
  if (cudaDeviceGetAttribute(&value, what, ordinal) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return value;
}

}  // namespace

GpuInfo read_run_environment(const std::vector<int>& ordinals) {
  GpuInfo env;
  env.driver = nvml_driver_release();
  int version = 0;
  if (env.driver.empty() && cudaDriverGetVersion(&version) == cudaSuccess)
    env.driver = "CUDA " + cuda_version(version);
  if (cudaRuntimeGetVersion(&version) == cudaSuccess) env.cuda = cuda_version(version);
  int major = 0, minor = 0, patch = 0;
  if (cublasGetProperty(MAJOR_VERSION, &major) == CUBLAS_STATUS_SUCCESS &&
      cublasGetProperty(MINOR_VERSION, &minor) == CUBLAS_STATUS_SUCCESS &&
      cublasGetProperty(PATCH_LEVEL, &patch) == CUBLAS_STATUS_SUCCESS) {
    env.cublas = std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
  }
  for (const int ordinal : ordinals) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, ordinal) == cudaSuccess) {
      env.names.emplace_back(prop.name);
    } else {
      cudaGetLastError();
      env.names.emplace_back("CUDA device " + std::to_string(ordinal));
    }
  }
  if (!env.names.empty()) env.name = env.names.front();
  if (!ordinals.empty()) {
    const int sm = attribute(cudaDevAttrClockRate, ordinals.front()) / 1000;
    const int memory = attribute(cudaDevAttrMemoryClockRate, ordinals.front()) / 1000;
    if (sm > 0) env.clocks = std::to_string(sm) + " MHz SM, " + std::to_string(memory) + " MHz memory (peak)";
  }
  cudaGetLastError();
  return env;
}

}  // namespace doppler::hw
