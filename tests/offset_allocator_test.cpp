// The offset allocator: alignment, best fit, coalescing, refusal when full, misuse.
#include <gtest/gtest.h>

#include <random>
#include <stdexcept>

#include "doppler/memory/offset_allocator.hpp"

namespace doppler::memory {
namespace {

TEST(OffsetAllocator, AlignsSizesAndOffsets) {
  OffsetAllocator a(1000, 64);
  EXPECT_EQ(a.capacity(), 960u);
  EXPECT_EQ(a.aligned(0), 64u);
  EXPECT_EQ(a.aligned(65), 128u);
  EXPECT_EQ(a.allocate(1), 0u);
  EXPECT_EQ(a.allocate(100), 64u);
  EXPECT_EQ(a.used(), 192u);
}

TEST(OffsetAllocator, FirstFitAndCoalescing) {
  OffsetAllocator a(100, 1);
  const auto x = *a.allocate(30), y = *a.allocate(10), z = *a.allocate(20);
  (void)z;
  a.allocate(40);  // full
  EXPECT_FALSE(a.allocate(1).has_value());
  a.release(x, 30);  // hole of 30 at 0
  a.release(y, 10);  // coalesces into 40 at 0
  EXPECT_EQ(a.free_blocks().size(), 1u);
  EXPECT_EQ(a.free_blocks().at(0), 40u);
  OffsetAllocator b(100, 1);
  const auto p = *b.allocate(30), q = *b.allocate(10), r = *b.allocate(10), s = *b.allocate(50);
  (void)q;
  (void)s;
  b.release(p, 30);
  b.release(r, 10);
  EXPECT_EQ(b.allocate(10), p) << "first fit takes the lowest hole that is large enough";
  EXPECT_EQ(b.allocate(15), 10u);
  EXPECT_EQ(b.allocate(10), r);
  EXPECT_EQ(b.largest_free(), 5u);
}

TEST(OffsetAllocator, RandomUseNeverOverlapsAndReturnsEverything) {
  std::mt19937_64 rng(7);
  OffsetAllocator a(1 << 16, 16);
  std::vector<std::pair<std::uint64_t, std::uint64_t>> held;
  for (int step = 0; step < 5000; ++step) {
    if (held.empty() || rng() % 2) {
      const std::uint64_t bytes = rng() % 3000;
      if (const auto offset = a.allocate(bytes)) {
        EXPECT_EQ(*offset % 16, 0u);
        for (const auto& [o, b] : held)
          EXPECT_TRUE(*offset + a.aligned(bytes) <= o || o + a.aligned(b) <= *offset);
        held.push_back({*offset, bytes});
      }
    } else {
      const std::size_t k = rng() % held.size();
      a.release(held[k].first, held[k].second);
      held.erase(held.begin() + static_cast<long>(k));
    }
  }
  for (const auto& [o, b] : held) a.release(o, b);
  EXPECT_EQ(a.used(), 0u);
  ASSERT_EQ(a.free_blocks().size(), 1u);
  EXPECT_EQ(a.free_blocks().begin()->second, a.capacity());
}

TEST(OffsetAllocator, AllocateAtTakesAChosenRangeOfAFreeBlock) {
  OffsetAllocator a(100, 10);
  EXPECT_TRUE(a.allocate_at(40, 20));
  EXPECT_EQ(a.free_blocks().size(), 2u);
  EXPECT_EQ(a.free_blocks().at(0), 40u);
  EXPECT_EQ(a.free_blocks().at(60), 40u);
  EXPECT_FALSE(a.allocate_at(50, 10)) << "taken";
  EXPECT_FALSE(a.allocate_at(35, 10)) << "unaligned";
  EXPECT_FALSE(a.allocate_at(30, 20)) << "crosses into a taken block";
  EXPECT_TRUE(a.allocate_at(90, 10));
  a.release(40, 20);
  EXPECT_EQ(a.free_blocks().at(0), 90u);
  EXPECT_EQ(a.used(), 10u);
}

TEST(OffsetAllocator, ReleasingWhatWasNotHandedOutThrows) {
  OffsetAllocator a(100, 1);
  const auto x = *a.allocate(10);
  EXPECT_THROW(a.release(x + 1, 10), std::logic_error);
  EXPECT_THROW(a.release(x, 20), std::logic_error);
  a.release(x, 10);
  EXPECT_THROW(a.release(x, 10), std::logic_error);
}

}  // namespace
}  // namespace doppler::memory
