#include "finish_estimate.hpp"

#include <algorithm>

namespace doppler::memory {

double FinishEstimate::record(const MemNode& node) {
  double finish = 0;
  for (const MemNodeId dep : node.deps) finish = std::max(finish, finish_[dep]);
  const bool transfer =
      node.kind == MemNodeKind::kLoad || node.kind == MemNodeKind::kEvict || node.kind == MemNodeKind::kCopy;
  if (transfer) {
    const bool evict = node.kind == MemNodeKind::kEvict;
    double& link =
        links_[{evict ? node.region.device : node.source.device, evict ? kHostDevice : node.region.device}];
    link = std::max(finish, link) + node.bytes;
    finish = link;
  }
  finish_.push_back(finish);
  return finish;
}

double FinishEstimate::link_free(DeviceId from, DeviceId to) const {
  const auto link = links_.find({from, to});
  return link == links_.end() ? 0.0 : link->second;
}

}  // namespace doppler::memory
