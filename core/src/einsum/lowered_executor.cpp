// The CPU executor of a LoweredGraph (declared in lowering.hpp): block buffers per task.
#include <algorithm>
#include <span>
#include <string>

#include "doppler/einsum/lowering.hpp"
#include "doppler/error.hpp"

namespace doppler::einsum {
namespace {

std::vector<std::int64_t> row_strides(std::span<const Range> box) {
  std::vector<std::int64_t> strides(box.size(), 1);
  for (std::size_t d = box.size(); d-- > 1;) strides[d - 1] = strides[d] * box[d].size();
  return strides;
}

// Copies the intersection of the boxes `src_box` and `dst_box` (global coordinates of one tensor)
// from `src` (laid out over src_box) into `dst` (laid out over dst_box). A join's ranges are over
// all its letters; its output block is the prefix of the output's rank, so `src_box` may be longer.
template <typename T>
void copy_box(const std::vector<T>& src, std::span<const Range> src_box, std::vector<T>& dst,
              std::span<const Range> dst_box) {
  src_box = src_box.first(dst_box.size());
  const std::size_t dims = src_box.size();
  if (dims == 0) {
    dst[0] = src[0];
    return;
  }
  std::vector<Range> box(dims);
  for (std::size_t d = 0; d < dims; ++d) {
    box[d] = Range{std::max(src_box[d].begin, dst_box[d].begin), std::min(src_box[d].end, dst_box[d].end)};
    if (box[d].size() <= 0) return;
  }
  const std::vector<std::int64_t> ss = row_strides(src_box), ds = row_strides(dst_box);
  std::vector<std::int64_t> at(dims);
  for (std::size_t d = 0; d < dims; ++d) at[d] = box[d].begin;
  const std::int64_t run = box[dims - 1].size();
  while (true) {
    std::int64_t so = 0, doff = 0;
    for (std::size_t d = 0; d < dims; ++d) {
      so += (at[d] - src_box[d].begin) * ss[d];
      doff += (at[d] - dst_box[d].begin) * ds[d];
    }
    std::copy_n(src.begin() + so, run, dst.begin() + doff);
    std::size_t d = dims - 1;
    while (d > 0 && at[d - 1] + 1 == box[d - 1].end) {
      at[d - 1] = box[d - 1].begin;
      --d;
    }
    if (d == 0) return;
    ++at[d - 1];
  }
}

template <typename T>
T combine(Agg agg, T x, T y) {
  switch (agg) {
    case Agg::kSum:
      return x + y;
    case Agg::kProd:
      return x * y;
    case Agg::kMax:
      return y > x ? y : x;
    case Agg::kMin:
      return y < x ? y : x;
  }
  return x;
}

std::vector<Range> whole(const std::vector<std::int64_t>& dims) {
  std::vector<Range> box;
  for (const std::int64_t n : dims) box.push_back(Range{0, n});
  return box;
}

template <typename T>
using Blocks = std::span<const std::vector<T>* const>;

template <typename T>
std::vector<T> join(const EinsumGraph& graph, const TaskInfo& task, Blocks<T> blocks) {
  const EinsumOp& op = graph.op(task.op);
  const std::string all = op.spec.all_indices();
  IndexSizes sizes{};
  for (std::size_t d = 0; d < all.size(); ++d) index_size(sizes, all[d]) = task.ranges[d].size();
  std::vector<std::vector<T>> inputs;
  inputs.reserve(blocks.size());
  for (const std::vector<T>* block : blocks) inputs.push_back(*block);
  return evaluate_op<T>(op, sizes, inputs);
}

template <typename T>
std::vector<T> aggregate(const EinsumGraph& graph, const TaskInfo& task, Blocks<T> blocks) {
  const Agg agg = graph.op(task.op).spec.agg;
  std::vector<T> out = *blocks.front();
  for (std::size_t k = 1; k < blocks.size(); ++k) {
    const std::vector<T>& part = *blocks[k];
    for (std::size_t e = 0; e < out.size(); ++e) out[e] = combine(agg, out[e], part[e]);
  }
  return out;
}

template <typename T>
std::vector<T> repartition(const LoweredGraph& lowered, const TaskInfo& task, Blocks<T> blocks) {
  std::vector<T> out(static_cast<std::size_t>(elements_of(task.ranges)));
  for (std::size_t k = 0; k < blocks.size(); ++k)
    copy_box(*blocks[k], lowered.tasks[task.inputs[k]].ranges, out, task.ranges);
  return out;
}

template <typename T>
class LoweredRunner {
 public:
  LoweredRunner(const EinsumGraph& graph, const LoweredGraph& lowered, const ReferenceOptions& options)
      : graph_(graph), lowered_(lowered), values_(graph.num_tensors()), blocks_(lowered.tasks.size()) {
    set_inputs(options);
  }

  std::vector<std::vector<T>> run() {
    std::vector<const std::vector<T>*> inputs;
    for (const OpId id : lowered_.graph.topological_order()) {
      const TaskInfo& task = lowered_.tasks[id];
      inputs.clear();
      if (task.role == TaskRole::kLoad) inputs.push_back(&values_[task.tensor]);
      for (const OpId in : task.inputs) inputs.push_back(&blocks_[in]);
      blocks_[id] = run_lowered_task<T>(graph_, lowered_, id, inputs);
    }
    for (TensorId t = 0; t < graph_.num_tensors(); ++t) {
      if (graph_.tensor(t).producer == kNoProducer) continue;
      inputs.clear();
      for (const OpId id : lowered_.tensors[t].tasks) inputs.push_back(&blocks_[id]);
      values_[t] = assemble_tensor<T>(graph_, lowered_, t, inputs);
    }
    return std::move(values_);
  }

 private:
  void set_inputs(const ReferenceOptions& options) {
    for (TensorId t = 0; t < graph_.num_tensors(); ++t) {
      if (graph_.tensor(t).producer != kNoProducer) continue;
      values_[t] = lowered_input_values<T>(graph_, t, options);
    }
  }

  const EinsumGraph& graph_;
  const LoweredGraph& lowered_;
  std::vector<std::vector<T>> values_;
  std::vector<std::vector<T>> blocks_;
};

}  // namespace

template <typename T>
std::vector<T> lowered_input_values(const EinsumGraph& graph, TensorId t, const ReferenceOptions& options) {
  const std::vector<double> v = seeded_input_values(graph, t, options);
  return std::vector<T>(v.begin(), v.end());
}

template <typename T>
std::vector<T> run_lowered_task(const EinsumGraph& graph, const LoweredGraph& lowered, OpId task_id,
                                std::span<const std::vector<T>* const> inputs) {
  const TaskInfo& task = lowered.tasks[task_id];
  switch (task.role) {
    case TaskRole::kLoad: {
      std::vector<T> out(static_cast<std::size_t>(elements_of(task.ranges)));
      copy_box(*inputs.front(), std::span<const Range>(whole(graph.tensor(task.tensor).dims)), out,
               std::span<const Range>(task.ranges));
      return out;
    }
    case TaskRole::kJoin:
      return join<T>(graph, task, inputs);
    case TaskRole::kAggregate:
      return aggregate<T>(graph, task, inputs);
    case TaskRole::kRepartition:
      return repartition<T>(lowered, task, inputs);
  }
  return {};
}

template <typename T>
std::vector<T> assemble_tensor(const EinsumGraph& graph, const LoweredGraph& lowered, TensorId t,
                               std::span<const std::vector<T>* const> blocks) {
  const std::vector<Range> box = whole(graph.tensor(t).dims);
  std::vector<T> value(static_cast<std::size_t>(elements_of(box)), T(0));
  for (std::size_t k = 0; k < blocks.size(); ++k)
    copy_box(*blocks[k], std::span<const Range>(lowered.tasks[lowered.tensors[t].tasks[k]].ranges), value,
             std::span<const Range>(box));
  return value;
}

template <typename T>
std::vector<std::vector<T>> run_lowered(const EinsumGraph& graph, const LoweredGraph& lowered,
                                        const ReferenceOptions& options) {
  return LoweredRunner<T>(graph, lowered, options).run();
}

#define DOPPLER_LOWERED_KERNELS(T)                                                                        \
  template std::vector<T> lowered_input_values<T>(const EinsumGraph&, TensorId, const ReferenceOptions&); \
  template std::vector<T> run_lowered_task<T>(const EinsumGraph&, const LoweredGraph&, OpId,              \
                                              std::span<const std::vector<T>* const>);                    \
  template std::vector<T> assemble_tensor<T>(const EinsumGraph&, const LoweredGraph&, TensorId,           \
                                             std::span<const std::vector<T>* const>);
DOPPLER_LOWERED_KERNELS(double)
DOPPLER_LOWERED_KERNELS(float)
#undef DOPPLER_LOWERED_KERNELS

template std::vector<std::vector<double>> run_lowered<double>(const EinsumGraph&, const LoweredGraph&,
                                                              const ReferenceOptions&);
template std::vector<std::vector<float>> run_lowered<float>(const EinsumGraph&, const LoweredGraph&,
                                                            const ReferenceOptions&);

}  // namespace doppler::einsum
