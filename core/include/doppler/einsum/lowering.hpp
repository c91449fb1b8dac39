#pragma once
// Contract: LOWERING of a partitioned einsum graph to the kernel-level TaskGraph, plus a CPU
// executor of the result. Tasks, with their roles:
//  load        one block of a graph input/parameter, available at start: zero flops and bytes,
//              output_bytes = the block (so a transfer of it has a size). One per distinct
//              (tensor, grid, block) that consumers need. Named "x.load.2x1[i0,j0]".
//  join        the op's einsum on one block tuple of ALL its indices; depends on the blocks of its
//              operands. flops = block elements x join cost. Named "mm[i0,j1,k0]". For a
//              structural op (only shared letters split, see partition.hpp) the task copies its
//              output block from the matching input block(s): Op kind "reshape", "slice" or
//              "concat", zero flops, bytes read = bytes written = the output block.
//  aggregate   one k-input task combining the k partial outputs of joins that differ only in
//              aggregated-index blocks, with the op's aggregation: flops = elements x (k - 1).
//              Only when some aggregated index has more than one block. Named "mm.agg[i0,j1]".
//              With a fan-in f >= 2 below k, a tree instead: groups of at most f consecutive
//              partials combined level by level ("mm.agg1_0[i0,j1]": level 1, group 0), the
//              root named as above; every task of it combines its own inputs.
//  repartition one per block a consumer needs when the producer's grid differs: copies the
//              overlapping producer blocks, zero flops. Named "x.repart.1x4[i0,j3]".
// Consumers needing the same grid of a tensor share its load/repartition tasks. Every task's
// output_bytes = its block's elements x the tensor dtype's bytes. Throws a doppler::Error naming
// the op for a bad partition.
#include <cstdint>
#include <span>
#include <vector>

#include "doppler/einsum/einsum_graph.hpp"
#include "doppler/einsum/partition.hpp"
#include "doppler/einsum/reference_executor.hpp"
#include "doppler/task_graph.hpp"

namespace doppler::einsum {

enum class TaskRole { kLoad, kJoin, kAggregate, kRepartition };
std::string_view task_role_name(TaskRole role);  // "load", "join", "aggregate", "repartition"

struct TaskInfo {
  TaskRole role = TaskRole::kJoin;
  EinsumOpId op = kNoProducer;  // join and aggregate: the einsum op
  TensorId tensor = 0;          // the tensor a block of which the task produces (join: a partial)
  std::vector<int> block;       // join: per letter of all_indices(); others: per tensor dim
  std::vector<Range> ranges;    // same order as `block`; a join's output block is the prefix
                                // of the output letters (all_indices() = output + aggregated)
  std::vector<OpId> inputs;     // data inputs: join per operand, aggregate its partials,
                                // repartition the overlapping producer blocks
};

// The final blocks of a produced tensor: its grid and the task of each block, row-major.
struct TensorBlocks {
  std::vector<int> grid;
  std::vector<OpId> tasks;
};

struct LoweredGraph {
  TaskGraph graph;
  std::vector<TaskInfo> tasks;        // indexed by OpId
  std::vector<TensorBlocks> tensors;  // indexed by TensorId; empty for inputs and parameters
};

// `partitions[o]` is the partition of op o; there must be one per op. `aggregate_fan_in`: the
// most partials one aggregate task combines (0 = all of them; else >= 2).
LoweredGraph lower(const EinsumGraph& graph, const std::vector<Partition>& partitions,
                   int aggregate_fan_in = 0);

// Runs every task of `lowered` on block buffers and assembles every tensor (inputs with the same
// seeded/given values as run_reference). Values indexed by TensorId.
template <typename T>
std::vector<std::vector<T>> run_lowered(const EinsumGraph& graph, const LoweredGraph& lowered,
                                        const ReferenceOptions& options = {});

// The pieces of run_lowered, for executors that keep blocks elsewhere (memory_graph_executor.hpp).
// The values run_reference gives input/parameter `t` under `options`.
template <typename T>
std::vector<T> lowered_input_values(const EinsumGraph& graph, TensorId t, const ReferenceOptions& options);
// One task's output block. `inputs[i]` is the block of task.inputs[i]; a load task takes instead
// its tensor's whole value.
template <typename T>
std::vector<T> run_lowered_task(const EinsumGraph& graph, const LoweredGraph& lowered, OpId task,
                                std::span<const std::vector<T>* const> inputs);
// Tensor `t` assembled from its final blocks, given in the order of lowered.tensors[t].tasks.
template <typename T>
std::vector<T> assemble_tensor(const EinsumGraph& graph, const LoweredGraph& lowered, TensorId t,
                               std::span<const std::vector<T>* const> blocks);

}  // namespace doppler::einsum
