#pragma once
// Contract: one device's busy time in a static schedule, for insertion-based list scheduling
// (HEFT). Reserved intervals [start, start + duration) never overlap. earliest_start() returns the
// first time t >= `ready` at which the device is idle throughout [t, t + duration) (for a zero
// duration: idle at t), inside an idle gap between reserved intervals or at/after their end.
// Only idle gaps are stored, in a treap ordered by start with the longest gap of each subtree, so
// both operations take O(log gaps) expected time whatever the schedule looks like.
#include <cstdint>
#include <vector>

namespace doppler::policies {

class DeviceTimeline {
 public:
  double earliest_start(double ready, double duration) const;
  // Reserves [start, start + duration); throws an Error if the device is not idle there.
  void reserve(double start, double duration);
  double end() const { return end_; }  // end of the last reserved interval
  std::size_t gaps() const { return nodes_.size() - free_.size(); }

 private:
  using Index = std::int32_t;
  static constexpr Index kNone = -1;
  struct Gap {
    double start;
    double end;
    double longest;  // longest gap in this subtree
    std::uint64_t heap_key;
    Index left = kNone;
    Index right = kNone;
  };

  double longest(Index node) const { return node == kNone ? -1.0 : nodes_[node].longest; }
  void update(Index node);
  // Splits `node` into gaps starting at or before `key` and gaps starting after it.
  void split(Index node, double key, Index& at_or_before, Index& after);
  Index merge(Index left, Index right);
  Index last_at_or_before(double time) const;                             // kNone if every gap starts later
  Index first_fit_after(Index node, double time, double duration) const;  // earliest-starting fit
  void insert_gap(double start, double end);
  void erase_gap(double start);

  std::vector<Gap> nodes_;
  std::vector<Index> free_;
  Index root_ = kNone;
  std::uint64_t inserted_ = 0;
  double end_ = 0;
};

}  // namespace doppler::policies
