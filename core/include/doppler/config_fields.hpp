#pragma once
// Contract: reads typed fields of a YAML config; every failure throws a one-line doppler::Error
// "FILE:LINE: 'FIELD': PROBLEM". Input paths are resolved against the config file's directory and
// must exist.
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <filesystem>
#include <string>

namespace doppler {

class ConfigFields {
 public:
  explicit ConfigFields(std::string source);

  const std::string& source() const { return source_; }
  [[noreturn]] void fail(const YAML::Node& node, const std::string& field, const std::string& message) const;
  std::string scalar(const YAML::Node& node, const std::string& field) const;  // non-empty
  std::uint64_t unsigned_integer(const YAML::Node& node, const std::string& field) const;
  double number(const YAML::Node& node, const std::string& field) const;
  bool boolean(const YAML::Node& node, const std::string& field) const;  // true | false
  std::string input_path(const YAML::Node& node, const std::string& field) const;

 private:
  std::string source_;
  std::filesystem::path base_;
};

}  // namespace doppler
