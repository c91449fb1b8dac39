#pragma once
// Contract: the median of a sample: the middle value, or the mean of the two middle values of an
// even count; 0 for an empty sample.
#include <algorithm>
#include <vector>

namespace doppler {

inline double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  if (n == 0) return 0;
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

}  // namespace doppler
