#include "nccl_group.hpp"

#include <nccl.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "doppler/error.hpp"
#include "doppler/file_io.hpp"

namespace doppler::hw {
namespace {

// DOPPLER_HW_DEBUG=1: each set-up phase on stderr (for hangs during start-up).
void phase(int rank, const std::string& what) {
  static const bool enabled = std::getenv("DOPPLER_HW_DEBUG") != nullptr;
  if (enabled) std::fprintf(stderr, "doppler hw rank %d: %s\n", rank, what.c_str());
}

void check_nccl(ncclResult_t status, const std::string& call) {
  if (status != ncclSuccess) throw Error("hw: " + call + ": " + ncclGetErrorString(status));
}

ncclUniqueId rendezvous(int rank, const std::filesystem::path& file) {
  ncclUniqueId id{};
  if (rank == 0) {
    check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
    write_file_atomically(file.string(), std::string(id.internal, sizeof id.internal));
    return id;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  for (;;) {
    std::ifstream in(file, std::ios::binary);
    if (in.read(id.internal, sizeof id.internal)) return id;
    if (std::chrono::steady_clock::now() > deadline)
      throw Error("hw: rank " + std::to_string(rank) + " waited 120 s for rank 0's NCCL id in '" +
                  file.string() + "' (same --rendezvous directory and job id on every rank?)");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace

struct NcclGroup::Comms {
  ncclComm_t world = nullptr;

  ~Comms() {
    if (world) ncclCommDestroy(world);
  }
};

NcclGroup::NcclGroup(int rank, int size, const std::string& rendezvous_dir, const std::string& job_id)
    : rank_(rank), size_(size), comms_(std::make_unique<Comms>()) {
  if (size < 1 || rank < 0 || rank >= size)
    throw Error("hw: rank " + std::to_string(rank) + " is outside a group of " + std::to_string(size));
  std::filesystem::create_directories(rendezvous_dir);
  const std::filesystem::path file = std::filesystem::path(rendezvous_dir) / ("nccl-id-" + job_id);
  phase(rank, "rendezvous at " + file.string());
  const ncclUniqueId id = rendezvous(rank, file);
  phase(rank, "NCCL id read; ncclCommInitRank");
  check_nccl(ncclCommInitRank(&comms_->world, size, id, rank), "ncclCommInitRank");
  phase(rank, "communicator ready; connecting every pair");
  connect_pairs();
  phase(rank, "every pair connected");
  if (rank == 0) {
    std::error_code ignored;
    std::filesystem::remove(file, ignored);  // every rank has joined: the id is no longer needed
  }
}

// NCCL connects a pair on its first send/receive, which blocks the host until the peer gets there
// too. One grouped exchange of a byte with every peer connects all pairs at once.
void NcclGroup::connect_pairs() {
  std::byte* bytes = nullptr;
  cudaStream_t stream = nullptr;
  const auto count = static_cast<std::size_t>(2 * size_);
  if (cudaMalloc(reinterpret_cast<void**>(&bytes), count) != cudaSuccess ||
      cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking) != cudaSuccess) {
    cudaGetLastError();
    if (bytes) cudaFree(bytes);
    throw Error("hw: cannot allocate the NCCL connection buffer on rank " + std::to_string(rank_));
  }
  ncclResult_t status = ncclGroupStart();
  for (int peer = 0; peer < size_ && status == ncclSuccess; ++peer) {
    if (peer == rank_) continue;
    status = ncclSend(bytes + 2 * peer, 1, ncclUint8, peer, comms_->world, stream);
    if (status == ncclSuccess)
      status = ncclRecv(bytes + 2 * peer + 1, 1, ncclUint8, peer, comms_->world, stream);
  }
  const ncclResult_t ended = ncclGroupEnd();
  const cudaError_t synced = cudaStreamSynchronize(stream);
  cudaStreamDestroy(stream);
  cudaFree(bytes);
  check_nccl(status != ncclSuccess ? status : ended, "connecting ranks");
  if (synced != cudaSuccess) throw Error(std::string("hw: connecting ranks: ") + cudaGetErrorString(synced));
}

NcclGroup::~NcclGroup() = default;

void NcclGroup::send(const void* data, std::size_t bytes, int dst, cudaStream_t stream,
                     const std::string& what) {
  check_nccl(ncclSend(data, bytes, ncclUint8, dst, comms_->world, stream), "ncclSend (" + what + ")");
}

void NcclGroup::recv(void* data, std::size_t bytes, int src, cudaStream_t stream, const std::string& what) {
  check_nccl(ncclRecv(data, bytes, ncclUint8, src, comms_->world, stream), "ncclRecv (" + what + ")");
}

void NcclGroup::all_reduce_sum(double* data, std::size_t count, cudaStream_t stream) {
  check_nccl(ncclAllReduce(data, data, count, ncclFloat64, ncclSum, comms_->world, stream), "ncclAllReduce");
}

void NcclGroup::all_reduce_sum(float* data, std::size_t count, cudaStream_t stream) {
  check_nccl(ncclAllReduce(data, data, count, ncclFloat32, ncclSum, comms_->world, stream), "ncclAllReduce");
}

}  // namespace doppler::hw
