#pragma once
// Contract: an offset allocator over one arena [0, capacity): first fit (the free block of lowest
// offset that is large enough), sizes rounded up to `alignment` (every offset handed out is a
// multiple of it; a zero-byte request takes one alignment unit), freed blocks coalesced with their
// neighbours. First fit makes the capacity irrelevant to where blocks go as long as they fit: a
// sequence that stayed below offset H in a larger arena places every block the same in an arena
// of capacity H.
// It hands out offsets only; the caller owns the memory. release() of a block that was not handed
// out, or twice, throws std::logic_error (a bug in the caller, not bad input).
#include <cstdint>
#include <map>
#include <optional>

namespace doppler::memory {

class OffsetAllocator {
 public:
  OffsetAllocator(std::uint64_t capacity, std::uint64_t alignment);

  // The size a request of `bytes` occupies: rounded up to the alignment, at least one unit.
  std::uint64_t aligned(std::uint64_t bytes) const;
  // An offset of a free block of aligned(bytes), or nullopt when no free block is large enough.
  std::optional<std::uint64_t> allocate(std::uint64_t bytes);
  // Hands out [offset, offset + aligned(bytes)), which must lie in one free block (an aligned
  // offset); false when it does not. For callers that choose among the free blocks themselves.
  bool allocate_at(std::uint64_t offset, std::uint64_t bytes);
  // Returns the block [offset, offset + aligned(bytes)) handed out by allocate().
  void release(std::uint64_t offset, std::uint64_t bytes);

  std::uint64_t capacity() const { return capacity_; }
  std::uint64_t alignment() const { return alignment_; }
  std::uint64_t used() const { return used_; }
  std::uint64_t largest_free() const;
  const std::map<std::uint64_t, std::uint64_t>& free_blocks() const { return free_; }  // offset -> size

 private:
  std::uint64_t capacity_;
  std::uint64_t alignment_;
  std::uint64_t used_ = 0;
  std::map<std::uint64_t, std::uint64_t> free_;   // offset -> size, non-adjacent
  std::map<std::uint64_t, std::uint64_t> taken_;  // offset -> size of handed-out blocks
};

}  // namespace doppler::memory
