#include "doppler/learn/teacher.hpp"

#include <algorithm>
#include <limits>

#include "doppler/error.hpp"
#include "doppler/policies/placement.hpp"

namespace doppler::learn {

Teacher::Teacher(Plan plan) : plan_(std::move(plan)) {}

std::vector<OpId> Teacher::ops(const policies::PlacementEnv& env) const {
  if (!plan_ || !plan_->has_priority()) return env.teacher_ops();
  double smallest = std::numeric_limits<double>::infinity();
  for (const OpId op : env.legal()) smallest = std::min(smallest, plan_->priority[op]);
  std::vector<OpId> best;
  for (const OpId op : env.legal()) {
    if (plan_->priority[op] == smallest) best.push_back(op);
  }
  std::sort(best.begin(), best.end());
  return best;
}

std::vector<DeviceId> Teacher::devices(const policies::PlacementEnv& env, OpId op) const {
  if (!plan_) return env.teacher_devices(op);
  const std::size_t devices = env.num_devices();
  std::vector<std::size_t> shared(devices * devices, 0);  // [device * devices + plan device]
  for (OpId placed = 0; placed < env.num_ops(); ++placed) {
    if (env.is_placed(placed)) ++shared[env.device_of(placed) * devices + plan_->device[placed]];
  }
  std::vector<std::size_t> pairs;
  for (std::size_t i = 0; i < shared.size(); ++i) {
    if (shared[i] > 0) pairs.push_back(i);
  }
  std::stable_sort(pairs.begin(), pairs.end(),
                   [&](std::size_t a, std::size_t b) { return shared[a] > shared[b]; });
  constexpr DeviceId kNone = static_cast<DeviceId>(-1);
  std::vector<DeviceId> match_of_plan(devices, kNone);
  std::vector<bool> matched(devices, false);
  for (const std::size_t pair : pairs) {
    const std::size_t device = pair / devices, plan_device = pair % devices;
    if (matched[device] || match_of_plan[plan_device] != kNone) continue;
    matched[device] = true;
    match_of_plan[plan_device] = static_cast<DeviceId>(device);
  }
  const DeviceId wanted = match_of_plan[plan_->device[op]];
  if (wanted != kNone) return {wanted};
  std::vector<DeviceId> free;
  for (std::size_t device = 0; device < devices; ++device) {
    if (!matched[device]) free.push_back(static_cast<DeviceId>(device));
  }
  return free;
}

bool known_teacher(const std::string& name) {
  const std::vector<std::string>& methods = policies::placement_names();
  return name == "best_heuristic" || std::find(methods.begin(), methods.end(), name) != methods.end();
}

std::string known_teachers() {
  std::string list;
  for (const std::string& method : policies::placement_names()) list += method + ", ";
  return list + "best_heuristic";
}

TeacherChoice make_teacher(const std::string& name, sim::Simulator& simulator, std::uint64_t seed) {
  TeacherChoice choice;
  choice.method = name;
  const policies::PlacementContext context{simulator, seed};
  if (name == "best_heuristic") {
    for (const std::string& method : policies::all_heuristic_names()) {
      if (method == "metis" && !policies::metis_available()) continue;
      Plan plan = policies::place(method, context);
      const double makespan = simulator.makespan(plan.device, plan.priority);
      if (choice.method == name || makespan < choice.makespan) {
        choice = TeacherChoice{Teacher(std::move(plan)), method, makespan};
      }
    }
    if (choice.method == "critical_path") choice.teacher = Teacher();  // the environment's, with its ties
    return choice;
  }
  if (!known_teacher(name)) {
    throw Error("train.teacher: unknown teacher '" + name + "' (known: " + known_teachers() + ")");
  }
  Plan plan = policies::place(name, context);
  choice.makespan = simulator.makespan(plan.device, plan.priority);
  if (name != "critical_path") choice.teacher = Teacher(std::move(plan));
  return choice;
}

}  // namespace doppler::learn
