#pragma once
// Test helper: max |got - want| over max |want| (a tensor-wide relative error), for comparing a
// decomposed or differentiated computation with the CPU reference.
#include <algorithm>
#include <cmath>
#include <vector>

namespace doppler::test_support {

inline double max_relative_error(const std::vector<double>& got, const std::vector<double>& want) {
  double scale = 1e-300, diff = 0;
  for (std::size_t e = 0; e < want.size(); ++e) {
    scale = std::max(scale, std::abs(want[e]));
    diff = std::max(diff, std::abs(got[e] - want[e]));
  }
  return diff / scale;
}

}  // namespace doppler::test_support
