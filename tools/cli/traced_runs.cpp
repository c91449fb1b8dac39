#include "traced_runs.hpp"

#include <algorithm>
#include <map>
#include <tuple>

#include "doppler/error.hpp"

namespace doppler::cli {

std::vector<LoadedRun> load_traced_runs(const std::string& root) {
  std::vector<LoadedRun> runs;
  for (const std::string& dir : find_traced_runs(root)) {
    LoadedRun loaded{load_traced_run(dir), nullptr};
    Experiment e = load_experiment(loaded.run.config, known_names());
    if (e.model.empty()) e.model = e.machine.empty() ? "paper" : "roofline";
    loaded.workload = load(e);
    const std::size_t devices = loaded.workload->machine.num_devices();
    if (devices != loaded.run.devices)
      throw Error(dir + "/run.yaml: 'devices' is " + std::to_string(loaded.run.devices) + " but " +
                  loaded.run.config + " builds its graph for " + std::to_string(devices) + " devices");
    check_traced_run(loaded.run, loaded.workload->graph);
    runs.push_back(std::move(loaded));
  }
  std::stable_sort(runs.begin(), runs.end(), [](const LoadedRun& a, const LoadedRun& b) {
    return std::tie(a.run.workload, a.run.placement, a.run.dir) <
           std::tie(b.run.workload, b.run.placement, b.run.dir);
  });
  return runs;
}

std::vector<bool> held_out_every(const std::vector<LoadedRun>& runs, std::size_t k) {
  std::vector<bool> held(runs.size(), false);
  if (k == 0) return held;
  std::map<std::string, std::size_t> seen;
  for (std::size_t i = 0; i < runs.size(); ++i) held[i] = ++seen[runs[i].run.workload] % k == 0;
  return held;
}

}  // namespace doppler::cli
