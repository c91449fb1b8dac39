#include "doppler/policies/device_timeline.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "doppler/error.hpp"

namespace doppler::policies {
namespace {

// splitmix64: deterministic, well-mixed heap keys from an insertion counter.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

bool fits(double gap_start, double gap_end, double start, double duration) {
  return start >= gap_start && start < gap_end && gap_end - start >= duration;
}

}  // namespace

double DeviceTimeline::earliest_start(double ready, double duration) const {
  if (ready >= end_ || longest(root_) < duration) return std::max(ready, end_);
  const Index containing = last_at_or_before(ready);
  if (containing != kNone && fits(nodes_[containing].start, nodes_[containing].end, ready, duration))
    return ready;
  const Index later = first_fit_after(root_, ready, duration);
  return later == kNone ? end_ : nodes_[later].start;
}

void DeviceTimeline::reserve(double start, double duration) {
  const double end = start + duration;
  if (start >= end_) {
    if (duration == 0) return;  // occupies nothing, so it must not move end_
    if (start > end_) insert_gap(end_, start);
    end_ = end;
    return;
  }
  const Index gap = last_at_or_before(start);
  if (gap == kNone || !fits(nodes_[gap].start, nodes_[gap].end, start, duration)) {
    throw Error("device timeline: interval [" + std::to_string(start) + ", " + std::to_string(end) +
                ") overlaps a reserved one");
  }
  if (duration == 0) return;
  const double gap_start = nodes_[gap].start;
  const double gap_end = nodes_[gap].end;
  erase_gap(gap_start);
  if (gap_start < start) insert_gap(gap_start, start);
  if (end < gap_end) insert_gap(end, gap_end);
}

void DeviceTimeline::update(Index node) {
  Gap& gap = nodes_[node];
  gap.longest = std::max({gap.end - gap.start, longest(gap.left), longest(gap.right)});
}

void DeviceTimeline::split(Index node, double key, Index& at_or_before, Index& after) {
  if (node == kNone) {
    at_or_before = after = kNone;
    return;
  }
  if (nodes_[node].start <= key) {
    split(nodes_[node].right, key, nodes_[node].right, after);
    at_or_before = node;
  } else {
    split(nodes_[node].left, key, at_or_before, nodes_[node].left);
    after = node;
  }
  update(node);
}

DeviceTimeline::Index DeviceTimeline::merge(Index left, Index right) {
  if (left == kNone) return right;
  if (right == kNone) return left;
  if (nodes_[left].heap_key > nodes_[right].heap_key) {
    nodes_[left].right = merge(nodes_[left].right, right);
    update(left);
    return left;
  }
  nodes_[right].left = merge(left, nodes_[right].left);
  update(right);
  return right;
}

DeviceTimeline::Index DeviceTimeline::last_at_or_before(double time) const {
  Index best = kNone;
  for (Index node = root_; node != kNone;) {
    if (nodes_[node].start <= time) {
      best = node;
      node = nodes_[node].right;
    } else {
      node = nodes_[node].left;
    }
  }
  return best;
}

DeviceTimeline::Index DeviceTimeline::first_fit_after(Index node, double time, double duration) const {
  // Subtrees without a long enough gap are skipped, so only the path to `time` and one descent to
  // the answer are walked.
  if (node == kNone || longest(node) < duration) return kNone;
  const Gap& gap = nodes_[node];
  if (gap.start <= time) return first_fit_after(gap.right, time, duration);
  const Index in_left = first_fit_after(gap.left, time, duration);
  if (in_left != kNone) return in_left;
  if (gap.end - gap.start >= duration) return node;
  return first_fit_after(gap.right, time, duration);
}

void DeviceTimeline::insert_gap(double start, double end) {
  Index node;
  if (free_.empty()) {
    node = static_cast<Index>(nodes_.size());
    nodes_.emplace_back();
  } else {
    node = free_.back();
    free_.pop_back();
  }
  nodes_[node] = Gap{start, end, end - start, mix(inserted_++), kNone, kNone};
  Index before, after;
  split(root_, start, before, after);
  root_ = merge(merge(before, node), after);
}

void DeviceTimeline::erase_gap(double start) {
  Index before, after, removed;
  split(root_, start, before, after);
  const double just_below = std::nextafter(start, -std::numeric_limits<double>::infinity());
  split(before, just_below, before, removed);
  free_.push_back(removed);
  root_ = merge(before, after);
}

}  // namespace doppler::policies
