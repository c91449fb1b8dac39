#pragma once
// Contract: a traced run is one plan measured on a machine, stored as a directory (docs/FORMATS.md,
// "Traced runs"): run.yaml (workload, placement, config, plan, makespan, devices, gpu) plus the
// trace CSV. The config is an experiment config that rebuilds the run's task graph; the caller
// rebuilds it and checks the run against it with check_traced_run(). Errors name FILE:LINE.
//
//   workload: ffnn_small        # grouping key: runs of one workload are ranked against each other
//   placement: heft             # label of this placement (default: the plan's method)
//   config: config.yaml         # relative to the run directory
//   plan: plan.yaml             # default plan.yaml
//   trace: trace.csv            # default trace.csv (and launches.csv in the run directory, when present)
//   makespan: 0.01234           # measured, seconds
//   devices: 2
//   gpu: {name: NVIDIA H100 80GB HBM3, driver: "550.54", cuda: "12.4", cublas: "12.4.5", clocks: "1980 MHz",
//         names: [per-device names]}   # every key optional
#include <string>
#include <vector>

#include "doppler/plan.hpp"
#include "doppler/task_graph.hpp"
#include "doppler/trace_csv.hpp"

namespace doppler {

struct GpuInfo {
  std::string name, driver, cuda, cublas, clocks;  // empty when not recorded
  std::vector<std::string> names;                  // per device, when recorded
};

struct TracedRun {
  std::string dir;
  std::string workload;
  std::string placement;
  std::string config;  // resolved path of the experiment config
  Plan plan;
  double makespan = 0;  // measured
  std::size_t devices = 0;
  int queue_depth = 0;  // ops the executor issued ahead per stream; 0 = not recorded
  GpuInfo gpu;
  TraceCsv trace;
  std::vector<HostLaunch> launches;  // launches.csv in the run directory, when there is one
};

TracedRun load_traced_run(const std::string& dir);
// Every directory at or below `root` that holds a run.yaml, sorted by path. Error when none.
std::vector<std::string> find_traced_runs(const std::string& root);
// The plan fits the graph and the run's devices; every trace record names an op of the graph (by
// index and name), a device of the run, and compute records run where the plan placed them.
void check_traced_run(const TracedRun& run, const TaskGraph& graph);

}  // namespace doppler
