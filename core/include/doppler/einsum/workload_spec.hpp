#pragma once
// Contract: the einsum workload of an experiment config and how to decompose it (docs/CLI.md):
//   einsum:                        # a built-in generator (workloads.hpp) with its sizes ...
//     workload: llama_layer        # chain_mm | ffnn | llama_block | llama_layer | mlp_training_step
//     batch: 8                     #   | llama_layer_training_step; keys are the generator's options
//     dtype: bf16                  # f32 | f16 | bf16
//     optimizer: adam              # training steps: sgd | adam, with lr
//   einsum: {file: model.yaml}     # ... or an einsum graph file (docs/FORMATS.md)
//   einsum: {..., fuse: true}      # either, with elementwise ops inlined (fusion.hpp; default false)
//   decompose: {method: eindecomp, devices: 4, wide: false, max_candidates: 1024, aggregate_fan_in: 0}
// `decompose` is optional: eindecomp over the machine's devices. Unknown keys, keys the generator
// does not take and bad values throw a one-line Error "FILE:LINE: 'einsum.KEY': PROBLEM".
#include <yaml-cpp/yaml.h>

#include <string>

#include "doppler/config_fields.hpp"
#include "doppler/einsum/decomposition.hpp"
#include "doppler/einsum/workloads.hpp"

namespace doppler::einsum {

struct EinsumWorkloadSpec {
  std::string generator;  // empty when `file` is set
  std::string file;       // resolved against the config's directory
  ChainMmOptions chain_mm;
  FfnnOptions ffnn;
  LlamaOptions llama;
  Optimizer optimizer = Sgd{};
  bool fuse = false;  // fuse_elementwise() the built graph
  std::string label() const { return generator.empty() ? file : generator; }
};

struct DecomposeSpec {
  DecomposeOptions options;
  bool devices_given = false;  // else: the machine's device count
};

const std::vector<std::string>& workload_generator_names();
EinsumWorkloadSpec read_einsum_workload(const YAML::Node& node, const ConfigFields& fields);
// `field` names the mapping in errors ("decompose"; offload's list gives "offload.decompositions").
DecomposeSpec read_decompose(const YAML::Node& node, const ConfigFields& fields,
                             const std::string& field = "decompose");
EinsumGraph build_einsum_workload(const EinsumWorkloadSpec& spec);
// The spec as the flow map of an `einsum:` key, every option written out, e.g.
// "{workload: ffnn, batch: 64, in: 256, hidden: 512, out: 128, layers: 3, dtype: bf16}"; a file
// spec gives "{file: FILE}" with `file_as_written` in place of the resolved path; both end with
// ", fuse: true" when set.
std::string einsum_workload_yaml(const EinsumWorkloadSpec& spec, const std::string& file_as_written = "");
// `{method: M, devices: N, wide: B, max_candidates: K}`, and `aggregate_fan_in: F` when set.
std::string decompose_yaml(const DecomposeOptions& options);

}  // namespace doppler::einsum
