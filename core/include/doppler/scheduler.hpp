#pragma once
// Contract: THE work-conserving decision logic, shared by every backend (simulator engines and the
// CUDA backend). It never looks at time: a backend reports events (an op finished, an input tensor
// arrived, a transfer finished) and asks for launches (next op for a free stream, next transfer
// for an idle link); it carries them out and reports back.
//
// Decisions:
//  - dependency counting: an op is ready once every distinct predecessor's tensor is on its device;
//  - ready queues: one per device; lower plan priority first, ties (and plans without
//    priorities) in the order ops became ready (FIFO);
//  - a device runs a ready op whenever one of its compute streams is free (work conserving);
//  - transfers: one per (tensor, destination device) for cross-device edges, in first-consumer
//    order; on contended links each directed link carries one transfer at a time, FIFO in the
//    order transfers became ready; a device with shared copy engines (set_copy_engines: k > 0)
//    runs at most k of its outgoing transfers at once, to any destinations, FIFO in the order they
//    became ready (one engine: the device's outgoing copies run one after another, as a GPU's
//    peer copies do).
// Re-binding a plan with start() reuses all buffers, so per-episode use does not allocate.
#include <cstdint>
#include <span>
#include <vector>

#include "doppler/exec_graph.hpp"
#include "doppler/machine.hpp"
#include "doppler/plan.hpp"

namespace doppler {

using TransferId = std::uint32_t;
inline constexpr TransferId kNoTransfer = static_cast<TransferId>(-1);

struct Transfer {
  OpId tensor;   // producer op
  DeviceId src;  // producer's device
  DeviceId dst;
};

class Scheduler {
 public:
  Scheduler(const ExecGraph& graph, std::vector<int> streams_per_device);

  // Binds a plan whose devices are < num_devices() (validate_plan first) and resets run state.
  void start(std::span<const DeviceId> device, std::span<const double> priority = {});
  // Derives the plan's transfers (needed before transfers_of / consumers_of); O(edges).
  void build_transfers();

  std::size_t num_devices() const { return streams_.size(); }
  const ExecGraph& graph() const { return graph_; }
  DeviceId device_of(OpId op) const { return device_[op]; }
  std::span<const OpId> sources() const { return sources_; }  // ops without predecessors, by id

  // Transfers leaving `producer`, in the order of its first consumer on each destination device.
  std::span<const TransferId> transfers_of(OpId producer) const {
    return {transfer_ids_.data() + transfer_begin_[producer],
            transfer_ids_.data() + transfer_begin_[producer + 1]};
  }
  const Transfer& transfer(TransferId t) const { return transfers_[t]; }
  std::span<const OpId> consumers_of(TransferId t) const {
    return {transfer_consumers_.data() + consumer_begin_[t],
            transfer_consumers_.data() + consumer_begin_[t + 1]};
  }
  std::size_t num_transfers() const { return transfers_.size(); }

  // An input of `consumer` is now on its device. Returns true when that was its last missing input.
  bool input_arrived(OpId consumer) { return --pending_[consumer] == 0; }
  // `op` enters its device's ready queue.
  void make_ready(OpId op) {
    if (use_priority_) return push_by_priority(op);
    const DeviceId d = device_[op];
    fifo_[fifo_tail_[d]++] = op;
  }
  // If `device` has a free stream and a ready op, takes the stream and returns that op; else kNoOp.
  OpId next_op(DeviceId device) {
    if (free_streams_[device] <= 0) return kNoOp;
    if (use_priority_) return pop_by_priority(device);
    if (fifo_head_[device] == fifo_tail_[device]) return kNoOp;
    --free_streams_[device];
    return fifo_[fifo_head_[device]++];
  }
  // Frees the stream `op` ran on.
  void op_finished(OpId op) { ++free_streams_[device_[op]]; }
  bool has_free_stream(DeviceId device) const { return free_streams_[device] > 0; }
  int streams(DeviceId device) const { return streams_[device]; }
  std::size_t ready_count(DeviceId device) const;

  // Outgoing copy engines per device (0 = none shared: every link on its own); kept across start().
  void set_copy_engines(std::vector<int> engines_per_device);
  bool shares_engines(DeviceId src) const { return !copy_engines_.empty() && copy_engines_[src] > 0; }
  // Contended links: queue a transfer on link (src,dst); take the next one if the link is idle.
  // For a device with shared engines: the head of its FIFO (to any destination: check
  // transfer(t).dst) if an engine and that link are free.
  void transfer_ready(TransferId t);
  TransferId next_transfer(DeviceId src, DeviceId dst);
  void transfer_finished(TransferId t) {
    const DeviceId src = transfers_[t].src;
    link_busy_[link_index(src, transfers_[t].dst)] = 0;
    if (shares_engines(src)) ++free_engines_[src];
  }

 private:
  void push_by_priority(OpId op);
  OpId pop_by_priority(DeviceId device);
  std::size_t link_index(DeviceId src, DeviceId dst) const { return src * streams_.size() + dst; }

  const ExecGraph& graph_;
  std::vector<int> streams_;
  std::vector<OpId> sources_;

  // bound plan
  std::vector<DeviceId> device_;
  std::vector<double> priority_;
  bool use_priority_ = false;
  std::vector<std::uint32_t> transfer_begin_;
  std::vector<TransferId> transfer_ids_;
  std::vector<Transfer> transfers_;
  std::vector<std::uint32_t> consumer_begin_;
  std::vector<OpId> transfer_consumers_;
  std::vector<std::uint32_t> consumer_fill_;

  // run state
  std::vector<std::uint32_t> pending_;
  std::vector<int> free_streams_;
  std::uint64_t ready_sequence_ = 0;
  // FIFO ready queues: one slice of fifo_ per device, [head, tail).
  std::vector<OpId> fifo_;
  std::vector<std::uint32_t> fifo_head_, fifo_tail_;
  struct Keyed {
    double priority;
    std::uint64_t sequence;
    OpId op;
  };
  std::vector<std::vector<Keyed>> heaps_;  // priority ready queues
  std::vector<std::vector<TransferId>> link_queue_;
  std::vector<std::uint32_t> link_head_;
  std::vector<std::uint8_t> link_busy_;
  std::vector<int> copy_engines_;  // per device; empty = none shared
  std::vector<int> free_engines_;
  std::vector<std::vector<TransferId>> source_queue_;  // devices with shared engines
  std::vector<std::uint32_t> source_head_;
};

}  // namespace doppler
