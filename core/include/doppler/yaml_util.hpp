#pragma once
// Contract: yaml-cpp helpers that turn every parse or type problem into a doppler::Error naming
// file and line (yaml-cpp marks are 0-based; these report 1-based lines). parse_yaml_document also
// rejects a mapping that repeats a key (yaml-cpp would keep the last silently).
#include <yaml-cpp/yaml.h>

#include <string>

namespace doppler {

YAML::Node parse_yaml_document(const std::string& text, const std::string& source_name);
std::size_t yaml_line(const YAML::Node& node);
std::string yaml_string(const YAML::Node& map, const char* key, const std::string& source,
                        const std::string& fallback);
double yaml_number(const YAML::Node& map, const char* key, const std::string& source,
                   const std::string& where);
double yaml_non_negative(const YAML::Node& map, const char* key, const std::string& source,
                         const std::string& where);
double yaml_positive(const YAML::Node& map, const char* key, const std::string& source,
                     const std::string& where);
long long yaml_integer(const YAML::Node& map, const char* key, const std::string& source,
                       const std::string& where);
bool yaml_bool(const YAML::Node& map, const char* key, const std::string& source, const std::string& where);

}  // namespace doppler
