// place(): dispatch by method name.
#include "doppler/policies/placement.hpp"

#include <array>

#include "doppler/error.hpp"
#include "heuristics.hpp"

namespace doppler::policies {
namespace {

struct Heuristic {
  const char* name;
  Plan (*run)(const PlacementContext&);
};

constexpr std::size_t kDefaultHeuristics = 6;  // the first ones: heuristic_names()
constexpr std::size_t kAllHeuristics = 7;      // the first ones: all_heuristic_names()
constexpr std::array<Heuristic, 9> kHeuristics{{
    {"random", place_random},
    {"round_robin", place_round_robin},
    {"critical_path", place_critical_path},
    {"heft", place_heft},
    {"etf", place_etf},
    {"metis", place_metis},
    {"eindecomp", place_eindecomp},
    {"local_search", place_local_search},  // the optimisers: in placement_names() only
    {"local_search_devices", place_local_search_devices},
}};

std::vector<std::string> names_of(std::size_t count) {
  std::vector<std::string> names;
  for (std::size_t i = 0; i < count; ++i) names.emplace_back(kHeuristics[i].name);
  return names;
}

}  // namespace

const std::vector<std::string>& heuristic_names() {
  static const std::vector<std::string> names = names_of(kDefaultHeuristics);
  return names;
}

const std::vector<std::string>& all_heuristic_names() {
  static const std::vector<std::string> names = names_of(kAllHeuristics);
  return names;
}

const std::vector<std::string>& placement_names() {
  static const std::vector<std::string> names = names_of(kHeuristics.size());
  return names;
}

Plan place(const std::string& method, const PlacementContext& context) {
  for (const Heuristic& heuristic : kHeuristics)
    if (method == heuristic.name) return heuristic.run(context);
  std::string known;
  for (const std::string& name : placement_names()) known += (known.empty() ? "" : ", ") + name;
  throw Error("unknown placement method '" + method + "' (known: " + known + ")");
}

}  // namespace doppler::policies
