#pragma once
// Contract: the engines' timed-event queue: a binary min-heap of 16-byte entries ordered by
// (time, tag). The tag's high 32 bits are the event's sequence id (creation order), the low 32
// bits its payload, so equal times pop in creation order: the deterministic tie rule.
// Times must be >= 0 and finite: their IEEE bits then order like the numbers, so (time, tag) is
// compared as one 128-bit integer, without branches.
#include <bit>
#include <cstdint>
#include <vector>

namespace doppler::sim {

class EventQueue {
 public:
  struct Entry {
    std::uint64_t tag;
    std::uint64_t time_bits;
    double time() const { return std::bit_cast<double>(time_bits); }
    std::uint32_t payload() const { return static_cast<std::uint32_t>(tag); }
  };

  static std::uint64_t tag(std::uint32_t sequence, std::uint32_t payload) {
    return (static_cast<std::uint64_t>(sequence) << 32) | payload;
  }

  void clear() { heap_.clear(); }
  bool empty() const { return heap_.empty(); }
  std::size_t size() const { return heap_.size(); }
  const Entry& top() const { return heap_.front(); }

  void push(double time, std::uint64_t tag) {
    std::size_t i = heap_.size();
    heap_.push_back({tag, std::bit_cast<std::uint64_t>(time + 0.0)});
    const Entry item = heap_[i];
    while (i > 0) {
      const std::size_t parent = (i - 1) / 2;
      if (!before(item, heap_[parent])) break;
      heap_[i] = heap_[parent];
      i = parent;
    }
    heap_[i] = item;
  }

  Entry pop() {
    const Entry result = heap_.front();
    const Entry last = heap_.back();
    heap_.pop_back();
    const std::size_t n = heap_.size();
    if (n == 0) return result;
    std::size_t i = 0;
    for (;;) {
      std::size_t child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && before(heap_[child + 1], heap_[child])) ++child;
      if (!before(heap_[child], last)) break;
      heap_[i] = heap_[child];
      i = child;
    }
    heap_[i] = last;
    return result;
  }

 private:
  __extension__ using Key = unsigned __int128;
  static Key key(const Entry& e) { return (static_cast<Key>(e.time_bits) << 64) | e.tag; }
  static bool before(const Entry& a, const Entry& b) { return key(a) < key(b); }
  std::vector<Entry> heap_;
};

}  // namespace doppler::sim
