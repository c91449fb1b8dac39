#include "doppler/einsum/lowering.hpp"

#include <algorithm>
#include <map>
#include <string>
#include <utility>

#include "doppler/einsum/einsum_builder.hpp"
#include "doppler/error.hpp"

namespace doppler::einsum {
namespace {

std::string block_label(std::string_view letters, const std::vector<int>& tuple) {
  std::string s = "[";
  for (std::size_t d = 0; d < tuple.size(); ++d) {
    if (d > 0) s += ',';
    s += letters[d];
    s += std::to_string(tuple[d]);
  }
  return s + "]";
}

std::string grid_label(const std::vector<int>& grid) {
  std::string s;
  for (std::size_t d = 0; d < grid.size(); ++d) s += (d > 0 ? "x" : "") + std::to_string(grid[d]);
  return s.empty() ? "1" : s;
}

// Letters naming a tensor's dims: its producer's output indices, else "i", "ij", ...
std::string tensor_letters(const EinsumGraph& graph, TensorId t) {
  const Tensor& tensor = graph.tensor(t);
  if (tensor.producer != kNoProducer) return graph.op(tensor.producer).spec.output;
  return index_letters(tensor.dims.size());
}

Op task_op(std::string name, std::string kind, double flops, double read, double written, double output) {
  Op op;
  op.name = std::move(name);
  op.kind = std::move(kind);
  op.flops = flops;
  op.bytes_read = read;
  op.bytes_written = written;
  op.output_bytes = output;
  return op;
}

class Lowerer {
 public:
  Lowerer(const EinsumGraph& graph, const std::vector<Partition>& partitions, int fan_in)
      : graph_(graph), partitions_(partitions), fan_in_(fan_in) {
    out_.tensors.resize(graph.num_tensors());
  }

  LoweredGraph run() {
    for (const EinsumOpId o : graph_.topological_order()) lower_op(o);
    return std::move(out_);
  }

 private:
  double bytes_of(TensorId t, std::int64_t elements) const {
    return static_cast<double>(elements) * dtype_bytes(graph_.tensor(t).dtype);
  }

  OpId add_task(Op op, TaskInfo info) {
    const OpId id = out_.graph.add_op(std::move(op));
    for (const OpId in : info.inputs) out_.graph.add_edge(in, id);
    out_.tasks.push_back(std::move(info));
    return id;
  }

  // The tasks holding every block of tensor `t` split by `grid`, made on first request.
  const std::vector<OpId>& blocks_for(TensorId t, const std::vector<int>& grid) {
    const auto key = std::make_pair(t, grid);
    const auto found = available_.find(key);
    if (found != available_.end()) return found->second;
    std::vector<OpId> tasks;
    const std::int64_t n = block_count(grid);
    tasks.reserve(static_cast<std::size_t>(n));
    for (std::int64_t b = 0; b < n; ++b) tasks.push_back(make_block(t, grid, block_tuple(grid, b)));
    return available_.emplace(key, std::move(tasks)).first->second;
  }

  OpId make_block(TensorId t, const std::vector<int>& grid, const std::vector<int>& tuple) {
    const Tensor& tensor = graph_.tensor(t);
    TaskInfo info{TaskRole::kLoad, kNoProducer, t, tuple, block_ranges(tensor.dims, grid, tuple), {}};
    const double bytes = bytes_of(t, elements_of(info.ranges));
    const bool load = tensor.producer == kNoProducer;
    const std::string name = tensor.name + (load ? ".load." : ".repart.") + grid_label(grid) +
                             block_label(tensor_letters(graph_, t), tuple);
    if (load) return add_task(task_op(name, "load", 0, 0, 0, bytes), std::move(info));
    info.role = TaskRole::kRepartition;
    info.inputs = overlapping_blocks(t, info.ranges);
    return add_task(task_op(name, "repartition", 0, bytes, bytes, bytes), std::move(info));
  }

  // The producer's final blocks of `t` that overlap `ranges`.
  std::vector<OpId> overlapping_blocks(TensorId t, const std::vector<Range>& ranges) const {
    const TensorBlocks& src = out_.tensors[t];
    const std::vector<std::int64_t>& dims = graph_.tensor(t).dims;
    std::vector<int> first(dims.size()), last(dims.size());
    for (std::size_t d = 0; d < dims.size(); ++d) {
      const std::int64_t size = block_range(dims[d], src.grid[d], 0).size();
      first[d] = static_cast<int>(ranges[d].begin / size);
      last[d] = static_cast<int>((ranges[d].end - 1) / size);
    }
    std::vector<OpId> tasks;
    std::vector<int> tuple = first;
    while (true) {
      tasks.push_back(src.tasks[static_cast<std::size_t>(block_linear(src.grid, tuple))]);
      std::size_t d = dims.size();
      while (d > 0 && tuple[d - 1] == last[d - 1]) {
        tuple[d - 1] = first[d - 1];
        --d;
      }
      if (d == 0) return tasks;
      ++tuple[d - 1];
    }
  }

  void lower_op(EinsumOpId o) {
    const EinsumOp& op = graph_.op(o);
    const Partition& p = partitions_[o];
    validate_partition(graph_, o, p);
    const std::string all = op.spec.all_indices();
    const std::vector<int> grid = grid_of(p, all);
    std::vector<const std::vector<OpId>*> operands;
    for (std::size_t k = 0; k < op.inputs.size(); ++k) {
      operands.push_back(&blocks_for(op.inputs[k], grid_of(p, op.spec.inputs[k])));
    }
    const std::vector<int> out_grid = grid_of(p, op.spec.output);
    const std::int64_t partials = block_count(grid) / block_count(out_grid);
    TensorBlocks& result = out_.tensors[op.output];
    result.grid = out_grid;
    std::vector<OpId> joins;
    for (std::int64_t j = 0; j < block_count(grid); ++j) {
      joins.push_back(add_join(o, all, grid, block_tuple(grid, j), operands));
      if (static_cast<std::int64_t>(joins.size()) == partials) {
        result.tasks.push_back(partials == 1 ? joins[0] : aggregate_tree(o, joins));
        joins.clear();
      }
    }
    available_.emplace(std::make_pair(op.output, out_grid), result.tasks);
  }

  OpId add_join(EinsumOpId o, const std::string& all, const std::vector<int>& grid,
                const std::vector<int>& tuple, const std::vector<const std::vector<OpId>*>& operands) {
    const EinsumOp& op = graph_.op(o);
    TaskInfo info{TaskRole::kJoin, o, op.output, tuple, {}, {}};
    for (std::size_t d = 0; d < all.size(); ++d) {
      info.ranges.push_back(block_range(index_size(op.sizes, all[d]), grid[d], tuple[d]));
    }
    double read = 0;
    for (std::size_t k = 0; k < op.inputs.size(); ++k) {
      const std::string& letters = op.spec.inputs[k];
      std::vector<int> in_grid, in_tuple;
      std::int64_t elements = 1;
      for (const char c : letters) {
        const std::size_t d = all.find(c);
        in_grid.push_back(grid[d]);
        in_tuple.push_back(tuple[d]);
        elements *= info.ranges[d].size();
      }
      info.inputs.push_back((*operands[k])[static_cast<std::size_t>(block_linear(in_grid, in_tuple))]);
      read += bytes_of(op.inputs[k], elements);
    }
    std::int64_t out_elements = 1;
    for (std::size_t d = 0; d < op.spec.output.size(); ++d) out_elements *= info.ranges[d].size();
    const double written = bytes_of(op.output, out_elements);
    const std::string name = op.name + block_label(all, tuple);
    if (op.is_structural()) {
      return add_task(task_op(name, std::string(op_kind_name(op.kind)), 0, written, written, written),
                      std::move(info));
    }
    const double elements = static_cast<double>(elements_of(info.ranges));
    if (op.is_row_op()) {
      return add_task(task_op(name, std::string(op_kind_name(op.kind)), elements * row_op_cost(op.kind), read,
                              written, written),
                      std::move(info));
    }
    const double flops = elements * std::max(1, op.spec.join.cost());
    return add_task(task_op(name, "join", flops, read, written, written), std::move(info));
  }

  // The partials combined by one aggregate, or by a tree of aggregates of at most fan_in_ inputs.
  OpId aggregate_tree(EinsumOpId o, std::vector<OpId> partials) {
    const std::size_t fan_in = fan_in_ >= 2 ? static_cast<std::size_t>(fan_in_) : partials.size();
    for (int level = 1; partials.size() > fan_in; ++level) {
      std::vector<OpId> next;
      for (std::size_t i = 0; i < partials.size(); i += fan_in) {
        const std::size_t end = std::min(partials.size(), i + fan_in);
        if (end - i == 1) {
          next.push_back(partials[i]);
          continue;
        }
        const std::string label = std::to_string(level) + "_" + std::to_string(next.size());
        next.push_back(add_aggregate(o,
                                     {partials.begin() + static_cast<std::ptrdiff_t>(i),
                                      partials.begin() + static_cast<std::ptrdiff_t>(end)},
                                     label));
      }
      partials = std::move(next);
    }
    return add_aggregate(o, partials, "");
  }

  OpId add_aggregate(EinsumOpId o, const std::vector<OpId>& partials, const std::string& level) {
    const EinsumOp& op = graph_.op(o);
    const TaskInfo& first = out_.tasks[partials.front()];
    const std::size_t rank = op.spec.output.size();
    TaskInfo info{TaskRole::kAggregate,
                  o,
                  op.output,
                  {first.block.begin(), first.block.begin() + static_cast<std::ptrdiff_t>(rank)},
                  {first.ranges.begin(), first.ranges.begin() + static_cast<std::ptrdiff_t>(rank)},
                  partials};
    const std::int64_t elements = elements_of(info.ranges);
    const double bytes = bytes_of(op.output, elements);
    const double k = static_cast<double>(partials.size());
    const std::string name = op.name + ".agg" + level + block_label(op.spec.output, info.block);
    const double flops = static_cast<double>(elements) * (k - 1);
    return add_task(task_op(name, "aggregate", flops, k * bytes, bytes, bytes), std::move(info));
  }

  const EinsumGraph& graph_;
  const std::vector<Partition>& partitions_;
  int fan_in_ = 0;
  LoweredGraph out_;
  std::map<std::pair<TensorId, std::vector<int>>, std::vector<OpId>> available_;
};

}  // namespace

std::string_view task_role_name(TaskRole role) {
  switch (role) {
    case TaskRole::kLoad:
      return "load";
    case TaskRole::kJoin:
      return "join";
    case TaskRole::kAggregate:
      return "aggregate";
    case TaskRole::kRepartition:
      return "repartition";
  }
  return "?";
}

LoweredGraph lower(const EinsumGraph& graph, const std::vector<Partition>& partitions, int aggregate_fan_in) {
  if (partitions.size() != graph.num_ops()) {
    throw Error("lower: " + std::to_string(partitions.size()) + " partitions for " +
                std::to_string(graph.num_ops()) + " einsum ops");
  }
  if (aggregate_fan_in < 0 || aggregate_fan_in == 1)
    throw Error("lower: aggregate fan-in " + std::to_string(aggregate_fan_in) +
                " (0 = unlimited, else >= 2)");
  return Lowerer(graph, partitions, aggregate_fan_in).run();
}

}  // namespace doppler::einsum
