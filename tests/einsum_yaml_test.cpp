// The YAML einsum-graph format: graphs read from YAML equal the same graphs built in C++ (same
// tensors, ops, specs and dims; the reference executor gives identical values), each composite op
// reads back as its builder call, einsum_graph_to_yaml round-trips built-in and training graphs,
// the shipped example loads, and every bad input is one line naming FILE:LINE and the problem.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "doppler/einsum/autodiff.hpp"
#include "doppler/einsum/einsum_builder.hpp"
#include "doppler/einsum/einsum_yaml.hpp"
#include "doppler/einsum/reference_executor.hpp"
#include "doppler/einsum/workloads.hpp"
#include "doppler/error.hpp"
#include "error_of.hpp"

namespace doppler::einsum {
namespace {

using test_support::error_of;

const std::string kExample = std::string(DOPPLER_SOURCE_DIR) + "/configs/einsum/mlp.yaml";

// Equal by tensor name (ids may differ: YAML declares inputs and parameters first).
void expect_same_graph(const EinsumGraph& got, const EinsumGraph& want) {
  ASSERT_EQ(got.num_tensors(), want.num_tensors());
  for (const Tensor& w : want.tensors()) {
    SCOPED_TRACE("tensor " + w.name);
    ASSERT_TRUE(got.has_tensor(w.name));
    const Tensor& g = got.tensor(got.find_tensor(w.name));
    EXPECT_EQ(g.dims, w.dims);
    EXPECT_EQ(g.dtype, w.dtype);
    EXPECT_EQ(g.kind, w.kind);
  }
  ASSERT_EQ(got.num_ops(), want.num_ops());
  for (EinsumOpId o = 0; o < want.num_ops(); ++o) {
    const EinsumOp& g = got.op(o);
    const EinsumOp& w = want.op(o);
    SCOPED_TRACE("op " + w.name);
    EXPECT_EQ(g.name, w.name);
    EXPECT_EQ(g.kind, w.kind);
    EXPECT_EQ(g.axis, w.axis);
    EXPECT_EQ(g.begin, w.begin);
    EXPECT_EQ(g.end, w.end);
    EXPECT_EQ(g.spec.to_string(), w.spec.to_string());
    EXPECT_TRUE(g.spec.join == w.spec.join);
    EXPECT_EQ(g.sizes, w.sizes);
    ASSERT_EQ(g.inputs.size(), w.inputs.size());
    for (std::size_t i = 0; i < w.inputs.size(); ++i)
      EXPECT_EQ(got.tensor(g.inputs[i]).name, want.tensor(w.inputs[i]).name);
  }
}

// Runs both graphs with the same values for every input and parameter (by name) and expects
// bit-identical values in every tensor.
void expect_same_values(const EinsumGraph& got, const EinsumGraph& want) {
  ReferenceOptions want_options;
  ReferenceOptions got_options;
  for (TensorId t = 0; t < want.num_tensors(); ++t) {
    const Tensor& tensor = want.tensor(t);
    if (tensor.producer != kNoProducer) continue;
    std::vector<double> values = random_tensor_values(7, t, tensor.elements(), 0.1, 1.0);
    got_options.given[got.find_tensor(tensor.name)] = values;
    want_options.given[t] = std::move(values);
  }
  const auto got_values = run_reference<double>(got, got_options);
  const auto want_values = run_reference<double>(want, want_options);
  for (TensorId t = 0; t < want.num_tensors(); ++t)
    EXPECT_EQ(got_values[got.find_tensor(want.tensor(t).name)], want_values[t]) << want.tensor(t).name;
}

EinsumGraph parse(const std::string& text) {
  return parse_einsum_graph(text, "g.yaml");
}

std::string parse_error(const std::string& text) {
  return error_of([&] { parse(text); });
}

TEST(EinsumYaml, ExampleMlpEqualsFfnnBuiltInCpp) {
  const EinsumGraph yaml = load_einsum_graph(kExample);
  const EinsumGraph cpp = ffnn({.batch = 64, .in = 256, .hidden = 512, .out = 128, .layers = 2});
  expect_same_graph(yaml, cpp);
}

TEST(EinsumYaml, SmallMlpGivesTheSameValuesAsCpp) {
  const EinsumGraph yaml = parse(R"yaml(einsum_graph: mlp
dtype: f32
inputs: {x: [4, 6]}
parameters: {w0: [6, 8], b0: [8], w1: [8, 3], b1: [3]}
ops:
  - z0: {matmul: [x, w0]}
  - a0: {einsum: "ij,j->ij | join=a+b", inputs: [z0, b0]}
  - h0: {relu: a0}
  - z1: {matmul: [h0, w1]}
  - y:  {einsum: "ij,j->ij | join=a+b", inputs: [z1, b1]}
outputs: [y]
)yaml");
  const EinsumGraph cpp =
      ffnn({.batch = 4, .in = 6, .hidden = 8, .out = 3, .layers = 2, .dtype = DType::kF32});
  expect_same_graph(yaml, cpp);
  expect_same_values(yaml, cpp);
}

TEST(EinsumYaml, DocumentedExampleParses) {  // docs/FORMATS.md, "Einsum graphs"
  const EinsumGraph g = parse(R"yaml(einsum_graph: mlp
dtype: bf16
inputs:     {x: [64, 256]}
parameters: {w0: {dims: [256, 512], init_scale: 0.0625}, b0: [512], w1: [512, 128]}
ops:
  - h0: {einsum: "ij,jk->ik", inputs: [x, w0]}
  - a0: {einsum: "ij,j->ij | join=relu(a+b)", inputs: [h0, b0]}
  - p:  {softmax: a0, axis: 1}
  - y:  {matmul: [p, w1]}
outputs: [y]
)yaml");
  EXPECT_EQ(g.num_ops(), 7u);
  EXPECT_EQ(g.tensor(g.find_tensor("y")).dims, (std::vector<std::int64_t>{64, 128}));
  EXPECT_EQ(g.tensor(g.find_tensor("y")).kind, TensorKind::kOutput);
  EXPECT_EQ(g.tensor(g.find_tensor("y")).dtype, DType::kBF16);
  EXPECT_EQ(g.tensor(g.find_tensor("w0")).init_scale, 0.0625);
  EXPECT_EQ(g.tensor(g.find_tensor("w1")).init_scale, 1.0);
}

TEST(EinsumYaml, EmptySectionsAndBlockStyleOps) {
  const EinsumGraph g = parse(R"yaml(einsum_graph: e
inputs:
  x: {dims: [2, 3], dtype: f16}
parameters:
ops:
  - r:
      relu: x
  - s:
      einsum: "ij->j"
      inputs: [r]
outputs: [s]
)yaml");
  EXPECT_EQ(g.num_ops(), 2u);
  EXPECT_EQ(g.tensor(g.find_tensor("s")).dtype, DType::kF16);
  EXPECT_EQ(parse_error("einsum_graph: e\ninputs: {x: [2, 3]}\nops:\n  - s:\n      einsum: \"ij,j->j\"\n"
                        "      inputs: [x, x]\noutputs: [s]\n"),
            "g.yaml:4: op 's': input 1 has 2 dims but 'j' has 1");  // the op's line
  EXPECT_EQ(parse_error("einsum_graph: e\ninputs: {x: [2, 3]}\nops:\n  - s:\n      einsum: \"ij->q\"\n"
                        "      inputs: [x]\noutputs: [s]\n"),
            "g.yaml:5: op 's': einsum 'ij->q': output index q appears in no input");  // the text's line
}

// The attention block of a Llama layer (RMSNorm, per-head Q/K/V, scaled scores, softmax,
// context, output projection, residual), built with the builder in C++; with `loss`, the tensor
// loss = sum(y * loss.weight) is added and marked too.
EinsumGraph attention_block(bool with_loss) {
  EinsumGraph g;
  const TensorId x = g.add_input("x", {2, 4, 8}, DType::kBF16);
  const TensorId norm_w = g.add_parameter("attn_norm.w", {8}, DType::kBF16);
  const TensorId xn = rms_norm(g, "attn_norm", x, norm_w, 2);
  std::vector<TensorId> qkv;
  for (const std::string name : {"q", "k", "v"})
    qkv.push_back(
        g.add_einsum(name, "bsh,hnd->bsnd", {xn, g.add_parameter("w" + name, {8, 2, 4}, DType::kBF16)}));
  const TensorId raw = g.add_einsum("scores.raw", "bsnd,btnd->bnst", {qkv[0], qkv[1]});
  const TensorId probs = softmax(g, "probs", scale(g, "scores", raw, 0.5), 3);
  const TensorId context = g.add_einsum("context", "bnst,btnd->bsnd", {probs, qkv[2]});
  const TensorId wo = g.add_parameter("wo", {2, 4, 8}, DType::kBF16);
  const TensorId y = add(g, "y", x, g.add_einsum("attn", "bsnd,ndh->bsh", {context, wo}));
  g.mark_output(y);
  if (with_loss) {
    const TensorId weight = g.add_input("loss.weight", {2, 4, 8}, DType::kF32);
    g.mark_output(g.add_einsum("loss", "bsh,bsh->", {y, weight}));
  }
  return g;
}

TEST(EinsumYaml, AttentionBlockEqualsTheBuilderCalls) {
  const EinsumGraph yaml = parse(R"yaml(einsum_graph: attention
dtype: bf16
inputs:
  x: [2, 4, 8]
parameters:
  attn_norm.w: [8]
  wq: [8, 2, 4]
  wk: [8, 2, 4]
  wv: [8, 2, 4]
  wo: [2, 4, 8]
ops:
  - attn_norm: {rms_norm: x, weight: attn_norm.w, axis: 2}
  - q: {einsum: "bsh,hnd->bsnd", inputs: [attn_norm, wq]}
  - k: {einsum: "bsh,hnd->bsnd", inputs: [attn_norm, wk]}
  - v: {einsum: "bsh,hnd->bsnd", inputs: [attn_norm, wv]}
  - scores.raw: {einsum: "bsnd,btnd->bnst", inputs: [q, k]}
  - scores: {scale: scores.raw, factor: 0.5}
  - probs: {softmax: scores, axis: 3}
  - context: {einsum: "bnst,btnd->bsnd", inputs: [probs, v]}
  - attn: {einsum: "bsnd,ndh->bsh", inputs: [context, wo]}
  - y: {add: [x, attn]}
outputs: [y]
)yaml");
  const EinsumGraph cpp = attention_block(false);
  expect_same_graph(yaml, cpp);
  expect_same_values(yaml, cpp);
}

// One composite op in YAML against the same builder call, on inputs x, y, c, s [3, 4] and
// parameter w [4].
struct CompositeCase {
  const char* name;
  const char* op_yaml;  // the op entry, producing tensor `r`
  std::function<void(EinsumGraph&, const std::vector<TensorId>& xycsw)> build;
};

class EinsumYamlComposite : public ::testing::TestWithParam<CompositeCase> {};

TEST_P(EinsumYamlComposite, ReadsBackAsItsBuilderCall) {
  const CompositeCase& c = GetParam();
  const EinsumGraph yaml =
      parse(std::string("einsum_graph: one\ninputs: {x: [3, 4], y: [3, 4], c: [3, 4], s: [3, 4]}\n") +
            "parameters: {w: [4]}\nops:\n  - " + c.op_yaml + "\noutputs: [r]\n");
  EinsumGraph cpp;
  std::vector<TensorId> given;
  for (const char* name : {"x", "y", "c", "s"}) given.push_back(cpp.add_input(name, {3, 4}));
  given.push_back(cpp.add_parameter("w", {4}));
  c.build(cpp, given);
  cpp.mark_output(cpp.find_tensor("r"));
  expect_same_graph(yaml, cpp);
  expect_same_values(yaml, cpp);
}

using T = std::vector<TensorId>;

// in = {x, y, c, s, w}.
INSTANTIATE_TEST_SUITE_P(
    EveryKind, EinsumYamlComposite,
    ::testing::Values(
        CompositeCase{"einsum", R"yaml(r: {einsum: "ij,ij->i | join=a*b+1 | agg=max", inputs: [x, y]})yaml",
                      [](EinsumGraph& g, const T& in) {
                        g.add_einsum("r", "ij,ij->i | join=a*b+1 | agg=max", {in[0], in[1]});
                      }},
        CompositeCase{"einsum_fill", R"yaml(r: {einsum: "->ij | join=0.25", dims: [2, 3], dtype: f16})yaml",
                      [](EinsumGraph& g, const T&) {
                        g.add_einsum_as("r", parse_einsum("->ij | join=0.25"), {}, DType::kF16, {2, 3});
                      }},
        CompositeCase{"matmul", "q: {transpose: y, perm: [1, 0]}\n  - r: {matmul: [x, q]}",
                      [](EinsumGraph& g, const T& in) {
                        matmul(g, "r", in[0], transpose(g, "q", in[1], {1, 0}));
                      }},
        CompositeCase{"transpose", "r: {transpose: x, perm: [1, 0]}",
                      [](EinsumGraph& g, const T& in) {
                        transpose(g, "r", in[0], {1, 0});
                      }},
        CompositeCase{"scale", "r: {scale: x, factor: -0.125}",
                      [](EinsumGraph& g, const T& in) { scale(g, "r", in[0], -0.125); }},
        CompositeCase{"elementwise", R"yaml(r: {elementwise: "max(a,b)*exp(a)", inputs: [x, y]})yaml",
                      [](EinsumGraph& g, const T& in) {
                        elementwise(g, "r", "max(a,b)*exp(a)", {in[0], in[1]});
                      }},
        CompositeCase{"add", "r: {add: [x, y]}",
                      [](EinsumGraph& g, const T& in) { add(g, "r", in[0], in[1]); }},
        CompositeCase{"mul", "r: {mul: [x, y]}",
                      [](EinsumGraph& g, const T& in) { mul(g, "r", in[0], in[1]); }},
        CompositeCase{"relu", "r: {relu: x}", [](EinsumGraph& g, const T& in) { relu(g, "r", in[0]); }},
        CompositeCase{"silu", "r: {silu: x}", [](EinsumGraph& g, const T& in) { silu(g, "r", in[0]); }},
        CompositeCase{"gelu", "r: {gelu: x}", [](EinsumGraph& g, const T& in) { gelu(g, "r", in[0]); }},
        CompositeCase{"fill", "r: {fill: [4, 2], value: 1.5, dtype: bf16}",
                      [](EinsumGraph& g, const T&) {
                        fill(g, "r", {4, 2}, 1.5, DType::kBF16);
                      }},
        CompositeCase{"fill_file_dtype", "r: {fill: [4], value: 2}",
                      [](EinsumGraph& g, const T&) { fill(g, "r", {4}, 2, DType::kF32); }},
        CompositeCase{"softmax", "r: {softmax: x, axis: 0}",
                      [](EinsumGraph& g, const T& in) { softmax(g, "r", in[0], 0); }},
        CompositeCase{"rms_norm", "r: {rms_norm: x, weight: w, axis: 1}",
                      [](EinsumGraph& g, const T& in) { rms_norm(g, "r", in[0], in[4], 1); }},
        CompositeCase{"rms_norm_eps", "r: {rms_norm: x, weight: w, axis: 1, eps: 0.001}",
                      [](EinsumGraph& g, const T& in) { rms_norm(g, "r", in[0], in[4], 1, 0.001); }},
        CompositeCase{"reshape", "r: {reshape: x, dims: [3, 2, 2]}",
                      [](EinsumGraph& g, const T& in) {
                        reshape(g, "r", in[0], {3, 2, 2});
                      }},
        CompositeCase{"reshape_indices",
                      R"yaml(r: {reshape: x, indices: "ij->kl", dims: [2, 6], dtype: f16})yaml",
                      [](EinsumGraph& g, const T& in) {
                        g.add_op_as(EinsumOp{"r", parse_indices("ij->kl"), {}, 0, {}, OpKind::kReshape},
                                    {in[0]}, DType::kF16, {2, 6});
                      }},
        CompositeCase{"slice", "r: {slice: x, axis: 1, begin: 1, end: 3}",
                      [](EinsumGraph& g, const T& in) { slice(g, "r", in[0], 1, 1, 3); }},
        CompositeCase{"slice_indices", R"yaml(r: {slice: x, indices: "ij->kj", begin: 2, end: 3})yaml",
                      [](EinsumGraph& g, const T& in) { g.add_slice("r", "ij->kj", in[0], 2, 3); }},
        CompositeCase{"concat", "r: {concat: [x, y, x], axis: 0}",
                      [](EinsumGraph& g, const T& in) {
                        concat(g, "r", {in[0], in[1], in[0]}, 0);
                      }},
        CompositeCase{"concat_indices", R"yaml(r: {concat: [x, y], indices: "ij,ik->il"})yaml",
                      [](EinsumGraph& g, const T& in) {
                        g.add_concat("r", "ij,ik->il", {in[0], in[1]});
                      }},
        CompositeCase{"rotary", "r: {rotary: x, cos: c, sin: s, seq_axis: 0, head_axis: 1}",
                      [](EinsumGraph& g, const T& in) { rotary(g, "r", in[0], in[2], in[3], 0, 1); }}),
    [](const ::testing::TestParamInfo<CompositeCase>& param) { return std::string(param.param.name); });

// einsum_graph_to_yaml, then parse_einsum_graph: the same graph and values.
void expect_round_trip(const EinsumGraph& graph, const std::string& name) {
  const std::string text = einsum_graph_to_yaml(graph, name);
  SCOPED_TRACE(text);
  const EinsumGraph back = parse(text);
  expect_same_graph(back, graph);
  expect_same_values(back, graph);
  EXPECT_EQ(einsum_graph_to_yaml(back, name), text);
}

TEST(EinsumYamlWriter, RoundTripsBuiltInWorkloads) {
  expect_round_trip(chain_mm({.n = 3, .length = 5}), "chain_mm");
  expect_round_trip(ffnn({.batch = 4, .in = 6, .hidden = 8, .out = 3, .layers = 3}), "ffnn");
  expect_round_trip(attention_block(false), "attention");
  expect_round_trip(llama_layer({.batch = 1, .seq = 3, .hidden = 4, .heads = 2}), "llama_layer");
}

TEST(EinsumYamlWriter, RoundTripsTrainingGraphsWithMixedDtypes) {
  expect_round_trip(mlp_training_step({.batch = 4, .in = 6, .hidden = 8, .out = 3, .layers = 2}, Adam{}),
                    "mlp_step");
  const EinsumGraph attention = attention_block(true);
  expect_round_trip(training_step_graph(attention, attention.find_tensor("loss"), Sgd{}), "attention_step");
  expect_round_trip(llama_layer_training_step({.batch = 1, .seq = 2, .hidden = 4, .heads = 2}, Adam{}),
                    "llama_step");
  EinsumGraph mixed;
  const TensorId x = mixed.add_input("x", {2, 2}, DType::kBF16);
  const TensorId w = mixed.add_parameter("w", {2}, DType::kF32);
  const TensorId f = fill(mixed, "f", {2}, 0.5, DType::kF16);
  const TensorId s = mixed.add_einsum_as("s", parse_einsum("ij,j,j->i"), {x, w, f}, DType::kF32);
  mixed.mark_output(s);
  expect_round_trip(mixed, "needs: quoting");
}

TEST(EinsumYamlWriter, WritesReadableOps) {
  EinsumGraph g;
  const TensorId x = g.add_input("x", {2, 3});
  g.mark_output(relu(g, "r", x));
  EXPECT_EQ(einsum_graph_to_yaml(g, "tiny"), R"yaml(einsum_graph: tiny
dtype: f32
inputs:
  x: [2, 3]
parameters: {}
ops:
  - r: {einsum: "ij->ij | join=relu(a)", inputs: [x]}
outputs: [r]
)yaml");
}

// --- errors: one line, FILE:LINE, the problem -------------------------------------------------

const std::string kHead =
    "einsum_graph: e\ninputs: {x: [4, 3]}\nparameters: {w: [3, 5]}\nops:\n";  // lines 1-4

TEST(EinsumYamlErrors, MalformedYaml) {
  const std::string message = parse_error(kHead + "  - h: {matmul: [x, w]\noutputs: [h]\n");
  EXPECT_EQ(message.rfind("g.yaml:6: malformed YAML: ", 0), 0u) << message;
}

TEST(EinsumYamlErrors, UnknownKeys) {
  EXPECT_EQ(parse_error(kHead + "  - h: {matmul: [x, w]}\noutput: [h]\n"),
            "g.yaml:6: einsum graph: unknown key 'output' (known: einsum_graph, dtype, inputs, parameters, "
            "ops, outputs)");
  EXPECT_EQ(parse_error(kHead + "  - h: {einsum: \"ij,jk->ik\", input: [x, w]}\noutputs: [h]\n"),
            "g.yaml:5: op 'h': unknown key 'input' (known: einsum, inputs, dims, dtype)");
  EXPECT_EQ(
      parse_error(kHead + "  - h: {matmull: [x, w]}\noutputs: [h]\n"),
      "g.yaml:5: op 'h': unknown key 'matmull' (op kinds: einsum, matmul, transpose, scale, elementwise, "
      "add, mul, relu, silu, gelu, fill, softmax, rms_norm, reshape, slice, concat, rotary)");
  EXPECT_EQ(parse_error(kHead + "  - h: {matmul: [x, w], factor: 2}\noutputs: [h]\n"),
            "g.yaml:5: op 'h': unknown key 'factor' (known: matmul)");
  EXPECT_EQ(parse_error("einsum_graph: e\ninputs: {x: {dims: [4], dtyp: f16}}\nops: []\noutputs: [x]\n"),
            "g.yaml:2: input 'x': unknown key 'dtyp' (known: dims, dtype)");
}

TEST(EinsumYamlErrors, OpShape) {
  EXPECT_EQ(parse_error(kHead + "  - h: {matmul: [x, w], relu: x}\noutputs: [h]\n"),
            "g.yaml:5: op 'h': both 'matmul' and 'relu'; an op has one kind");
  EXPECT_EQ(
      parse_error(kHead + "  - h: {inputs: [x]}\noutputs: [h]\n"),
      "g.yaml:5: op 'h': no op kind (one of einsum, matmul, transpose, scale, elementwise, add, mul, relu, "
      "silu, gelu, fill, softmax, rms_norm, reshape, slice, concat, rotary)");
  EXPECT_EQ(parse_error(kHead + "  - h: {matmul: [x, w]}\n    g: {relu: x}\noutputs: [h]\n"),
            "g.yaml:5: each op must be one entry 'NAME: {KIND: ARGUMENT, ...}'");
  EXPECT_EQ(parse_error(kHead + "  - h: {matmul: [x]}\noutputs: [h]\n"),
            "g.yaml:5: op 'h': 'matmul' must be a list of 2 tensor names");
  EXPECT_EQ(parse_error(kHead + "  - h: {scale: x}\noutputs: [h]\n"), "g.yaml:5: op 'h': missing 'factor'");
  EXPECT_EQ(parse_error(kHead + "  - h: {scale: x, factor: big}\noutputs: [h]\n"),
            "g.yaml:5: op 'h': 'factor' = 'big' is not a finite number");
  EXPECT_EQ(parse_error(kHead + "  - h: {softmax: x, axis: 0.5}\noutputs: [h]\n"),
            "g.yaml:5: op 'h': 'axis' must be an integer, got 0.5");
  EXPECT_EQ(parse_error(kHead + "  - h: {rms_norm: x, axis: 1}\noutputs: [h]\n"),
            "g.yaml:5: op 'h': missing 'weight'");
}

TEST(EinsumYamlErrors, UnknownTensors) {
  EXPECT_EQ(parse_error(kHead + "  - h: {matmul: [x, v]}\noutputs: [h]\n"),
            "g.yaml:5: op 'h': unknown tensor 'v'");
  EXPECT_EQ(parse_error(kHead + "  - h: {relu: g}\n  - g: {relu: x}\noutputs: [h]\n"),
            "g.yaml:5: op 'h': tensor 'g' is used before its op (line 6)");
  EXPECT_EQ(parse_error(kHead + "  - h: {matmul: [x, w]}\noutputs: [hh]\n"),
            "g.yaml:6: outputs: unknown tensor 'hh'");
}

TEST(EinsumYamlErrors, BadEinsumText) {
  EXPECT_EQ(parse_error(kHead + "  - h: {einsum: \"ij,jk->iq\", inputs: [x, w]}\noutputs: [h]\n"),
            "g.yaml:5: op 'h': einsum 'ij,jk->iq': output index q appears in no input");
  EXPECT_EQ(parse_error(kHead + "  - h: {elementwise: \"a*+b\", inputs: [x, x]}\noutputs: [h]\n"),
            "g.yaml:5: op 'h': join 'a*+b': unexpected '+' at column 3");
}

TEST(EinsumYamlErrors, ShapeMismatch) {
  EXPECT_EQ(parse_error(kHead + "  - h: {einsum: \"ij,kj->ik\", inputs: [x, w]}\noutputs: [h]\n"),
            "g.yaml:5: op 'h': index j is 3 in input 0 but 5 in input 1");
  EXPECT_EQ(parse_error(kHead + "  - h: {matmul: [w, x]}\noutputs: [h]\n"),
            "g.yaml:5: op 'h': index j is 5 in input 0 but 4 in input 1");
  EXPECT_EQ(parse_error(kHead + "  - h: {add: [x, w]}\noutputs: [h]\n"),
            "g.yaml:5: op 'h': elementwise inputs 'x' and 'w' differ in shape");
  EXPECT_EQ(parse_error(kHead + "  - h: {softmax: x, axis: 2}\noutputs: [h]\n"),
            "g.yaml:5: op 'h': axis 2 out of range for tensor 'x' of rank 2");
  EXPECT_EQ(parse_error(kHead + "  - h: {einsum: \"ij->ij\", inputs: [x], dims: [4, 3]}\noutputs: [h]\n"),
            "g.yaml:5: op 'h': output dims are inferred from the inputs; give them only for a fill");
}

TEST(EinsumYamlErrors, StructuralOps) {
  EXPECT_EQ(parse_error(kHead + "  - h: {slice: x, axis: 1, begin: 0, end: 4}\noutputs: [h]\n"),
            "g.yaml:5: op 'h': slice [0, 4) is out of range for axis 1 of size 3");
  EXPECT_EQ(parse_error(kHead +
                        "  - h: {slice: x, axis: 1, indices: \"ij->ik\", begin: 0, end: 1}\noutputs: [h]\n"),
            "g.yaml:5: op 'h': give 'axis' or 'indices', not both");
  EXPECT_EQ(parse_error(kHead + "  - h: {slice: x, begin: 0, end: 1}\noutputs: [h]\n"),
            "g.yaml:5: op 'h': missing 'axis'");
  EXPECT_EQ(parse_error(kHead + "  - h: {concat: [x, w], axis: 0, dtype: f16}\noutputs: [h]\n"),
            "g.yaml:5: op 'h': 'dtype' needs 'indices'");
  EXPECT_EQ(parse_error(kHead + "  - h: {reshape: x, dims: [5, 2]}\noutputs: [h]\n"),
            "g.yaml:5: op 'h': reshape of [4, 3] (12 elements) into [5, 2] (10 elements)");
  EXPECT_EQ(parse_error(kHead + "  - h: {reshape: x, indices: \"ij->i|\", dims: [12]}\noutputs: [h]\n"),
            "g.yaml:5: op 'h': einsum 'ij->i|': index letters take no options");
  EXPECT_EQ(parse_error(kHead + "  - h: {rotary: x, cos: x, sin: x, seq_axis: 0}\noutputs: [h]\n"),
            "g.yaml:5: op 'h': missing 'head_axis'");
}

TEST(EinsumYamlErrors, BadDimsAndDtypes) {
  EXPECT_EQ(parse_error("einsum_graph: e\ninputs:\n  x: [4, 0]\nops: []\noutputs: [x]\n"),
            "g.yaml:3: input 'x': dim 0 must be positive");
  EXPECT_EQ(parse_error("einsum_graph: e\ninputs:\n  x: [4, four]\nops: []\noutputs: [x]\n"),
            "g.yaml:3: input 'x': dim: 'four' is not an integer");
  EXPECT_EQ(parse_error("einsum_graph: e\nparameters:\n  w: 4\nops: []\noutputs: [w]\n"),
            "g.yaml:3: parameter 'w': dims must be a list of positive integers like [64, 256]");
  EXPECT_EQ(parse_error("einsum_graph: e\ndtype: f64\nops: []\noutputs: []\n"),
            "g.yaml:2: einsum graph: unknown dtype 'f64' (expected f32, f16 or bf16)");
}

TEST(EinsumYamlErrors, DuplicateNames) {
  EXPECT_EQ(parse_error("einsum_graph: e\ninputs: {x: [2]}\nparameters:\n  x: [2]\nops: []\noutputs: [x]\n"),
            "g.yaml:4: duplicate name 'x' (first defined at line 2)");
  EXPECT_EQ(parse_error(kHead + "  - w: {relu: x}\noutputs: [w]\n"),
            "g.yaml:5: duplicate name 'w' (first defined at line 3)");
  EXPECT_EQ(parse_error(kHead + "  - p: {softmax: x, axis: 1}\n  - p.max: {relu: x}\noutputs: [p]\n"),
            "g.yaml:6: duplicate name 'p.max' (first defined at line 5)");
  EXPECT_EQ(parse_error(kHead + "  - p.max: {relu: x}\n  - p: {softmax: x, axis: 1}\noutputs: [p]\n"),
            "g.yaml:6: einsum graph: tensor 'p.max' already exists");
}

TEST(EinsumYamlErrors, MissingPieces) {
  EXPECT_EQ(parse_error("ops: []\noutputs: []\n"),
            "g.yaml:1: missing 'einsum_graph: NAME' (the key that marks this format)");
  EXPECT_EQ(parse_error("einsum_graph: e\ninputs: {x: [2]}\noutputs: [x]\n"), "g.yaml:1: missing 'ops'");
  EXPECT_EQ(parse_error(kHead + "  - h: {matmul: [x, w]}\n"),
            "g.yaml:1: missing 'outputs' (the list of tensors the graph computes)");
  EXPECT_EQ(parse_error(kHead + "  - h: {matmul: [x, w]}\noutputs: []\n"),
            "g.yaml:6: 'outputs' must be a non-empty list of tensor names");
  EXPECT_EQ(parse_error(kHead + "  - h: {matmul: [x, w]}\noutputs: [x]\n"),
            "g.yaml:6: tensor 'x' is input; only op results can be outputs");
  EXPECT_EQ(parse_error("- just\n- a list\n"),
            "g.yaml:1: an einsum graph file must be a mapping with 'einsum_graph', 'ops' and 'outputs'");
}

TEST(EinsumYamlErrors, LoadNamesTheFile) {
  const std::string message = error_of([] { load_einsum_graph("/nonexistent/graph.yaml"); });
  EXPECT_NE(message.find("/nonexistent/graph.yaml"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos);
}

}  // namespace
}  // namespace doppler::einsum
