// Experiment configs with an einsum workload: built-in generators with their sizes, einsum graph
// files, the decompose section, and every bad-input path (one line naming file:line and the field).
#include <gtest/gtest.h>

#include <string>

#include "doppler/einsum/einsum_yaml.hpp"
#include "doppler/experiment.hpp"
#include "error_of.hpp"

namespace doppler {
namespace {

using test_support::error_of;

const ExperimentNames kNames{{"paper", "roofline"}, {"heft"}, {}};
const std::string kConfig = std::string(DOPPLER_SOURCE_DIR) + "/configs/einsum/test.yaml";

Experiment parse(const std::string& text) {
  return parse_experiment(text, kConfig, kNames);
}

TEST(WorkloadSpec, BuiltInGeneratorWithSizes) {
  const Experiment e = parse(
      "einsum: {workload: llama_layer, batch: 2, seq: 16, hidden: 32, heads: 4, ffn: 64, dtype: f32}\n"
      "devices: 2\n");
  ASSERT_TRUE(e.einsum.has_value());
  EXPECT_TRUE(e.graph.empty());
  EXPECT_EQ(e.einsum->label(), "llama_layer");
  const einsum::EinsumGraph g = einsum::build_einsum_workload(*e.einsum);
  EXPECT_EQ(g.tensor(g.find_tensor("x")).dims, (std::vector<std::int64_t>{2, 16, 32}));
  EXPECT_EQ(g.tensor(g.find_tensor("wgate")).dims, (std::vector<std::int64_t>{32, 64}));
  EXPECT_EQ(g.tensor(g.find_tensor("x")).dtype, einsum::DType::kF32);
  EXPECT_FALSE(e.decompose.devices_given);
  EXPECT_EQ(e.decompose.options.method, einsum::DecomposeMethod::kEinDecomp);
}

TEST(WorkloadSpec, TrainingStepWithAdam) {
  const Experiment e = parse(
      "einsum: {workload: mlp_training_step, batch: 4, in: 3, hidden: 5, out: 2, layers: 2, optimizer: adam, "
      "lr: 0.5}\ndevices: 2\n");
  ASSERT_TRUE(std::holds_alternative<einsum::Adam>(e.einsum->optimizer));
  EXPECT_EQ(std::get<einsum::Adam>(e.einsum->optimizer).lr, 0.5);
  const einsum::EinsumGraph g = einsum::build_einsum_workload(*e.einsum);
  EXPECT_TRUE(g.has_tensor("new.m.w1"));
}

TEST(WorkloadSpec, GraphFileAndDecomposeSection) {
  const Experiment e = parse(
      "einsum: {file: mlp.yaml}\ndecompose: {method: model, devices: 8, wide: true, max_candidates: 7, "
      "aggregate_fan_in: 2}\n"
      "devices: 2\n");
  EXPECT_EQ(e.einsum->label(), std::string(DOPPLER_SOURCE_DIR) + "/configs/einsum/mlp.yaml");
  const einsum::EinsumGraph g = einsum::build_einsum_workload(*e.einsum);
  EXPECT_EQ(g.num_ops(), einsum::load_einsum_graph(e.einsum->file).num_ops());
  EXPECT_TRUE(e.decompose.devices_given);
  EXPECT_EQ(e.decompose.options.devices, 8);
  EXPECT_EQ(e.decompose.options.method, einsum::DecomposeMethod::kModelParallel);
  EXPECT_TRUE(e.decompose.options.wide_search);
  EXPECT_EQ(e.decompose.options.max_candidates, 7);
  EXPECT_EQ(e.decompose.options.aggregate_fan_in, 2);
  EXPECT_EQ(einsum::decompose_yaml(e.decompose.options),
            "{method: model, devices: 8, wide: true, max_candidates: 7, aggregate_fan_in: 2}");
}

TEST(WorkloadSpec, WrittenBackAsYamlItReadsTheSame) {
  for (const std::string einsum :
       {"{workload: chain_mm, n: 12, length: 5, dtype: f32}", "{workload: ffnn, batch: 4, layers: 2}",
        "{workload: llama_block, batch: 2, seq: 8, hidden: 16, heads: 2, dtype: f16}",
        "{workload: llama_layer, batch: 2, seq: 8, hidden: 16, heads: 2, layers: 2}",
        "{workload: llama_layer_training_step, batch: 1, seq: 4, hidden: 8, heads: 2, optimizer: adam, lr: "
        "0.25}",
        "{workload: mlp_training_step, batch: 3, in: 2, hidden: 4, out: 2}",
        "{workload: llama_layer, batch: 2, seq: 8, hidden: 16, heads: 2, fuse: true}"}) {
    const Experiment e = parse("einsum: " + einsum + "\ndecompose: {method: data, devices: 3}\ndevices: 2\n");
    const std::string text = einsum::einsum_workload_yaml(*e.einsum);
    const Experiment again = parse(
        "einsum: " + text + "\ndecompose: " + einsum::decompose_yaml(e.decompose.options) + "\ndevices: 2\n");
    EXPECT_EQ(einsum::einsum_workload_yaml(*again.einsum), text) << einsum;
    EXPECT_EQ(again.decompose.options.devices, 3);
    EXPECT_EQ(again.decompose.options.method, einsum::DecomposeMethod::kDataParallel);
    const einsum::EinsumGraph a = einsum::build_einsum_workload(*e.einsum);
    const einsum::EinsumGraph b = einsum::build_einsum_workload(*again.einsum);
    ASSERT_EQ(a.num_ops(), b.num_ops()) << text;
    for (einsum::TensorId t = 0; t < a.num_tensors(); ++t)
      EXPECT_EQ(a.tensor(t).dims, b.tensor(t).dims) << text;
  }
  EXPECT_EQ(einsum::einsum_workload_yaml(*parse("einsum: {file: mlp.yaml}\ndevices: 2\n").einsum, "g.yaml"),
            "{file: g.yaml}");
  EXPECT_EQ(einsum::einsum_workload_yaml(*parse("einsum: {file: mlp.yaml, fuse: true}\ndevices: 2\n").einsum,
                                         "g.yaml"),
            "{file: g.yaml, fuse: true}");
}

TEST(WorkloadSpec, BadInputNamesFileLineAndField) {
  const std::string at = kConfig + ":";
  const auto error = [](const std::string& text) { return error_of([&] { parse(text); }); };
  EXPECT_EQ(
      error("einsum: {workload: gpt}\ndevices: 2\n"),
      at + "1: 'einsum.workload': unknown workload 'gpt' (known: chain_mm, ffnn, llama_block, llama_layer, "
           "mlp_training_step, llama_layer_training_step)");
  EXPECT_EQ(
      error("einsum: {workload: ffnn, seq: 4}\ndevices: 2\n"),
      at + "1: 'einsum.seq': unknown key for ffnn (known: batch, dtype, hidden, in, layers, out, fuse)");
  EXPECT_EQ(error("einsum: {workload: ffnn, batch: 0}\ndevices: 2\n"),
            at + "1: 'einsum.batch': must be at least 1");
  EXPECT_NE(error("einsum: {workload: ffnn, dtype: f8}\ndevices: 2\n").find("'einsum.dtype'"),
            std::string::npos);
  EXPECT_EQ(error("einsum: {workload: ffnn, lr: 0.1}\ndevices: 2\n"),
            at + "1: 'einsum.lr': unknown key for ffnn (known: batch, dtype, hidden, in, layers, out, fuse)");
  EXPECT_EQ(error("einsum: {workload: mlp_training_step, optimizer: rmsprop}\ndevices: 2\n"),
            at + "1: 'einsum.optimizer': unknown optimizer 'rmsprop' (known: sgd, adam)");
  EXPECT_EQ(error("einsum: {workload: llama_layer, hidden: 10, heads: 4}\ndevices: 2\n"),
            at + "1: 'einsum': llama_layer: hidden 10 is not divisible by heads 4");
  EXPECT_EQ(error("einsum:\n  file: nowhere.yaml\ndevices: 2\n"),
            at + "2: 'einsum.file': file '" + std::string(DOPPLER_SOURCE_DIR) +
                "/configs/einsum/nowhere.yaml' does not exist (resolved from 'nowhere.yaml')");
  EXPECT_EQ(error("einsum: {file: mlp.yaml, workload: ffnn}\ndevices: 2\n"),
            at + "1: 'einsum.file': give either 'workload' or 'file', not both");
  EXPECT_NE(error("einsum: {batch: 2}\ndevices: 2\n").find("missing 'workload'"), std::string::npos);
  EXPECT_EQ(error("graph: random:5\neinsum: {workload: ffnn}\ndevices: 2\n"),
            at + "2: 'einsum': give either 'graph' or 'einsum', not both");
  EXPECT_EQ(error("graph: random:5\ndecompose: {method: data}\ndevices: 2\n"),
            at + "2: 'decompose': only an 'einsum' workload is decomposed");
  EXPECT_EQ(
      error("einsum: {workload: ffnn}\ndecompose: {method: zero}\ndevices: 2\n"),
      at +
          "2: 'decompose.method': unknown decomposition method 'zero' (known: eindecomp, data, model, none)");
  EXPECT_EQ(error("einsum: {workload: ffnn}\ndecompose: {devices: 0}\ndevices: 2\n"),
            at + "2: 'decompose.devices': must be between 1 and 4096");
  EXPECT_EQ(error("einsum: {workload: ffnn}\ndecompose: {wide: maybe}\ndevices: 2\n"),
            at + "2: 'decompose.wide': 'maybe' is not true or false");
  EXPECT_EQ(error("einsum: {workload: ffnn}\ndecompose: {split: 2}\ndevices: 2\n"),
            at + "2: 'decompose.split': unknown key (known: method, devices, wide, max_candidates, "
                 "aggregate_fan_in)");
  EXPECT_EQ(error("einsum: {workload: ffnn}\ndecompose: {aggregate_fan_in: 1}\ndevices: 2\n"),
            at + "2: 'decompose.aggregate_fan_in': must be 0 (unlimited) or between 2 and 1000000");
  EXPECT_EQ(error("devices: 2\n"),
            at + "1: missing 'graph' (a graph file or random:N) or 'einsum' (an einsum workload)");
}

}  // namespace
}  // namespace doppler
