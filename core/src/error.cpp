#include "doppler/error.hpp"

namespace doppler {

void throw_at(const std::string& file, std::size_t line, const std::string& message) {
  std::string where = file.empty() ? std::string("<input>") : file;
  if (line > 0) where += ":" + std::to_string(line);
  throw Error(where + ": " + message);
}

}  // namespace doppler
