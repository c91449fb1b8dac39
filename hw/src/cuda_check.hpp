#pragma once
// Contract: turns a failed CUDA or cuBLAS call into a doppler::Error of one line naming what was
// being done (a task, a transfer, set-up), the device and the call:
//   "hw: task 'mm[i0,j0,k0]' on device 1: cublasGemmStridedBatchedEx: CUBLAS_STATUS_INVALID_VALUE".
// A Where holds views only and is formatted on failure, so checks cost nothing in the hot loop.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <string>
#include <string_view>

#include "doppler/error.hpp"

namespace doppler::hw {

struct Where {
  std::string_view what;  // "task", "transfer of", "set-up", ...
  std::string_view name;  // the task's name; empty for set-up
  int device = 0;         // plan device
};

[[noreturn]] inline void fail(const Where& where, std::string_view call, std::string_view message) {
  std::string text = "hw: " + std::string(where.what);
  if (!where.name.empty()) text += " '" + std::string(where.name) + "'";
  throw Error(text + " on device " + std::to_string(where.device) + ": " + std::string(call) + ": " +
              std::string(message));
}

// A failed call also leaves CUDA's last error set: it is cleared, so that a later launch check
// (cudaGetLastError) does not report it again.
inline void check(cudaError_t status, const Where& where, std::string_view call) {
  if (status == cudaSuccess) return;
  cudaGetLastError();
  fail(where, call, cudaGetErrorString(status));
}

inline void check(cublasStatus_t status, const Where& where, std::string_view call) {
  if (status != CUBLAS_STATUS_SUCCESS) fail(where, call, cublasGetStatusString(status));
}

}  // namespace doppler::hw
