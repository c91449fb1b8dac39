#include "doppler/yaml_util.hpp"

#include <cmath>
#include <set>

#include "doppler/error.hpp"

namespace doppler {

namespace {

// yaml-cpp keeps the last of two equal keys in a mapping; a config that sets a field twice is a
// mistake to report, not to resolve silently.
void reject_duplicate_keys(const YAML::Node& node, const std::string& source_name) {
  if (node.IsSequence()) {
    for (const YAML::Node& item : node) reject_duplicate_keys(item, source_name);
  } else if (node.IsMap()) {
    std::set<std::string> keys;
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (it->first.IsScalar() && !keys.insert(it->first.Scalar()).second) {
        throw_at(source_name, yaml_line(it->first), "duplicate key '" + it->first.Scalar() + "'");
      }
      reject_duplicate_keys(it->second, source_name);
    }
  }
}

}  // namespace

YAML::Node parse_yaml_document(const std::string& text, const std::string& source_name) {
  YAML::Node document;
  try {
    document = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    throw_at(source_name, static_cast<std::size_t>(e.mark.line + 1), "malformed YAML: " + e.msg);
  }
  reject_duplicate_keys(document, source_name);
  return document;
}

std::size_t yaml_line(const YAML::Node& node) {
  const auto mark = node.Mark();
  return mark.line >= 0 ? static_cast<std::size_t>(mark.line + 1) : 0;
}

std::string yaml_string(const YAML::Node& map, const char* key, const std::string& source,
                        const std::string& fallback) {
  const YAML::Node node = map[key];
  if (!node) return fallback;
  if (!node.IsScalar()) throw_at(source, yaml_line(node), std::string("'") + key + "' must be a string");
  return node.Scalar();
}

double yaml_number(const YAML::Node& map, const char* key, const std::string& source,
                   const std::string& where) {
  const YAML::Node node = map[key];
  if (!node) throw_at(source, yaml_line(map), where + ": missing '" + key + "'");
  const std::string text = node.IsScalar() ? node.Scalar() : std::string();
  char* end = nullptr;
  const double value = text.empty() ? NAN : std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !std::isfinite(value)) {
    throw_at(source, yaml_line(node), where + ": '" + key + "' = '" + text + "' is not a finite number");
  }
  return value;
}

double yaml_non_negative(const YAML::Node& map, const char* key, const std::string& source,
                         const std::string& where) {
  const double value = yaml_number(map, key, source, where);
  if (value < 0)
    throw_at(source, yaml_line(map[key]), where + ": '" + key + "' must be >= 0, got " + map[key].Scalar());
  return value;
}

double yaml_positive(const YAML::Node& map, const char* key, const std::string& source,
                     const std::string& where) {
  const double value = yaml_number(map, key, source, where);
  if (value <= 0)
    throw_at(source, yaml_line(map[key]), where + ": '" + key + "' must be > 0, got " + map[key].Scalar());
  return value;
}

long long yaml_integer(const YAML::Node& map, const char* key, const std::string& source,
                       const std::string& where) {
  const double value = yaml_number(map, key, source, where);
  if (value != std::floor(value)) {
    throw_at(source, yaml_line(map[key]),
             where + ": '" + key + "' must be an integer, got " + map[key].Scalar());
  }
  return static_cast<long long>(value);
}

bool yaml_bool(const YAML::Node& map, const char* key, const std::string& source, const std::string& where) {
  const YAML::Node node = map[key];
  if (!node) throw_at(source, yaml_line(map), where + ": missing '" + key + "'");
  const std::string text = node.IsScalar() ? node.Scalar() : std::string();
  if (text == "true") return true;
  if (text == "false") return false;
  throw_at(source, yaml_line(node), where + ": '" + key + "' must be true or false, got '" + text + "'");
}

}  // namespace doppler
