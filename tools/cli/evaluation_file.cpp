#include "evaluation_file.hpp"

#include <yaml-cpp/yaml.h>

#include <filesystem>

#include "doppler/config_fields.hpp"
#include "doppler/error.hpp"
#include "doppler/file_io.hpp"
#include "doppler/yaml_util.hpp"

namespace doppler::cli {

namespace fs = std::filesystem;

bool is_evaluation_file(const std::string& path) {
  const std::string extension = fs::path(path).extension().string();
  std::error_code ec;
  if ((extension != ".yaml" && extension != ".yml") || !fs::is_regular_file(path, ec)) return false;
  const YAML::Node root = parse_yaml_document(read_text_file(path), path);
  return root.IsMap() && root["evaluate"];
}

EvaluationFile load_evaluation_file(const std::string& path) {
  const YAML::Node root = parse_yaml_document(read_text_file(path), path);
  const ConfigFields in(path);
  if (!root.IsMap()) throw_at(path, 1, "expected a mapping with an 'evaluate' key");
  for (auto it = root.begin(); it != root.end(); ++it) {
    if (it->first.Scalar() != "evaluate")
      in.fail(it->first, it->first.Scalar(), "unknown key (known: evaluate)");
  }
  const YAML::Node evaluate = root["evaluate"];
  if (!evaluate.IsMap()) in.fail(evaluate, "evaluate", "expected a mapping with samples and runs");
  EvaluationFile file;
  bool has_runs = false;
  for (auto it = evaluate.begin(); it != evaluate.end(); ++it) {
    const std::string key = it->first.Scalar();
    const std::string field = "evaluate." + key;
    if (key == "samples") {
      file.samples = static_cast<std::size_t>(in.unsigned_integer(it->second, field));
      if (file.samples == 0) in.fail(it->second, field, "must be at least 1");
    } else if (key == "runs") {
      has_runs = true;
      if (!it->second.IsSequence() || it->second.size() == 0)
        in.fail(it->second, field, "expected a non-empty list of {config, policy}");
      for (std::size_t i = 0; i < it->second.size(); ++i) {
        const YAML::Node entry = it->second[i];
        const std::string at = field + "[" + std::to_string(i) + "]";
        if (!entry.IsMap()) in.fail(entry, at, "expected {config: FILE, policy: FILE}");
        EvaluationRun run;
        for (auto e = entry.begin(); e != entry.end(); ++e) {
          const std::string name = e->first.Scalar();
          if (name == "config") {
            run.config = in.input_path(e->second, at + ".config");
          } else if (name == "policy") {
            run.policy = in.input_path(e->second, at + ".policy");
          } else {
            in.fail(e->first, at + "." + name, "unknown key (known: config, policy)");
          }
        }
        if (run.config.empty()) in.fail(entry, at + ".config", "missing");
        if (run.policy.empty()) in.fail(entry, at + ".policy", "missing");
        file.runs.push_back(run);
      }
    } else {
      in.fail(it->first, field, "unknown key (known: samples, runs)");
    }
  }
  if (!has_runs) in.fail(evaluate, "evaluate.runs", "missing");
  return file;
}

}  // namespace doppler::cli
