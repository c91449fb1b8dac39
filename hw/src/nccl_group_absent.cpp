// NcclGroup for builds without NCCL: multi-process mode is unavailable and says so.
#include "doppler/error.hpp"
#include "nccl_group.hpp"

namespace doppler::hw {

struct NcclGroup::Comms {};

NcclGroup::NcclGroup(int rank, int size, const std::string&, const std::string&) : rank_(rank), size_(size) {
  throw Error(
      "hw: multi-process mode needs NCCL, and this doppler was built without it (no nccl.h / libnccl found)");
}

NcclGroup::~NcclGroup() = default;

void NcclGroup::send(const void*, std::size_t, int, cudaStream_t, const std::string&) {}
void NcclGroup::recv(void*, std::size_t, int, cudaStream_t, const std::string&) {}
void NcclGroup::all_reduce_sum(double*, std::size_t, cudaStream_t) {}
void NcclGroup::all_reduce_sum(float*, std::size_t, cudaStream_t) {}

}  // namespace doppler::hw
