// place(): dispatch by heuristic name.
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

constexpr std::array<Heuristic, 6> kHeuristics{{
    {"random", place_random},
    {"round_robin", place_round_robin},
    {"critical_path", place_critical_path},
    {"heft", place_heft},
    {"etf", place_etf},
    {"metis", place_metis},
}};

}  // namespace

const std::vector<std::string>& heuristic_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> all;
    for (const Heuristic& heuristic : kHeuristics) all.emplace_back(heuristic.name);
    return all;
  }();
  return names;
}

Plan place(const std::string& method, const PlacementContext& context) {
  for (const Heuristic& heuristic : kHeuristics)
    if (method == heuristic.name) return heuristic.run(context);
  std::string known;
  for (const std::string& name : heuristic_names()) known += (known.empty() ? "" : ", ") + name;
  throw Error("unknown placement method '" + method + "' (known: " + known + ")");
}

}  // namespace doppler::policies
