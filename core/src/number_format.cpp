#include "doppler/number_format.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace doppler {

std::string format_number(double value) {
  std::array<char, 512> buffer{};
  const auto result =
      std::to_chars(buffer.data(), buffer.data() + buffer.size(), value, std::chars_format::fixed);
  return std::string(buffer.data(), result.ptr);
}

std::string format_short(double value, int digits) {
  if (value == 0 || !std::isfinite(value)) return format_number(value);
  const int magnitude = static_cast<int>(std::floor(std::log10(std::fabs(value))));
  const int decimals = std::max(0, digits - 1 - magnitude);
  char buffer[512];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

}  // namespace doppler
