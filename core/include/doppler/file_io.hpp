#pragma once
// Contract: whole-file reads that fail with a doppler::Error naming the path, and atomic writes
// (temporary file + rename) so a failed run never leaves a half-written output.
#include <string>

namespace doppler {

std::string read_text_file(const std::string& path);
void write_file_atomically(const std::string& path, const std::string& content);

}  // namespace doppler
