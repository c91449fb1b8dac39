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
class LoweredRunner {
 public:
  LoweredRunner(const EinsumGraph& graph, const LoweredGraph& lowered, const ReferenceOptions& options)
      : graph_(graph), lowered_(lowered), values_(graph.num_tensors()), blocks_(lowered.tasks.size()) {
    set_inputs(options);
  }

  std::vector<std::vector<T>> run() {
    for (const OpId id : lowered_.graph.topological_order()) blocks_[id] = run_task(lowered_.tasks[id]);
    for (TensorId t = 0; t < graph_.num_tensors(); ++t) {
      if (graph_.tensor(t).producer != kNoProducer) assemble(t);
    }
    return std::move(values_);
  }

 private:
  void set_inputs(const ReferenceOptions& options) {
    for (TensorId t = 0; t < graph_.num_tensors(); ++t) {
      const Tensor& tensor = graph_.tensor(t);
      if (tensor.producer != kNoProducer) continue;
      const auto given = options.given.find(t);
      const std::vector<double> v =
          given != options.given.end()
              ? given->second
              : random_tensor_values(options.seed, t, tensor.elements(), options.low, options.high);
      if (static_cast<std::int64_t>(v.size()) != tensor.elements()) {
        throw Error("tensor '" + tensor.name + "': given " + std::to_string(v.size()) + " values, expected " +
                    std::to_string(tensor.elements()));
      }
      values_[t].assign(v.begin(), v.end());
    }
  }

  std::vector<T> run_task(const TaskInfo& task) {
    switch (task.role) {
      case TaskRole::kLoad:
        return gather(values_[task.tensor], whole(graph_.tensor(task.tensor).dims), task.ranges);
      case TaskRole::kJoin:
        return join(task);
      case TaskRole::kAggregate:
        return aggregate(task);
      case TaskRole::kRepartition:
        return repartition(task);
    }
    return {};
  }

  static std::vector<T> gather(const std::vector<T>& src, const std::vector<Range>& src_box,
                               const std::vector<Range>& box) {
    std::vector<T> out(static_cast<std::size_t>(elements_of(box)));
    copy_box(src, src_box, out, box);
    return out;
  }

  std::vector<T> join(const TaskInfo& task) const {
    const EinsumOp& op = graph_.op(task.op);
    const std::string all = op.spec.all_indices();
    IndexSizes sizes{};
    for (std::size_t d = 0; d < all.size(); ++d) index_size(sizes, all[d]) = task.ranges[d].size();
    std::vector<std::vector<T>> inputs;
    inputs.reserve(task.inputs.size());
    for (const OpId in : task.inputs) inputs.push_back(blocks_[in]);
    return evaluate_op<T>(op, sizes, inputs);
  }

  std::vector<T> aggregate(const TaskInfo& task) const {
    const Agg agg = graph_.op(task.op).spec.agg;
    std::vector<T> out = blocks_[task.inputs.front()];
    for (std::size_t k = 1; k < task.inputs.size(); ++k) {
      const std::vector<T>& part = blocks_[task.inputs[k]];
      for (std::size_t e = 0; e < out.size(); ++e) out[e] = combine(agg, out[e], part[e]);
    }
    return out;
  }

  std::vector<T> repartition(const TaskInfo& task) const {
    std::vector<T> out(static_cast<std::size_t>(elements_of(task.ranges)));
    for (const OpId in : task.inputs) copy_box(blocks_[in], lowered_.tasks[in].ranges, out, task.ranges);
    return out;
  }

  void assemble(TensorId t) {
    const std::vector<Range> box = whole(graph_.tensor(t).dims);
    values_[t].assign(static_cast<std::size_t>(elements_of(box)), T(0));
    for (const OpId id : lowered_.tensors[t].tasks) {
      copy_box(blocks_[id], lowered_.tasks[id].ranges, values_[t], box);
    }
  }

  const EinsumGraph& graph_;
  const LoweredGraph& lowered_;
  std::vector<std::vector<T>> values_;
  std::vector<std::vector<T>> blocks_;
};

}  // namespace

template <typename T>
std::vector<std::vector<T>> run_lowered(const EinsumGraph& graph, const LoweredGraph& lowered,
                                        const ReferenceOptions& options) {
  return LoweredRunner<T>(graph, lowered, options).run();
}

template std::vector<std::vector<double>> run_lowered<double>(const EinsumGraph&, const LoweredGraph&,
                                                              const ReferenceOptions&);
template std::vector<std::vector<float>> run_lowered<float>(const EinsumGraph&, const LoweredGraph&,
                                                            const ReferenceOptions&);

}  // namespace doppler::einsum
