#pragma once
// Contract: the order in which the memory-plan compiler walks the ops (a topological order of the
// ops that run; graph inputs held in host memory are not ops that run). Heuristics:
//  plan        ready op with the lowest plan priority first (ties: earlier in the graph's Kahn
//              order); without priorities, the Kahn order itself.
//  min_growth  ready op whose run grows memory least: bytes it newly needs on its device (its
//              output, inputs not yet there) minus bytes its run lets go (inputs it is the last
//              consumer of on that device), with unlimited memory; ties as `plan`.
//  lookahead   min_growth over two steps: an op's growth plus the least growth of an op its run
//              makes ready (none: its growth alone), so that e.g. the `up` block that readies a
//              SwiGLU which frees it and its `gate` block runs before the next `gate` block; ties
//              as `plan`.
// Deterministic. Throws an Error for an unknown heuristic name.
#include <string>
#include <vector>

#include "doppler/plan.hpp"
#include "doppler/task_graph.hpp"

namespace doppler::memory {

enum class CompileOrder { kPlan, kMinGrowth, kLookahead };
CompileOrder parse_compile_order(const std::string& name);  // "plan" | "min_growth" | "lookahead"
const char* compile_order_name(CompileOrder order);

// `host_input[op]` (empty: none) marks ops whose tensor is a graph input held in host memory.
std::vector<OpId> compile_order(const TaskGraph& graph, const Plan& plan, const std::vector<bool>& host_input,
                                CompileOrder heuristic);

}  // namespace doppler::memory
