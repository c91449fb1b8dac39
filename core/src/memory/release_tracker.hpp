#pragma once
// Contract: per arena, which node last released each byte range (an interval map). A new
// allocation of a range must wait for the nodes returned by over(); set() records a release. The
// ranges it keeps never overlap. Private to the memory-plan compiler.
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "doppler/memory/memory_graph.hpp"

namespace doppler::memory {

class ReleaseTracker {
 public:
  // Distinct nodes that last released some byte of [offset, offset + size), ascending.
  std::vector<MemNodeId> over(std::uint64_t offset, std::uint64_t size) const;
  void set(std::uint64_t offset, std::uint64_t size, MemNodeId node);

 private:
  std::map<std::uint64_t, std::pair<std::uint64_t, MemNodeId>> spans_;  // begin -> (end, node)
};

}  // namespace doppler::memory
