#pragma once
// Contract: every bad-input path throws doppler::Error. Its what() is ONE line that names where the
// problem is (file:line, op or device) and what is wrong. Tools print it and exit non-zero.
#include <stdexcept>
#include <string>

namespace doppler {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "FILE:LINE: message" (LINE omitted when 0).
[[noreturn]] void throw_at(const std::string& file, std::size_t line, const std::string& message);

}  // namespace doppler
