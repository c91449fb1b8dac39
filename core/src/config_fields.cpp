#include "doppler/config_fields.hpp"

#include <charconv>

#include "doppler/error.hpp"
#include "doppler/yaml_util.hpp"

namespace doppler {

namespace fs = std::filesystem;

ConfigFields::ConfigFields(std::string source)
    : source_(std::move(source)), base_(fs::path(source_).parent_path()) {}

void ConfigFields::fail(const YAML::Node& node, const std::string& field, const std::string& message) const {
  throw_at(source_, yaml_line(node), "'" + field + "': " + message);
}

std::string ConfigFields::scalar(const YAML::Node& node, const std::string& field) const {
  if (!node.IsScalar() || node.Scalar().empty()) fail(node, field, "expected a non-empty string");
  return node.Scalar();
}

std::uint64_t ConfigFields::unsigned_integer(const YAML::Node& node, const std::string& field) const {
  const std::string text = node.IsScalar() ? node.Scalar() : std::string();
  std::uint64_t value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
    fail(node, field, "'" + text + "' is not a non-negative integer");
  }
  return value;
}

double ConfigFields::number(const YAML::Node& node, const std::string& field) const {
  const std::string text = node.IsScalar() ? node.Scalar() : std::string();
  double value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
    fail(node, field, "'" + text + "' is not a number");
  }
  return value;
}

bool ConfigFields::boolean(const YAML::Node& node, const std::string& field) const {
  const std::string text = node.IsScalar() ? node.Scalar() : std::string();
  if (text == "true") return true;
  if (text == "false") return false;
  fail(node, field, "'" + text + "' is not true or false");
}

std::string ConfigFields::input_path(const YAML::Node& node, const std::string& field) const {
  const fs::path written = scalar(node, field);
  const fs::path resolved =
      written.is_absolute() || base_.empty() ? written : (base_ / written).lexically_normal();
  std::error_code ec;
  if (!fs::is_regular_file(resolved, ec)) {
    fail(node, field,
         "file '" + resolved.string() + "' does not exist" +
             (written == resolved ? std::string() : " (resolved from '" + written.string() + "')"));
  }
  return resolved.string();
}

}  // namespace doppler
