#include "doppler/scheduler.hpp"

#include <algorithm>
#include <string>
#include <utility>

#include "doppler/error.hpp"

namespace doppler {
namespace {

bool later(const auto& a, const auto& b) {
  return a.priority != b.priority ? a.priority > b.priority : a.sequence > b.sequence;
}

}  // namespace

Scheduler::Scheduler(const ExecGraph& graph, std::vector<int> streams_per_device)
    : graph_(graph), streams_(std::move(streams_per_device)) {
  if (streams_.empty()) throw Error("scheduler: the machine has no devices");
  for (OpId v = 0; v < graph_.num_ops; ++v)
    if (graph_.in_degree(v) == 0) sources_.push_back(v);
  const std::size_t n = streams_.size();
  heaps_.resize(n);
  link_queue_.resize(n * n);
  link_head_.assign(n * n, 0);
  link_busy_.assign(n * n, 0);
}

void Scheduler::start(std::span<const DeviceId> device, std::span<const double> priority) {
  const std::uint32_t num_ops = graph_.num_ops;
  const std::size_t n = streams_.size();
  device_.assign(device.begin(), device.end());
  use_priority_ = !priority.empty();
  priority_.assign(priority.begin(), priority.end());

  pending_.resize(num_ops);
  for (OpId v = 0; v < num_ops; ++v) pending_[v] = graph_.in_degree(v);
  free_streams_.assign(streams_.begin(), streams_.end());
  ready_sequence_ = 0;
  fifo_head_.assign(n + 1, 0);
  for (OpId v = 0; v < num_ops; ++v) ++fifo_head_[device_[v] + 1];
  for (std::size_t d = 0; d < n; ++d) fifo_head_[d + 1] += fifo_head_[d];
  fifo_tail_.assign(fifo_head_.begin(), fifo_head_.end());
  fifo_.resize(num_ops);
  for (auto& heap : heaps_) heap.clear();
  for (auto& queue : link_queue_) queue.clear();
  std::fill(link_head_.begin(), link_head_.end(), 0);
  std::fill(link_busy_.begin(), link_busy_.end(), 0);
  for (auto& queue : source_queue_) queue.clear();
  std::fill(source_head_.begin(), source_head_.end(), 0);
  free_engines_ = copy_engines_;
}

void Scheduler::set_copy_engines(std::vector<int> engines_per_device) {
  if (!engines_per_device.empty() && engines_per_device.size() != streams_.size())
    throw Error("scheduler: copy engines given for " + std::to_string(engines_per_device.size()) +
                " devices, the machine has " + std::to_string(streams_.size()));
  copy_engines_ = std::move(engines_per_device);
  free_engines_ = copy_engines_;
  source_queue_.assign(copy_engines_.empty() ? 0 : streams_.size(), {});
  source_head_.assign(source_queue_.size(), 0);
}

void Scheduler::build_transfers() {
  const std::uint32_t num_ops = graph_.num_ops;
  transfer_begin_.resize(num_ops + 1);
  transfer_ids_.clear();
  transfers_.clear();
  consumer_begin_.clear();
  transfer_consumers_.clear();
  // Transfers of u in first-consumer order; consumers grouped per transfer (CSR built in two passes).
  std::vector<std::uint32_t>& counts = consumer_begin_;
  for (OpId u = 0; u < num_ops; ++u) {
    transfer_begin_[u] = static_cast<std::uint32_t>(transfer_ids_.size());
    const DeviceId src = device_[u];
    for (OpId v : graph_.successors(u)) {
      const DeviceId dst = device_[v];
      if (dst == src) continue;
      TransferId found = kNoTransfer;
      for (std::uint32_t k = transfer_begin_[u]; k < transfer_ids_.size(); ++k)
        if (transfers_[transfer_ids_[k]].dst == dst) found = transfer_ids_[k];
      if (found == kNoTransfer) {
        found = static_cast<TransferId>(transfers_.size());
        transfers_.push_back({u, src, dst});
        transfer_ids_.push_back(found);
        counts.push_back(0);
      }
      ++counts[found];
    }
  }
  transfer_begin_[num_ops] = static_cast<std::uint32_t>(transfer_ids_.size());
  std::uint32_t running = 0;
  for (auto& c : counts) running += std::exchange(c, running);
  counts.push_back(running);
  transfer_consumers_.resize(running);
  consumer_fill_.assign(counts.begin(), counts.end() - 1);
  auto& fill = consumer_fill_;
  for (OpId u = 0; u < num_ops; ++u) {
    for (OpId v : graph_.successors(u)) {
      if (device_[v] == device_[u]) continue;
      for (std::uint32_t k = transfer_begin_[u]; k < transfer_begin_[u + 1]; ++k) {
        const TransferId t = transfer_ids_[k];
        if (transfers_[t].dst == device_[v]) {
          transfer_consumers_[fill[t]++] = v;
          break;
        }
      }
    }
  }
}

void Scheduler::push_by_priority(OpId op) {
  auto& heap = heaps_[device_[op]];
  heap.push_back({priority_[op], ready_sequence_++, op});
  std::push_heap(heap.begin(), heap.end(), [](const Keyed& a, const Keyed& b) { return later(a, b); });
}

OpId Scheduler::pop_by_priority(DeviceId d) {
  auto& heap = heaps_[d];
  if (heap.empty()) return kNoOp;
  std::pop_heap(heap.begin(), heap.end(), [](const Keyed& a, const Keyed& b) { return later(a, b); });
  const OpId op = heap.back().op;
  heap.pop_back();
  --free_streams_[d];
  return op;
}

std::size_t Scheduler::ready_count(DeviceId d) const {
  return use_priority_ ? heaps_[d].size() : fifo_tail_[d] - fifo_head_[d];
}

void Scheduler::transfer_ready(TransferId t) {
  const DeviceId src = transfers_[t].src;
  if (shares_engines(src)) return source_queue_[src].push_back(t);
  link_queue_[link_index(src, transfers_[t].dst)].push_back(t);
}

TransferId Scheduler::next_transfer(DeviceId src, DeviceId dst) {
  if (shares_engines(src)) {
    std::vector<TransferId>& queue = source_queue_[src];
    if (free_engines_[src] == 0 || source_head_[src] == queue.size()) return kNoTransfer;
    const TransferId t = queue[source_head_[src]];
    const std::size_t l = link_index(src, transfers_[t].dst);
    if (link_busy_[l]) return kNoTransfer;
    link_busy_[l] = 1;
    --free_engines_[src];
    ++source_head_[src];
    return t;
  }
  const std::size_t l = link_index(src, dst);
  if (link_busy_[l] || link_head_[l] == link_queue_[l].size()) return kNoTransfer;
  link_busy_[l] = 1;
  return link_queue_[l][link_head_[l]++];
}

}  // namespace doppler
