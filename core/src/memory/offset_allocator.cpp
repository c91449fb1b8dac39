#include "doppler/memory/offset_allocator.hpp"

#include <algorithm>
#include <iterator>
#include <stdexcept>
#include <string>

namespace doppler::memory {

OffsetAllocator::OffsetAllocator(std::uint64_t capacity, std::uint64_t alignment)
    : capacity_(capacity), alignment_(alignment == 0 ? 1 : alignment) {
  capacity_ -= capacity_ % alignment_;
  if (capacity_ > 0) free_[0] = capacity_;
}

std::uint64_t OffsetAllocator::aligned(std::uint64_t bytes) const {
  if (bytes == 0) return alignment_;
  return (bytes + alignment_ - 1) / alignment_ * alignment_;
}

std::optional<std::uint64_t> OffsetAllocator::allocate(std::uint64_t bytes) {
  const std::uint64_t size = aligned(bytes);
  auto block = free_.begin();
  while (block != free_.end() && block->second < size) ++block;
  if (block == free_.end()) return std::nullopt;
  const std::uint64_t offset = block->first;
  const std::uint64_t rest = block->second - size;
  free_.erase(block);
  if (rest > 0) free_[offset + size] = rest;
  taken_[offset] = size;
  used_ += size;
  return offset;
}

bool OffsetAllocator::allocate_at(std::uint64_t offset, std::uint64_t bytes) {
  const std::uint64_t size = aligned(bytes);
  if (offset % alignment_ != 0) return false;
  auto block = free_.upper_bound(offset);
  if (block == free_.begin()) return false;
  --block;
  const std::uint64_t begin = block->first, end = block->first + block->second;
  if (offset + size > end) return false;
  free_.erase(block);
  if (offset > begin) free_[begin] = offset - begin;
  if (offset + size < end) free_[offset + size] = end - offset - size;
  taken_[offset] = size;
  used_ += size;
  return true;
}

void OffsetAllocator::release(std::uint64_t offset, std::uint64_t bytes) {
  const std::uint64_t size = aligned(bytes);
  const auto taken = taken_.find(offset);
  if (taken == taken_.end() || taken->second != size) {
    throw std::logic_error("OffsetAllocator::release: no block of " + std::to_string(size) +
                           " bytes at offset " + std::to_string(offset));
  }
  taken_.erase(taken);
  used_ -= size;
  std::uint64_t begin = offset, end = offset + size;
  auto next = free_.lower_bound(offset);
  if (next != free_.end() && next->first == end) {
    end += next->second;
    next = free_.erase(next);
  }
  if (next != free_.begin()) {
    const auto previous = std::prev(next);
    if (previous->first + previous->second == begin) {
      begin = previous->first;
      free_.erase(previous);
    }
  }
  free_[begin] = end - begin;
}

std::uint64_t OffsetAllocator::largest_free() const {
  std::uint64_t largest = 0;
  for (const auto& [offset, size] : free_) largest = std::max(largest, size);
  return largest;
}

}  // namespace doppler::memory
