#pragma once
// Contract: the traced runs under a directory (docs/FORMATS.md, "Traced runs"), each with its task
// graph rebuilt from its experiment config exactly as `simulate` would build it, and checked
// against it (plan, trace ops and devices). Sorted by workload, then placement, then directory.
// held_out_every() picks every K-th placement of each workload in that order.
#include <memory>
#include <string>
#include <vector>

#include "doppler/traced_run.hpp"
#include "run_inputs.hpp"

namespace doppler::cli {

struct LoadedRun {
  TracedRun run;
  std::unique_ptr<Workload> workload;  // the config's graph and machine
};

std::vector<LoadedRun> load_traced_runs(const std::string& root);

// Per run: true when it is the K-th, 2K-th, ... placement of its workload (K >= 2; 0 = none).
std::vector<bool> held_out_every(const std::vector<LoadedRun>& runs, std::size_t k);

}  // namespace doppler::cli
