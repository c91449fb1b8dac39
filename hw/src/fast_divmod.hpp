#pragma once
// Contract: unsigned 32-bit division by a divisor fixed before the kernel runs, as a multiply-high
// and a shift (Granlund-Montgomery, round-up variant): exact for every dividend below 2^31 and
// every divisor in [1, 2^31). Host and device share the code, so it is tested on the CPU.
#include <cstdint>

#if defined(__CUDACC__)
#define DOPPLER_FAST_HD __host__ __device__
#else
#define DOPPLER_FAST_HD
#endif

namespace doppler::hw {

struct FastDivmod {
  std::uint32_t divisor = 1;
  std::uint32_t multiplier = 0;  // 0: divisor 1
  std::uint32_t shift = 0;

  FastDivmod() = default;
  explicit FastDivmod(std::uint32_t d) : divisor(d) {
    if (d <= 1) return;
    std::uint32_t log2_ceil = 0;
    while ((std::uint64_t{1} << log2_ceil) < d) ++log2_ceil;
    const std::uint32_t p = 31 + log2_ceil;
    multiplier = static_cast<std::uint32_t>(((std::uint64_t{1} << p) + d - 1) / d);
    shift = p - 32;
  }

  DOPPLER_FAST_HD std::uint32_t quotient(std::uint32_t n) const {
    if (multiplier == 0) return n;
#if defined(__CUDA_ARCH__)
    return __umulhi(n, multiplier) >> shift;
#else
    return static_cast<std::uint32_t>((static_cast<std::uint64_t>(n) * multiplier) >> 32) >> shift;
#endif
  }

  // n = q * divisor + r with 0 <= r < divisor.
  DOPPLER_FAST_HD void divmod(std::uint32_t n, std::uint32_t& q, std::uint32_t& r) const {
    q = quotient(n);
    r = n - q * divisor;
  }
};

}  // namespace doppler::hw
