#pragma once
// Contract: the `offload:` section of an experiment config (docs/OFFLOAD.md): what a what-if
// study of CPU-RAM offload sweeps. Every list is swept in full (a run per combination):
//   offload:
//     budget_fractions: [1.0, 0.5, 0.25]  # of each GPU count's working set (0 < f <= 1) ...
//     budget_bytes: [40e9]                # ... and/or absolute bytes per GPU (at least one given)
//     bandwidths: [53e9, 25e9]            # host link bytes per time unit, both directions
//                                         #   (default: the machine's host->device bandwidth)
//     gpus: [1, 2]                        # default: the machine's device count
//     orders: [event, fixed]              # default both: event-driven vs one fixed order
//     compile_order: plan                 # plan | min_growth | lookahead (memory/compile_order.hpp)
//     placement: critical_path            # how ops are placed on several GPUs
//     alignment: 256                      # bytes of every region
//     jitter: 0.2                         # each op/transfer time x (1 + 0.2 u), u in [-1, 1); default 0
//     decompositions:                     # default: the config's `decompose` (one)
//       - {method: eindecomp, devices: 8}
//       - {method: data, devices: 4}      # each as a `decompose` mapping (workload_spec.hpp)
// Unknown keys, empty lists and bad values throw a one-line Error "FILE:LINE: 'offload.KEY': ...".
#include <cstdint>
#include <string>
#include <vector>

#include "doppler/einsum/workload_spec.hpp"
#include "doppler/experiment.hpp"
#include "doppler/memory/compile_order.hpp"

namespace doppler::memory {

enum class RunOrder { kEventDriven, kFixed };
const char* run_order_name(RunOrder order);  // "event", "fixed"

struct OffloadStudy {
  std::vector<double> budget_fractions;
  std::vector<double> budget_bytes;
  std::vector<double> bandwidths;  // empty: the machine's
  std::vector<std::size_t> gpus;   // empty: the machine's device count
  std::vector<RunOrder> orders = {RunOrder::kEventDriven, RunOrder::kFixed};
  CompileOrder compile_order = CompileOrder::kPlan;
  std::string placement = "critical_path";
  std::uint64_t alignment = 256;
  double jitter = 0;  // in [0, 1): run-to-run variation in the simulator (seeded by the config's seed)
  std::vector<einsum::DecomposeSpec> decompositions;  // empty: the config's decompose
};

// The experiment's `offload` section (kept by load_experiment when ExperimentNames::sections
// names it); `placements` are the placement methods the caller knows. Throws when the section is
// missing.
OffloadStudy read_offload_study(const Experiment& experiment, const std::vector<std::string>& placements);

}  // namespace doppler::memory
