#pragma once
// Contract: one extended-einsum spec: an output index string, input index strings (single lowercase
// letters, none repeated inside one operand), a join Expr over the inputs (default: their product)
// and an aggregation over the indices absent from the output (default: sum). Text form:
//   "bij,bjk->bik", "ij->i | agg=max", "ij,ij->ij | join=a*b+1", "->ij | join=0.5" (constant fill).
// parse_einsum() and validate() throw doppler::Error with one line "einsum 'TEXT': WHAT".
// to_string() round-trips through parse_einsum(). A STRUCTURAL op (OpKind other than kEinsum) uses
// a spec for its index letters only ("abc->abd", parse_indices): validate_indices() holds; its join
// and aggregation are unused.
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "doppler/einsum/expr.hpp"

namespace doppler::einsum {

enum class Agg { kSum, kMax, kMin, kProd };
std::string_view agg_name(Agg agg);  // "sum", "max", "min", "prod"
// The identity of the aggregation (0, -inf, +inf, 1).
double agg_identity(Agg agg);

// What an op does. kEinsum: the extended einsum of its spec. The structural kinds move elements
// without arithmetic (see einsum_graph.hpp): reshape, slice along one axis, concat along one axis.
// The ROW kinds are fused kernels over whole rows along one axis (einsum_graph.hpp): softmax,
// RMSNorm, rotary embedding.
enum class OpKind { kEinsum, kReshape, kSlice, kConcat, kSoftmax, kRmsNorm, kRotary };
// "einsum", "reshape", "slice", "concat", "softmax", "rms_norm", "rotary"
std::string_view op_kind_name(OpKind kind);

struct EinsumSpec {
  std::string output;
  std::vector<std::string> inputs;
  Expr join = Expr::constant(1);
  Agg agg = Agg::kSum;

  // Throws an Error naming the spec on any rule violation.
  void validate() const;
  // Only the index rules (single lowercase letters, none repeated inside one operand).
  void validate_indices() const;
  // Indices that appear in some input but not in the output, in order of first appearance.
  std::string aggregated_indices() const;
  // Output indices followed by aggregated indices.
  std::string all_indices() const { return output + aggregated_indices(); }
  bool join_is_product() const { return join == product_of_inputs(static_cast<int>(inputs.size())); }
  std::string to_string() const;
};

// Builds and validates a spec; an empty `join` text means the product of the inputs.
EinsumSpec make_einsum(std::string output, std::vector<std::string> inputs, Expr join, Agg agg = Agg::kSum);
EinsumSpec parse_einsum(std::string_view text);
// Index letters only, "abc,abd->abe" (no options, output letters need not appear in an input): the
// spec of a structural op (its join, the product of the inputs, and its aggregation are unused).
EinsumSpec parse_indices(std::string_view text);

// Size of each index letter 'a'..'z' (0 = not used).
using IndexSizes = std::array<std::int64_t, 26>;
inline std::int64_t& index_size(IndexSizes& sizes, char index) {
  return sizes[static_cast<std::size_t>(index - 'a')];
}
inline std::int64_t index_size(const IndexSizes& sizes, char index) {
  return sizes[static_cast<std::size_t>(index - 'a')];
}

// Infers every index size from the inputs' dims. `where` names the op in messages:
// "WHERE: index j is 3 in input 0 but 4 in input 1", "WHERE: input 1 has 2 dims but 'ijk' has 3".
IndexSizes infer_index_sizes(const EinsumSpec& spec, std::span<const std::vector<std::int64_t>> input_dims,
                             const std::string& where);
// The dims of an operand with index string `indices`.
std::vector<std::int64_t> dims_of(std::string_view indices, const IndexSizes& sizes);

}  // namespace doppler::einsum
