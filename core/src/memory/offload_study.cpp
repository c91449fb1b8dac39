#include "doppler/memory/offload_study.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>

#include "doppler/config_fields.hpp"
#include "doppler/error.hpp"

namespace doppler::memory {

const char* run_order_name(RunOrder order) {
  return order == RunOrder::kEventDriven ? "event" : "fixed";
}

namespace {

template <typename Read>
void read_list(const ConfigFields& in, const YAML::Node& value, const std::string& field, Read read) {
  if (!value.IsSequence()) in.fail(value, field, "expected a list");
  if (value.size() == 0) in.fail(value, field, "must not be empty");
  for (std::size_t i = 0; i < value.size(); ++i) read(YAML::Node(value[i]), field);
}

}  // namespace

OffloadStudy read_offload_study(const Experiment& experiment, const std::vector<std::string>& placements) {
  const auto found = experiment.sections.find("offload");
  if (found == experiment.sections.end())
    throw Error(experiment.source + ": no 'offload' section (docs/OFFLOAD.md says what it sweeps)");
  const ConfigFields in(experiment.source);
  const YAML::Node& section = *found->second;
  OffloadStudy study;
  for (auto it = section.begin(); it != section.end(); ++it) {
    const std::string key = it->first.Scalar();
    const std::string field = "offload." + key;
    const YAML::Node value = it->second;
    if (key == "budget_fractions") {
      read_list(in, value, field, [&](const YAML::Node& item, const std::string& f) {
        const double x = in.number(item, f);
        if (!(x > 0 && x <= 1)) in.fail(item, f, "a fraction of the working set must be in (0, 1]");
        study.budget_fractions.push_back(x);
      });
    } else if (key == "budget_bytes") {
      read_list(in, value, field, [&](const YAML::Node& item, const std::string& f) {
        const double x = in.number(item, f);
        if (!(x >= 1)) in.fail(item, f, "must be at least 1 byte");
        study.budget_bytes.push_back(x);
      });
    } else if (key == "bandwidths") {
      read_list(in, value, field, [&](const YAML::Node& item, const std::string& f) {
        const double x = in.number(item, f);
        if (!(x > 0)) in.fail(item, f, "must be positive");
        study.bandwidths.push_back(x);
      });
    } else if (key == "gpus") {
      read_list(in, value, field, [&](const YAML::Node& item, const std::string& f) {
        const std::uint64_t n = in.unsigned_integer(item, f);
        if (n == 0) in.fail(item, f, "must be at least 1");
        study.gpus.push_back(static_cast<std::size_t>(n));
      });
    } else if (key == "orders") {
      study.orders.clear();
      read_list(in, value, field, [&](const YAML::Node& item, const std::string& f) {
        const std::string name = in.scalar(item, f);
        if (name != "event" && name != "fixed")
          in.fail(item, f, "expected event or fixed, got '" + name + "'");
        study.orders.push_back(name == "event" ? RunOrder::kEventDriven : RunOrder::kFixed);
      });
    } else if (key == "compile_order") {
      try {
        study.compile_order = parse_compile_order(in.scalar(value, field));
      } catch (const Error& e) {
        in.fail(value, field, e.what());
      }
    } else if (key == "placement") {
      study.placement = in.scalar(value, field);
      if (std::find(placements.begin(), placements.end(), study.placement) == placements.end()) {
        std::string known;
        for (const std::string& name : placements) known += (known.empty() ? "" : ", ") + name;
        in.fail(value, field, "unknown placement method '" + study.placement + "' (known: " + known + ")");
      }
    } else if (key == "alignment") {
      study.alignment = in.unsigned_integer(value, field);
      if (study.alignment == 0) in.fail(value, field, "must be at least 1");
    } else if (key == "decompositions") {
      read_list(in, value, field, [&](const YAML::Node& item, const std::string& f) {
        einsum::DecomposeSpec spec = einsum::read_decompose(item, in, f);
        for (const einsum::DecomposeSpec& seen : study.decompositions)
          if (seen.devices_given == spec.devices_given &&
              einsum::decompose_yaml(seen.options) == einsum::decompose_yaml(spec.options))
            in.fail(item, f, "the same decomposition is listed twice");
        study.decompositions.push_back(std::move(spec));
      });
    } else if (key == "jitter") {
      study.jitter = in.number(value, field);
      if (!(study.jitter >= 0 && study.jitter < 1)) in.fail(value, field, "must be in [0, 1)");
    } else {
      in.fail(it->first, field,
              "unknown key (known: budget_fractions, budget_bytes, bandwidths, gpus, orders, compile_order, "
              "placement, alignment, jitter, decompositions)");
    }
  }
  if (study.budget_fractions.empty() && study.budget_bytes.empty())
    in.fail(section, "offload", "give budget_fractions and/or budget_bytes");
  return study;
}

}  // namespace doppler::memory
