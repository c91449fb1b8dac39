#pragma once
// Contract: the teacher that stage I imitates (docs/TRAINING.md, `train.teacher`). The default is the
// environment's critical-path teacher (legal ops of the largest b-level; devices where the op starts
// earliest; all ties). A plan teacher follows a fixed plan: among the legal ops those of the smallest
// priority in the plan (the critical-path teacher's ops when the plan has no priority), and the device
// that corresponds to the plan's device for the op. Device names are arbitrary, so the correspondence
// is a matching rebuilt at every state from the ops placed so far: pairs (device, plan device) taken
// greedily by how many placed ops they share (ties: smaller device, then smaller plan device); a plan
// device still unmatched corresponds to every unmatched device (all count as the teacher's choice).
// Following a plan teacher's first choices therefore reproduces the plan up to a renaming of devices
// (its priority order too, when that order is topological). ops() is in increasing id order, never
// empty while the environment has legal ops; devices() likewise, never empty.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "doppler/plan.hpp"
#include "doppler/policies/placement_env.hpp"

namespace doppler::learn {

class Teacher {
 public:
  Teacher() = default;  // critical path
  explicit Teacher(Plan plan);

  std::vector<OpId> ops(const policies::PlacementEnv& env) const;
  std::vector<DeviceId> devices(const policies::PlacementEnv& env, OpId op) const;

 private:
  std::optional<Plan> plan_;
};

// The teacher named by `train.teacher` for one graph: "critical_path", a placement method
// (policies::placement_names(), the local_search optimiser included; its plan on this graph and
// machine), or "best_heuristic" (the plan of smallest simulated makespan among the heuristics
// available in this build, policies::all_heuristic_names(); ties: the first in that order). `method` is the
// method whose choices are followed and `makespan` the simulated makespan of its plan. An unknown name throws
// an Error listing the known ones.
bool known_teacher(const std::string& name);
std::string known_teachers();  // "critical_path, ..., best_heuristic", for messages
struct TeacherChoice {
  Teacher teacher;
  std::string method;
  double makespan = 0;
};
TeacherChoice make_teacher(const std::string& name, sim::Simulator& simulator, std::uint64_t seed);

}  // namespace doppler::learn
