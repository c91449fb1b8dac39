#pragma once
// Contract: writes one GPU run as a TRACED RUN directory (docs/FORMATS.md, "Traced runs"):
// DIR/WORKLOAD-PLACEMENT/ with run.yaml (workload, placement, measured makespan in seconds,
// devices, the GPUs: names, driver, CUDA and cuBLAS versions, clocks), config.yaml (a self-contained
// experiment config that rebuilds the same task graph: the einsum workload, its decomposition with the device
// count written out, and `devices`; an einsum graph file is copied beside it), plan.yaml, trace.csv and
// trace.json. Each file is written atomically; an existing run directory is overwritten file by file.
#include <string>
#include <vector>

#include "doppler/experiment.hpp"
#include "doppler/plan.hpp"
#include "doppler/trace.hpp"
#include "doppler/traced_run.hpp"
#include "run_inputs.hpp"

namespace doppler::cli {

struct TracedRunInfo {
  std::string workload;   // grouping key of `validate` (the config's name)
  std::string placement;  // label, e.g. heft or random-3
  double makespan = 0;    // measured, seconds
  std::size_t devices = 0;
  GpuInfo gpu;
  int queue_depth = 0;  // the executor's; written when > 0
};

// Returns the run directory.
std::string write_traced_run(const std::string& dir, const Experiment& experiment, const EinsumOrigin& origin,
                             const TaskGraph& graph, const Plan& plan, const Trace& trace,
                             const TracedRunInfo& info);

}  // namespace doppler::cli
