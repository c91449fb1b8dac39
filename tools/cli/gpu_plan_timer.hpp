#pragma once
// Contract: times plans of one einsum workload on this machine's GPUs (stage III of `doppler train`):
// each plan runs once untimed, then `repetitions` times; its makespan is the median of those runs,
// in seconds, from the executor's CUDA events. One hw::Executor serves every plan (devices, streams
// and staged inputs are set up once). Construction fails with one line when this doppler has no hw
// backend or fewer GPUs are visible than the machine has devices.
#include <cstddef>
#include <memory>

#include "doppler/plan.hpp"
#include "run_inputs.hpp"

namespace doppler::cli {

class GpuPlanTimer {
 public:
  GpuPlanTimer(const EinsumOrigin& origin, std::size_t devices, std::size_t repetitions);
  ~GpuPlanTimer();
  GpuPlanTimer(const GpuPlanTimer&) = delete;
  GpuPlanTimer& operator=(const GpuPlanTimer&) = delete;

  double seconds(const Plan& plan);
  double seconds(const Plan& plan, std::size_t repetitions);  // this many timed runs instead

  struct State;

 private:
  std::unique_ptr<State> state_;
};

}  // namespace doppler::cli
