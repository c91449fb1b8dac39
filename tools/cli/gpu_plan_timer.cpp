#include "gpu_plan_timer.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "doppler/error.hpp"

#ifdef DOPPLER_HAVE_HW
#include "doppler/hw/executor.hpp"
#endif

namespace doppler::cli {

#ifdef DOPPLER_HAVE_HW

struct GpuPlanTimer::State {
  std::unique_ptr<hw::Executor> executor;
  std::size_t repetitions = 1;
};

GpuPlanTimer::GpuPlanTimer(const EinsumOrigin& origin, std::size_t devices, std::size_t repetitions)
    : state_(std::make_unique<State>()) {
  if (const std::string missing = hw::missing_gpus(static_cast<int>(devices)); !missing.empty())
    throw Error(missing);
  hw::ExecuteOptions options;
  options.num_devices = static_cast<int>(devices);
  options.return_outputs = false;
  state_->executor = std::make_unique<hw::Executor>(origin.graph, origin.lowered, options);
  state_->repetitions = std::max<std::size_t>(1, repetitions);
}

double GpuPlanTimer::seconds(const Plan& plan) {
  return seconds(plan, state_->repetitions);
}

double GpuPlanTimer::seconds(const Plan& plan, std::size_t repetitions) {
  state_->executor->run(plan);
  std::vector<double> ms;
  for (std::size_t r = 0; r < std::max<std::size_t>(1, repetitions); ++r)
    ms.push_back(state_->executor->run(plan).makespan_ms);
  std::nth_element(ms.begin(), ms.begin() + static_cast<std::ptrdiff_t>(ms.size() / 2), ms.end());
  return ms[ms.size() / 2] * 1e-3;
}

#else

struct GpuPlanTimer::State {};

GpuPlanTimer::GpuPlanTimer(const EinsumOrigin&, std::size_t, std::size_t) {
  throw Error("this doppler was built without the hw backend (no CUDA toolkit was found at build time)");
}

double GpuPlanTimer::seconds(const Plan&) {
  return 0;
}

double GpuPlanTimer::seconds(const Plan&, std::size_t) {
  return 0;
}

#endif

GpuPlanTimer::~GpuPlanTimer() = default;

}  // namespace doppler::cli
