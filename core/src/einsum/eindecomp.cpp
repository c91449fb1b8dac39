// The EinDecomp search: per-op candidates, then dynamic programming over the graph cut into trees.
#include <algorithm>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "decomposition_methods.hpp"

namespace doppler::einsum {
namespace {

struct Candidate {
  Partition partition;
  double local = 0;           // replication + aggregation of the op itself
  std::vector<int> out_grid;  // the output tensor's grid
};

int ceil_log2(int n) {
  int e = 0;
  while ((1 << e) < n) ++e;
  return e;
}

// Every power-of-two split of the op's splittable indices whose exponents sum to lo..hi, or to the
// largest sum the op allows when that is below lo. Enumeration order: earlier letters get more
// blocks first (the tie-break among equal costs).
std::vector<Partition> candidate_partitions(const EinsumGraph& graph, EinsumOpId o, int lo, int hi) {
  const EinsumOp& op = graph.op(o);
  std::vector<char> letters;
  std::vector<int> top;
  for (const char c : splittable_indices(graph, o)) {
    const int blocks = max_blocks(index_size(op.sizes, c), 1 << hi);
    if (blocks > 1) {
      letters.push_back(c);
      top.push_back(ceil_log2(blocks));
    }
  }
  std::vector<std::pair<Partition, int>> all;  // partition, exponent sum
  std::vector<int> exponents(letters.size(), 0);
  const auto visit = [&](auto&& self, std::size_t i, int sum) -> void {
    if (i == letters.size()) {
      Partition p;
      for (std::size_t l = 0; l < letters.size(); ++l) {
        if (exponents[l] > 0) p.set(letters[l], 1 << exponents[l]);
      }
      all.emplace_back(p, sum);
      return;
    }
    const std::int64_t n = index_size(op.sizes, letters[i]);
    for (int e = std::min(top[i], hi - sum); e >= 0; --e) {
      if (block_range(n, 1 << e, (1 << e) - 1).size() <= 0) continue;
      exponents[i] = e;
      self(self, i + 1, sum + e);
    }
  };
  visit(visit, 0, 0);
  int reach = 0;
  for (const auto& [p, sum] : all) reach = std::max(reach, sum);
  const int floor = std::min(lo, reach);
  std::vector<Partition> kept;
  for (const auto& [p, sum] : all) {
    if (sum >= floor) kept.push_back(p);
  }
  return kept;
}

class TreeSearch {
 public:
  TreeSearch(const EinsumGraph& graph, const DecomposeOptions& options) : graph_(graph) {
    const int n = std::max(1, options.devices);
    int lo = ceil_log2(n);
    if ((1 << lo) > n) --lo;
    int hi = ceil_log2(n);
    if (options.wide_search) {
      lo = std::max(0, lo - 1);
      hi += 2;
    }
    lo_ = lo;
    hi_ = hi;
    max_candidates_ = static_cast<std::size_t>(std::max(1, options.max_candidates));
    std::vector<int> uses(graph.num_tensors(), 0);
    for (const EinsumOp& op : graph.ops()) {
      for (const TensorId t : op.inputs) ++uses[t];
    }
    in_tree_.assign(graph.num_ops(), false);
    for (EinsumOpId o = 0; o < graph.num_ops(); ++o) {
      const TensorId out = graph.op(o).output;
      in_tree_[o] = uses[out] == 1 && graph.tensor(out).kind != TensorKind::kOutput;
    }
  }

  // Pass 1 solves the trees in order, each root blind to its later consumers. Later passes charge
  // a root's candidates the repartitions its consumers' grids of the previous pass would need,
  // and the cheapest solution of all passes is kept.
  std::vector<Partition> run() {
    const std::size_t n = graph_.num_ops();
    candidates_.resize(n);
    for (EinsumOpId o = 0; o < n; ++o) make_candidates(o);
    hints_.assign(n, {});
    std::vector<Partition> best_solution;
    double best_cost = std::numeric_limits<double>::infinity();
    for (int pass = 0; pass < kMaxPasses; ++pass) {
      const std::vector<Partition> solution = solve_all();
      const double cost = decomposition_cost(graph_, solution).total();
      if (!(cost < best_cost)) break;
      best_cost = cost;
      best_solution = solution;
      record_hints(solution);
    }
    return best_solution;
  }

 private:
  static constexpr int kMaxPasses = 4;

  std::vector<Partition> solve_all() {
    const std::size_t n = graph_.num_ops();
    best_.assign(n, {});
    by_grid_.assign(n, {});
    min_best_.assign(n, 0);
    chosen_.assign(n, 0);
    for (EinsumOpId o = 0; o < n; ++o) {
      solve(o);
      if (!in_tree_[o]) fix_tree(o);
    }
    std::vector<Partition> partitions(n);
    for (EinsumOpId o = 0; o < n; ++o) partitions[o] = candidates_[o][chosen_[o]].partition;
    return partitions;
  }

  // The grid each use of a root's output was read in by `solution`.
  void record_hints(const std::vector<Partition>& solution) {
    for (auto& h : hints_) h.clear();
    for (EinsumOpId c = 0; c < graph_.num_ops(); ++c) {
      const EinsumOp& op = graph_.op(c);
      for (std::size_t k = 0; k < op.inputs.size(); ++k) {
        const EinsumOpId r = graph_.tensor(op.inputs[k]).producer;
        if (r != kNoProducer && !in_tree_[r]) hints_[r].push_back(grid_of(solution[c], op.spec.inputs[k]));
      }
    }
  }

  void make_candidates(EinsumOpId o) {
    std::vector<Candidate> all;
    for (const Partition& p : candidate_partitions(graph_, o, lo_, hi_)) {
      all.push_back({p, op_cost(graph_, o, p).total(), grid_of(p, graph_.op(o).spec.output)});
    }
    std::stable_sort(all.begin(), all.end(),
                     [](const Candidate& a, const Candidate& b) { return a.local < b.local; });
    if (all.size() > max_candidates_) all.resize(max_candidates_);
    candidates_[o] = std::move(all);
  }

  // Cheapest way for operand k's producer to deliver its tensor in `needed`.
  double edge_cost(TensorId t, const std::vector<int>& needed) const {
    const Tensor& tensor = graph_.tensor(t);
    if (tensor.producer == kNoProducer) return 0;
    const double moved = static_cast<double>(tensor.elements());
    const EinsumOpId q = tensor.producer;
    if (!in_tree_[q]) return candidates_[q][chosen_[q]].out_grid == needed ? 0 : moved;
    const auto found = by_grid_[q].find(needed);
    const double exact = found == by_grid_[q].end() ? std::numeric_limits<double>::infinity() : found->second;
    return std::min(exact, min_best_[q] + moved);
  }

  void solve(EinsumOpId o) {
    const EinsumOp& op = graph_.op(o);
    std::vector<double>& best = best_[o];
    best.clear();
    for (const Candidate& c : candidates_[o]) {
      double total = c.local;
      for (std::size_t k = 0; k < op.inputs.size(); ++k) {
        total += edge_cost(op.inputs[k], grid_of(c.partition, op.spec.inputs[k]));
      }
      if (!in_tree_[o]) {
        const double moved = static_cast<double>(graph_.tensor(op.output).elements());
        for (const std::vector<int>& hint : hints_[o]) total += c.out_grid == hint ? 0 : moved;
      }
      best.push_back(total);
    }
    if (!in_tree_[o]) return;
    min_best_[o] = *std::min_element(best.begin(), best.end());
    for (std::size_t i = 0; i < best.size(); ++i) {
      const auto [it, fresh] = by_grid_[o].emplace(candidates_[o][i].out_grid, best[i]);
      if (!fresh) it->second = std::min(it->second, best[i]);
    }
  }

  // Chooses the root's cheapest candidate, then walks its tree choosing each child's candidate
  // that delivers what its (already chosen) consumer needs most cheaply.
  void fix_tree(EinsumOpId root) {
    const std::vector<double>& best = best_[root];
    chosen_[root] = static_cast<std::size_t>(std::min_element(best.begin(), best.end()) - best.begin());
    std::vector<EinsumOpId> stack{root};
    while (!stack.empty()) {
      const EinsumOpId o = stack.back();
      stack.pop_back();
      const EinsumOp& op = graph_.op(o);
      const Partition& p = candidates_[o][chosen_[o]].partition;
      for (std::size_t k = 0; k < op.inputs.size(); ++k) {
        const Tensor& tensor = graph_.tensor(op.inputs[k]);
        if (tensor.producer == kNoProducer || !in_tree_[tensor.producer]) continue;
        const EinsumOpId q = tensor.producer;
        const std::vector<int> needed = grid_of(p, op.spec.inputs[k]);
        const double moved = static_cast<double>(tensor.elements());
        double cheapest = std::numeric_limits<double>::infinity();
        for (std::size_t j = 0; j < candidates_[q].size(); ++j) {
          const double cost = best_[q][j] + (candidates_[q][j].out_grid == needed ? 0 : moved);
          if (cost < cheapest) {
            cheapest = cost;
            chosen_[q] = j;
          }
        }
        stack.push_back(q);
      }
    }
  }

  const EinsumGraph& graph_;
  int lo_ = 0;
  int hi_ = 0;
  std::size_t max_candidates_ = 1;
  std::vector<bool> in_tree_;
  std::vector<std::vector<Candidate>> candidates_;
  std::vector<std::vector<double>> best_;
  std::vector<std::map<std::vector<int>, double>> by_grid_;
  std::vector<double> min_best_;
  std::vector<std::vector<std::vector<int>>> hints_;  // per root: its consumers' grids last pass
  std::vector<std::size_t> chosen_;
};

}  // namespace

int max_blocks(std::int64_t n, int limit) {
  int k = 1;
  while (2 * k <= limit && 2 * k <= n && block_range(n, 2 * k, 2 * k - 1).size() > 0) k *= 2;
  return k;
}

std::vector<Partition> eindecomp_partitions(const EinsumGraph& graph, const DecomposeOptions& options) {
  return TreeSearch(graph, options).run();
}

}  // namespace doppler::einsum
