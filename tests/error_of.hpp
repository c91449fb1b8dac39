#pragma once
// Test helper: runs `action` and returns the message of the doppler::Error it throws, or
// "<no error>" when it throws none, so tests can compare whole one-line messages.
#include <string>

#include "doppler/error.hpp"

namespace doppler::test_support {

std::string error_of(const auto& action) {
  try {
    action();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

}  // namespace doppler::test_support
