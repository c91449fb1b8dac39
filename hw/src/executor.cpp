// The multi-GPU executor of a lowered graph (declared in doppler/hw/executor.hpp): choosing the
// GPUs, staging the inputs, and one Run per plan (executor_run.hpp).
#include "doppler/hw/executor.hpp"

#include <algorithm>

#include "executor_run.hpp"
#include "input_blocks.hpp"
#include "run_environment.hpp"

namespace doppler::hw {
namespace {

std::size_t plan_devices(const Plan& plan) {
  std::size_t n = 1;
  for (const DeviceId d : plan.device) n = std::max<std::size_t>(n, d + 1);
  return n;
}

}  // namespace

void Executor::State::open(const Plan& plan) {
  int n = options.num_devices > 0 ? options.num_devices : static_cast<int>(plan_devices(plan));
  std::vector<int> ordinals = options.cuda_devices;
  if (options.processes) {  // one local device: the rank's; the others' ordinals are -1
    const ProcessGroup& group = *options.processes;
    if (n > group.size) {
      throw Error("hw: the plan uses " + std::to_string(n) + " devices but the process group has " +
                  std::to_string(group.size) + " processes (one per device)");
    }
    n = group.size;
    const int ordinal = options.cuda_devices.empty() ? 0 : options.cuda_devices.front();
    ordinals.assign(static_cast<std::size_t>(n), -1);
    ordinals[static_cast<std::size_t>(group.rank)] = ordinal;
  }
  if (ordinals.empty())
    for (int d = 0; d < n; ++d) ordinals.push_back(d);
  if (static_cast<int>(ordinals.size()) != n) {
    throw Error("hw: " + std::to_string(ordinals.size()) + " CUDA devices given for a plan on " +
                std::to_string(n) + " devices");
  }
  std::string reason;
  const int visible = visible_gpus(&reason);
  for (const int ordinal : ordinals) {
    if (options.processes && ordinal < 0) continue;
    if (ordinal < 0 || ordinal >= visible) {
      throw Error("hw: plan '" + plan.source + "' needs CUDA device " + std::to_string(ordinal) + " but " +
                  std::to_string(visible) + " are visible" + (reason.empty() ? "" : " (" + reason + ")"));
    }
  }
  const int slots = options.streams * options.queue_depth;
  auto created = std::make_unique<DeviceSet>(ordinals, options.streams);
  scheduler = std::make_unique<Scheduler>(exec, std::vector<int>(ordinals.size(), slots));
  // A GPU runs its peer copies one after another, whatever their streams (measured on H100s: copies
  // leaving one GPU for different GPUs never overlap): one FIFO per source, in release order.
  scheduler->set_copy_engines(std::vector<int>(ordinals.size(), 1));
  devices = std::move(created);
  if (options.processes) {
    const ProcessGroup& group = *options.processes;
    const int ordinal = ordinals[static_cast<std::size_t>(group.rank)];
    devices->use(static_cast<DeviceId>(group.rank));
    nccl = std::make_unique<NcclGroup>(group.rank, group.size, group.rendezvous, group.job_id);
    environment = read_run_environment({ordinal});
    environment.names.assign(static_cast<std::size_t>(n),
                             environment.name);  // each rank sees its own GPU only
  } else {
    environment = read_run_environment(ordinals);
  }
}

// Load blocks in pinned memory (once, by the first run, after its device arenas exist).
void Executor::State::stage_loads() {
  host_block = stage_load_blocks(graph, lowered, kernels, options.inputs, *devices);
}

Executor::Executor(const einsum::EinsumGraph& graph, const einsum::LoweredGraph& lowered,
                   ExecuteOptions options) {
  if (options.streams < 1) throw Error("hw: streams per device must be >= 1");
  if (options.queue_depth < 1) throw Error("hw: queue depth must be >= 1");
  state_ = std::make_unique<State>(graph, lowered, std::move(options));
}

Executor::~Executor() = default;

ExecuteResult Executor::run(const Plan& plan) {
  if (!state_->devices) {
    validate_plan(plan, state_->lowered.graph,
                  state_->options.num_devices > 0 ? static_cast<std::size_t>(state_->options.num_devices)
                                                  : plan_devices(plan));
    state_->open(plan);
  }
  validate_plan(plan, state_->lowered.graph, state_->devices->size());
  return Run(*state_, plan).run();
}

int visible_gpus(std::string* reason) {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    cudaGetLastError();
    if (reason) *reason = std::string("no usable CUDA device: ") + cudaGetErrorString(status);
    return 0;
  }
  if (count == 0 && reason) *reason = "no CUDA device is visible";
  return count;
}

std::string missing_gpus(int wanted) {
  std::string reason;
  const int gpus = visible_gpus(&reason);
  if (gpus >= wanted) return {};
  return std::to_string(wanted) + " GPUs wanted, " + std::to_string(gpus) + " visible" +
         (reason.empty() ? "" : " (" + reason + ")");
}

ExecuteResult execute(const einsum::EinsumGraph& graph, const einsum::LoweredGraph& lowered, const Plan& plan,
                      const ExecuteOptions& options) {
  return Executor(graph, lowered, options).run(plan);
}

}  // namespace doppler::hw
