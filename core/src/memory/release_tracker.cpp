#include "release_tracker.hpp"

#include <algorithm>
#include <iterator>

namespace doppler::memory {

std::vector<MemNodeId> ReleaseTracker::over(std::uint64_t offset, std::uint64_t size) const {
  std::vector<MemNodeId> nodes;
  const std::uint64_t end = offset + size;
  auto it = spans_.upper_bound(offset);
  if (it != spans_.begin() && std::prev(it)->second.first > offset) --it;
  for (; it != spans_.end() && it->first < end; ++it) nodes.push_back(it->second.second);
  std::sort(nodes.begin(), nodes.end());
  nodes.erase(std::unique(nodes.begin(), nodes.end()), nodes.end());
  return nodes;
}

void ReleaseTracker::set(std::uint64_t offset, std::uint64_t size, MemNodeId node) {
  const std::uint64_t end = offset + size;
  auto it = spans_.upper_bound(offset);
  if (it != spans_.begin() && std::prev(it)->second.first > offset) --it;
  std::vector<std::pair<std::uint64_t, std::pair<std::uint64_t, MemNodeId>>> remainders;
  while (it != spans_.end() && it->first < end) {
    const std::uint64_t begin = it->first;
    const auto [span_end, span_node] = it->second;
    if (begin < offset) remainders.push_back({begin, {offset, span_node}});
    if (span_end > end) remainders.push_back({end, {span_end, span_node}});
    it = spans_.erase(it);
  }
  for (const auto& remainder : remainders) spans_.insert(remainder);
  spans_[offset] = {end, node};
}

}  // namespace doppler::memory
