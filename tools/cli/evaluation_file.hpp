#pragma once
// Contract: an evaluation file for `doppler evaluate`: which experiment configs to evaluate, each
// with its trained policy, and how many sampled placements the best-of-K entry takes. Paths are
// resolved against the file's directory and must exist; an unknown key, a missing field or a bad
// value throws one Error line naming file:line and the field. Format (docs/TRAINING.md):
//
//   evaluate:
//     samples: 64                        # K of the best-of-K entry (default 16)
//     runs:                              # one per graph, evaluated in this order
//       - {config: paper/chainmm.yaml, policy: policies/paper-4dev/chainmm/policy.pt}
#include <cstddef>
#include <string>
#include <vector>

namespace doppler::cli {

struct EvaluationRun {
  std::string config;  // an experiment config (resolved path)
  std::string policy;  // a checkpoint or policy file (resolved path)
};

struct EvaluationFile {
  std::size_t samples = 16;
  std::vector<EvaluationRun> runs;  // at least one
};

// A .yaml/.yml file whose top level is a mapping with an `evaluate` key.
bool is_evaluation_file(const std::string& path);
EvaluationFile load_evaluation_file(const std::string& path);

}  // namespace doppler::cli
