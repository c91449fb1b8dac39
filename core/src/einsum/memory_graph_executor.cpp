#include "doppler/einsum/memory_graph_executor.hpp"

#include <algorithm>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>

#include "doppler/trace.hpp"

namespace doppler::einsum {
namespace {

using memory::MemNode;
using memory::MemNodeId;
using memory::MemNodeKind;
using memory::MemRegion;

template <typename T>
class MemoryGraphRunner {
 public:
  MemoryGraphRunner(const EinsumGraph& graph, const LoweredGraph& lowered, const memory::MemoryGraph& mg)
      : graph_(graph), lowered_(lowered), mg_(mg), elements_(lowered.tasks.size(), 0) {
    arenas_.assign(mg.num_devices, std::vector<T>(mg.budget, poison()));
    arenas_.emplace_back(mg.host_arena_bytes, poison());
  }

  std::vector<std::vector<T>> run(const ReferenceOptions& values, std::uint64_t order_seed) {
    std::vector<std::vector<T>> inputs(graph_.num_tensors());
    for (const memory::MemPlacement& placed : mg_.host_inputs) {
      const TaskInfo& task = lowered_.tasks[placed.tensor];
      if (task.role != TaskRole::kLoad) throw std::logic_error("a host input that is not a load task");
      if (inputs[task.tensor].empty())
        inputs[task.tensor] = lowered_input_values<T>(graph_, task.tensor, values);
      const std::vector<T>* whole = &inputs[task.tensor];
      write(placed.region, placed.tensor, run_lowered_task<T>(graph_, lowered_, placed.tensor, {&whole, 1}));
    }
    for (const MemNodeId id : node_order(order_seed)) execute(mg_.nodes[id]);
    std::vector<std::vector<T>> blocks(lowered_.tasks.size());
    for (const memory::MemPlacement& kept : mg_.outputs) blocks[kept.tensor] = read(kept.region, kept.tensor);
    std::vector<std::vector<T>> out(graph_.num_tensors());
    for (TensorId t = 0; t < graph_.num_tensors(); ++t) {
      if (graph_.tensor(t).kind != TensorKind::kOutput) continue;
      std::vector<const std::vector<T>*> parts;
      for (const OpId task : lowered_.tensors[t].tasks) parts.push_back(&blocks[task]);
      out[t] = assemble_tensor<T>(graph_, lowered_, t, parts);
    }
    return out;
  }

 private:
  static T poison() { return std::numeric_limits<T>::quiet_NaN(); }
  std::vector<T>& arena(DeviceId d) { return arenas_[d == kHostDevice ? mg_.num_devices : d]; }

  std::vector<MemNodeId> node_order(std::uint64_t seed) const {
    std::vector<MemNodeId> order;
    if (seed == 0) {
      for (MemNodeId id = 0; id < mg_.nodes.size(); ++id) order.push_back(id);
      return order;
    }
    std::vector<std::uint32_t> waiting(mg_.nodes.size());
    std::vector<std::vector<MemNodeId>> dependents(mg_.nodes.size());
    std::vector<MemNodeId> ready;
    for (MemNodeId id = 0; id < mg_.nodes.size(); ++id) {
      waiting[id] = static_cast<std::uint32_t>(mg_.nodes[id].deps.size());
      for (const MemNodeId dep : mg_.nodes[id].deps) dependents[dep].push_back(id);
      if (waiting[id] == 0) ready.push_back(id);
    }
    std::mt19937_64 rng(seed);
    while (!ready.empty()) {
      const std::size_t k = rng() % ready.size();
      const MemNodeId id = ready[k];
      ready[k] = ready.back();
      ready.pop_back();
      order.push_back(id);
      for (const MemNodeId next : dependents[id])
        if (--waiting[next] == 0) ready.push_back(next);
    }
    return order;
  }

  void fill(const MemRegion& r) {
    std::fill_n(arena(r.device).begin() + static_cast<long>(r.offset), r.size, poison());
  }

  void write(const MemRegion& r, OpId task, const std::vector<T>& block) {
    if (block.size() > r.size) throw std::logic_error("a block larger than its region");
    elements_[task] = block.size();
    std::copy(block.begin(), block.end(), arena(r.device).begin() + static_cast<long>(r.offset));
  }
  std::vector<T> read(const MemRegion& r, OpId task) {
    const auto begin = arena(r.device).begin() + static_cast<long>(r.offset);
    return std::vector<T>(begin, begin + static_cast<long>(elements_[task]));
  }

  void execute(const MemNode& node) {
    switch (node.kind) {
      case MemNodeKind::kAlloc:
      case MemNodeKind::kFree:
        fill(node.region);
        return;
      case MemNodeKind::kCopy:
      case MemNodeKind::kLoad:
        write(node.region, node.tensor, read(node.source, node.tensor));
        return;
      case MemNodeKind::kEvict:
        write(node.source, node.tensor, read(node.region, node.tensor));
        fill(node.region);
        return;
      case MemNodeKind::kOp:
        break;
    }
    const TaskInfo& task = lowered_.tasks[node.tensor];
    std::vector<std::vector<T>> blocks;
    blocks.reserve(task.inputs.size());
    for (const OpId in : task.inputs) {
      const auto operand = std::find_if(node.operands.begin(), node.operands.end(),
                                        [in](const memory::MemOperand& o) { return o.tensor == in; });
      if (operand == node.operands.end()) throw std::logic_error("an op node lacks an operand");
      blocks.push_back(read(operand->region, in));
    }
    std::vector<const std::vector<T>*> inputs;
    for (const std::vector<T>& block : blocks) inputs.push_back(&block);
    write(node.region, node.tensor, run_lowered_task<T>(graph_, lowered_, node.tensor, inputs));
  }

  const EinsumGraph& graph_;
  const LoweredGraph& lowered_;
  const memory::MemoryGraph& mg_;
  std::vector<std::vector<T>> arenas_;  // devices, then the host
  std::vector<std::size_t> elements_;   // per task: elements of its block
};

}  // namespace

std::vector<bool> load_tasks(const LoweredGraph& lowered) {
  std::vector<bool> loads(lowered.tasks.size(), false);
  for (std::size_t i = 0; i < lowered.tasks.size(); ++i) loads[i] = lowered.tasks[i].role == TaskRole::kLoad;
  return loads;
}

std::vector<bool> output_blocks(const EinsumGraph& graph, const LoweredGraph& lowered) {
  std::vector<bool> keep(lowered.tasks.size(), false);
  for (TensorId t = 0; t < graph.num_tensors(); ++t) {
    if (graph.tensor(t).kind != TensorKind::kOutput) continue;
    for (const OpId task : lowered.tensors[t].tasks) keep[task] = true;
  }
  return keep;
}

template <typename T>
std::vector<std::vector<T>> run_memory_graph_on_cpu(const EinsumGraph& graph, const LoweredGraph& lowered,
                                                    const memory::MemoryGraph& memory_graph,
                                                    const ReferenceOptions& values,
                                                    std::uint64_t order_seed) {
  return MemoryGraphRunner<T>(graph, lowered, memory_graph).run(values, order_seed);
}

template std::vector<std::vector<double>> run_memory_graph_on_cpu<double>(const EinsumGraph&,
                                                                          const LoweredGraph&,
                                                                          const memory::MemoryGraph&,
                                                                          const ReferenceOptions&,
                                                                          std::uint64_t);
template std::vector<std::vector<float>> run_memory_graph_on_cpu<float>(const EinsumGraph&,
                                                                        const LoweredGraph&,
                                                                        const memory::MemoryGraph&,
                                                                        const ReferenceOptions&,
                                                                        std::uint64_t);

}  // namespace doppler::einsum
