#include "doppler/memory/compile_order.hpp"

#include <algorithm>
#include <limits>
#include <optional>
#include <set>
#include <tuple>
#include <unordered_map>

#include "doppler/error.hpp"
#include "doppler/exec_graph.hpp"

namespace doppler::memory {
namespace {

// Unlimited-memory bookkeeping of the min_growth heuristic: which tensors are on which device and
// how many unplaced consumers still need them there (the producer's device counts every consumer).
class GrowthModel {
 public:
  GrowthModel(const ExecGraph& exec, const TaskGraph& graph, const Plan& plan,
              const std::vector<bool>& host_input)
      : exec_(exec), graph_(graph), plan_(plan), host_input_(host_input), devices_(count_devices(plan)) {
    for (OpId v = 0; v < exec.num_ops; ++v) {
      if (is_host_input(v)) continue;
      for (const OpId t : exec.predecessors(v)) {
        ++remaining_[key(t, plan.device[v])];
        if (!is_host_input(t) && plan.device[t] != plan.device[v]) ++remaining_[key(t, plan.device[t])];
      }
    }
  }

  double growth(OpId v) const {
    const DeviceId d = plan_.device[v];
    double grow = graph_.op(v).output_bytes;
    for (const OpId t : exec_.predecessors(v)) {
      const double bytes = graph_.op(t).output_bytes;
      if (!present_.contains(key(t, d))) grow += bytes;
      const auto left = remaining_.find(key(t, d));
      if (left != remaining_.end() && left->second == 1) grow -= bytes;
    }
    return grow;
  }

  void place(OpId v) {
    const DeviceId d = plan_.device[v];
    mark_present(key(v, d));
    for (const OpId t : exec_.predecessors(v)) {
      mark_present(key(t, d));
      consume(key(t, d));
      if (!is_host_input(t) && plan_.device[t] != d) consume(key(t, plan_.device[t]));
    }
  }

  // growth(v) + the least growth of a successor that v's run makes ready (`waiting`: unplaced
  // inputs per op), or growth(v) when it readies none: how low memory can get within two steps.
  double lookahead_growth(OpId v, const std::vector<std::uint32_t>& waiting) {
    const double first = growth(v);
    std::optional<double> second;
    journal_.clear();
    place(v);
    for (const OpId s : exec_.successors(v)) {
      if (waiting[s] != 1) continue;
      const double g = growth(s);
      if (!second || g < *second) second = g;
    }
    undo();
    return second ? first + *second : first;
  }

 private:
  static std::size_t count_devices(const Plan& plan) {
    DeviceId most = 0;
    for (const DeviceId d : plan.device) most = std::max(most, d);
    return static_cast<std::size_t>(most) + 1;
  }
  // One change of place(), undone by undo(): the key's remaining count and presence before it.
  struct Change {
    std::uint64_t key;
    std::uint32_t remaining;
    bool present;
  };
  void remember(std::uint64_t k) {
    const auto left = remaining_.find(k);
    journal_.push_back({k, left == remaining_.end() ? 0u : left->second, present_.contains(k)});
  }
  void mark_present(std::uint64_t k) {
    remember(k);
    present_.insert(k);
  }
  void consume(std::uint64_t k) {
    remember(k);
    if (--remaining_[k] == 0) present_.erase(k);
  }
  void undo() {
    for (auto c = journal_.rbegin(); c != journal_.rend(); ++c) {
      remaining_[c->key] = c->remaining;
      if (c->present) {
        present_.insert(c->key);
      } else {
        present_.erase(c->key);
      }
    }
    journal_.clear();
  }
  bool is_host_input(OpId v) const { return !host_input_.empty() && host_input_[v]; }
  std::uint64_t key(OpId t, DeviceId d) const { return static_cast<std::uint64_t>(t) * devices_ + d; }

  const ExecGraph& exec_;
  const TaskGraph& graph_;
  const Plan& plan_;
  const std::vector<bool>& host_input_;
  std::size_t devices_;
  std::unordered_map<std::uint64_t, std::uint32_t> remaining_;
  std::set<std::uint64_t> present_;
  std::vector<Change> journal_;
};

}  // namespace

CompileOrder parse_compile_order(const std::string& name) {
  if (name == "plan") return CompileOrder::kPlan;
  if (name == "min_growth") return CompileOrder::kMinGrowth;
  if (name == "lookahead") return CompileOrder::kLookahead;
  throw Error("unknown compile order '" + name + "' (known: plan, min_growth, lookahead)");
}

const char* compile_order_name(CompileOrder order) {
  switch (order) {
    case CompileOrder::kPlan:
      return "plan";
    case CompileOrder::kMinGrowth:
      return "min_growth";
    default:
      return "lookahead";
  }
}

std::vector<OpId> compile_order(const TaskGraph& graph, const Plan& plan, const std::vector<bool>& host_input,
                                CompileOrder heuristic) {
  const ExecGraph exec = ExecGraph::from(graph);
  const auto is_host_input = [&host_input](OpId v) { return !host_input.empty() && host_input[v]; };
  std::vector<std::uint32_t> kahn_rank(exec.num_ops);
  for (std::uint32_t i = 0; i < exec.topo.size(); ++i) kahn_rank[exec.topo[i]] = i;
  using Key = std::tuple<double, double, std::uint32_t>;  // growth (min_growth only), priority, Kahn rank
  const auto key_of = [&](OpId v, double growth) {
    return Key{growth, plan.has_priority() ? plan.priority[v] : 0.0, kahn_rank[v]};
  };

  std::vector<std::uint32_t> waiting(exec.num_ops);
  std::vector<OpId> ready;
  for (OpId v = 0; v < exec.num_ops; ++v) {
    waiting[v] = exec.in_degree(v);
    if (waiting[v] == 0 && !is_host_input(v)) ready.push_back(v);
  }
  for (OpId v = 0; v < exec.num_ops; ++v) {
    if (!is_host_input(v)) continue;
    for (const OpId s : exec.successors(v)) {
      if (--waiting[s] == 0) ready.push_back(s);
    }
  }
  GrowthModel model(exec, graph, plan, host_input);
  const auto growth_of = [&](OpId v) {
    switch (heuristic) {
      case CompileOrder::kMinGrowth:
        return model.growth(v);
      case CompileOrder::kLookahead:
        return model.lookahead_growth(v, waiting);
      default:
        return 0.0;
    }
  };
  std::vector<OpId> order;
  while (!ready.empty()) {
    std::size_t best = 0;
    Key best_key = key_of(ready[0], growth_of(ready[0]));
    for (std::size_t i = 1; i < ready.size(); ++i) {
      const Key k = key_of(ready[i], growth_of(ready[i]));
      if (k < best_key) {
        best_key = k;
        best = i;
      }
    }
    const OpId v = ready[best];
    ready[best] = ready.back();
    ready.pop_back();
    order.push_back(v);
    if (heuristic != CompileOrder::kPlan) model.place(v);
    for (const OpId s : exec.successors(v)) {
      if (--waiting[s] == 0) ready.push_back(s);
    }
  }
  return order;
}

}  // namespace doppler::memory
