#include "doppler/einsum/decomposition.hpp"

#include <chrono>
#include <string>

#include "decomposition_methods.hpp"
#include "doppler/error.hpp"

namespace doppler::einsum {

std::string_view decompose_method_name(DecomposeMethod method) {
  switch (method) {
    case DecomposeMethod::kEinDecomp:
      return "eindecomp";
    case DecomposeMethod::kDataParallel:
      return "data";
    case DecomposeMethod::kModelParallel:
      return "model";
    case DecomposeMethod::kNoSplit:
      return "none";
  }
  return "?";
}

DecomposeMethod parse_decompose_method(std::string_view name) {
  for (const DecomposeMethod m : {DecomposeMethod::kEinDecomp, DecomposeMethod::kDataParallel,
                                  DecomposeMethod::kModelParallel, DecomposeMethod::kNoSplit}) {
    if (decompose_method_name(m) == name) return m;
  }
  throw Error("unknown decomposition method '" + std::string(name) +
              "' (known: eindecomp, data, model, none)");
}

Decomposition decompose(const EinsumGraph& graph, const DecomposeOptions& options) {
  if (options.devices < 1) throw Error("decompose: devices must be at least 1");
  if (options.max_candidates < 1) throw Error("decompose: max_candidates must be at least 1");
  const auto start = std::chrono::steady_clock::now();
  Decomposition result;
  switch (options.method) {
    case DecomposeMethod::kEinDecomp:
      result.partitions = eindecomp_partitions(graph, options);
      break;
    case DecomposeMethod::kDataParallel:
      result.partitions = data_parallel_partitions(graph, options.devices);
      break;
    case DecomposeMethod::kModelParallel:
      result.partitions = model_parallel_partitions(graph, options.devices);
      break;
    case DecomposeMethod::kNoSplit:
      result.partitions.assign(graph.num_ops(), Partition{});
      break;
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.cost = decomposition_cost(graph, result.partitions);
  return result;
}

}  // namespace doppler::einsum
