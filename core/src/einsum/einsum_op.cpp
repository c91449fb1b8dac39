#include "doppler/einsum/einsum_op.hpp"

#include <limits>

#include "doppler/error.hpp"

namespace doppler::einsum {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

[[noreturn]] void fail(std::string_view text, const std::string& what) {
  throw Error("einsum '" + std::string(text) + "': " + what);
}

std::string operand_name(std::size_t i) {
  return "input " + std::to_string(i);
}

void check_operand(const std::string& text, const std::string& name, const std::string& indices) {
  bool seen[26] = {};
  for (const char c : indices) {
    if (c < 'a' || c > 'z') {
      fail(text, std::string("bad index '") + c + "' in " + name + " (indices are single lowercase letters)");
    }
    if (seen[c - 'a']) fail(text, std::string("index ") + c + " repeated in " + name + " '" + indices + "'");
    seen[c - 'a'] = true;
  }
}

Agg parse_agg(std::string_view text, std::string_view value) {
  for (const Agg a : {Agg::kSum, Agg::kMax, Agg::kMin, Agg::kProd}) {
    if (agg_name(a) == value) return a;
  }
  fail(text, "unknown aggregation '" + std::string(value) + "' (expected sum, max, min or prod)");
}

// "IN,IN->OUT" of `text`: the operands, and the join the product of the inputs.
EinsumSpec parse_head(std::string_view text, std::string_view head) {
  const std::size_t arrow = head.find("->");
  if (arrow == std::string_view::npos) fail(text, "missing '->'");
  if (head.find("->", arrow + 2) != std::string_view::npos) fail(text, "more than one '->'");
  EinsumSpec spec;
  spec.output = std::string(trim(head.substr(arrow + 2)));
  const std::string_view lhs = trim(head.substr(0, arrow));
  if (!lhs.empty()) {
    std::size_t start = 0;
    while (true) {
      const std::size_t comma = lhs.find(',', start);
      spec.inputs.emplace_back(
          trim(lhs.substr(start, comma == std::string_view::npos ? comma : comma - start)));
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
  }
  spec.join = product_of_inputs(static_cast<int>(spec.inputs.size()));
  return spec;
}

}  // namespace

std::string_view agg_name(Agg agg) {
  switch (agg) {
    case Agg::kSum:
      return "sum";
    case Agg::kMax:
      return "max";
    case Agg::kMin:
      return "min";
    case Agg::kProd:
      return "prod";
  }
  return "sum";
}

std::string_view op_kind_name(OpKind kind) {
  switch (kind) {
    case OpKind::kEinsum:
      return "einsum";
    case OpKind::kReshape:
      return "reshape";
    case OpKind::kSlice:
      return "slice";
    case OpKind::kConcat:
      return "concat";
    case OpKind::kSoftmax:
      return "softmax";
    case OpKind::kRmsNorm:
      return "rms_norm";
    case OpKind::kRotary:
      return "rotary";
  }
  return "einsum";
}

double agg_identity(Agg agg) {
  switch (agg) {
    case Agg::kSum:
      return 0;
    case Agg::kMax:
      return -std::numeric_limits<double>::infinity();
    case Agg::kMin:
      return std::numeric_limits<double>::infinity();
    case Agg::kProd:
      return 1;
  }
  return 0;
}

void EinsumSpec::validate_indices() const {
  const std::string text = to_string();
  for (std::size_t i = 0; i < inputs.size(); ++i) check_operand(text, operand_name(i), inputs[i]);
  check_operand(text, "output", output);
}

void EinsumSpec::validate() const {
  const std::string text = to_string();
  validate_indices();
  if (!inputs.empty()) {
    for (const char c : output) {
      bool found = false;
      for (const std::string& in : inputs) found = found || in.find(c) != std::string::npos;
      if (!found) fail(text, std::string("output index ") + c + " appears in no input");
    }
  }
  const int used = join.max_input();
  if (used >= static_cast<int>(inputs.size())) {
    fail(text, std::string("join uses input '") + static_cast<char>('a' + used) + "' but the op has " +
                   std::to_string(inputs.size()) + (inputs.size() == 1 ? " input" : " inputs"));
  }
}

std::string EinsumSpec::aggregated_indices() const {
  std::string result;
  for (const std::string& in : inputs) {
    for (const char c : in) {
      if (output.find(c) == std::string::npos && result.find(c) == std::string::npos) result += c;
    }
  }
  return result;
}

std::string EinsumSpec::to_string() const {
  std::string s;
  for (std::size_t i = 0; i < inputs.size(); ++i) s += (i ? "," : "") + inputs[i];
  s += "->" + output;
  if (!join_is_product()) s += " | join=" + join.to_string();
  if (agg != Agg::kSum) s += " | agg=" + std::string(agg_name(agg));
  return s;
}

EinsumSpec make_einsum(std::string output, std::vector<std::string> inputs, Expr join, Agg agg) {
  EinsumSpec spec{std::move(output), std::move(inputs), std::move(join), agg};
  spec.validate();
  return spec;
}

EinsumSpec parse_einsum(std::string_view text) {
  const std::size_t bar = text.find('|');
  EinsumSpec spec = parse_head(text, trim(text.substr(0, bar)));
  bool have_join = false;
  bool have_agg = false;
  std::size_t pos = bar;
  while (pos != std::string_view::npos) {
    const std::size_t next = text.find('|', pos + 1);
    const std::string_view option =
        trim(text.substr(pos + 1, next == std::string_view::npos ? next : next - pos - 1));
    pos = next;
    const std::size_t eq = option.find('=');
    const std::string_view key = trim(option.substr(0, eq));
    const std::string_view value = eq == std::string_view::npos ? "" : trim(option.substr(eq + 1));
    if (eq == std::string_view::npos || (key != "join" && key != "agg")) {
      fail(text, "unknown option '" + std::string(option) + "' (expected join=EXPR or agg=sum|max|min|prod)");
    }
    if (key == "join") {
      if (have_join) fail(text, "join given twice");
      have_join = true;
      try {
        spec.join = parse_expr(value);
      } catch (const Error& e) {
        fail(text, e.what());
      }
    } else {
      if (have_agg) fail(text, "agg given twice");
      have_agg = true;
      spec.agg = parse_agg(text, value);
    }
  }
  try {
    spec.validate();
  } catch (const Error& e) {
    // Report the user's text rather than the normalised one.
    const std::string what = e.what();
    const std::size_t sep = what.find("': ");
    fail(text, sep == std::string::npos ? what : what.substr(sep + 3));
  }
  return spec;
}

EinsumSpec parse_indices(std::string_view text) {
  if (text.find('|') != std::string_view::npos) fail(text, "index letters take no options");
  EinsumSpec spec = parse_head(text, trim(text));
  if (spec.inputs.empty()) fail(text, "no inputs");
  try {
    spec.validate_indices();
  } catch (const Error& e) {
    const std::string what = e.what();
    const std::size_t sep = what.find("': ");
    fail(text, sep == std::string::npos ? what : what.substr(sep + 3));
  }
  return spec;
}

IndexSizes infer_index_sizes(const EinsumSpec& spec, std::span<const std::vector<std::int64_t>> input_dims,
                             const std::string& where) {
  if (input_dims.size() != spec.inputs.size()) {
    throw Error(where + ": spec '" + spec.to_string() + "' has " + std::to_string(spec.inputs.size()) +
                " inputs but " + std::to_string(input_dims.size()) + " were given");
  }
  IndexSizes sizes{};
  std::array<int, 26> source{};
  for (std::size_t i = 0; i < spec.inputs.size(); ++i) {
    const std::string& indices = spec.inputs[i];
    if (input_dims[i].size() != indices.size()) {
      throw Error(where + ": input " + std::to_string(i) + " has " + std::to_string(input_dims[i].size()) +
                  " dims but '" + indices + "' has " + std::to_string(indices.size()));
    }
    for (std::size_t d = 0; d < indices.size(); ++d) {
      const std::int64_t n = input_dims[i][d];
      if (n <= 0) {
        throw Error(where + ": input " + std::to_string(i) + " dim " + std::to_string(d) + " is " +
                    std::to_string(n) + " (must be positive)");
      }
      std::int64_t& known = index_size(sizes, indices[d]);
      if (known == 0) {
        known = n;
        source[static_cast<std::size_t>(indices[d] - 'a')] = static_cast<int>(i);
      } else if (known != n) {
        throw Error(where + ": index " + indices[d] + " is " + std::to_string(known) + " in input " +
                    std::to_string(source[static_cast<std::size_t>(indices[d] - 'a')]) + " but " +
                    std::to_string(n) + " in input " + std::to_string(i));
      }
    }
  }
  return sizes;
}

std::vector<std::int64_t> dims_of(std::string_view indices, const IndexSizes& sizes) {
  std::vector<std::int64_t> dims;
  dims.reserve(indices.size());
  for (const char c : indices) dims.push_back(index_size(sizes, c));
  return dims;
}

}  // namespace doppler::einsum
