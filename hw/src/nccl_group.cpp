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
  std::vector<ncclComm_t> pairs;  // [src * size + dst]; null where this rank is neither

  ~Comms() {
    for (ncclComm_t comm : pairs)
      if (comm) ncclCommDestroy(comm);
    if (world) ncclCommDestroy(world);
  }
};

NcclGroup::NcclGroup(int rank, int size, const std::string& rendezvous_dir, const std::string& job_id)
    : rank_(rank), size_(size), comms_(std::make_unique<Comms>()) {
  comms_->pairs.assign(static_cast<std::size_t>(size * size), nullptr);
  if (size < 1 || rank < 0 || rank >= size)
    throw Error("hw: rank " + std::to_string(rank) + " is outside a group of " + std::to_string(size));
  std::filesystem::create_directories(rendezvous_dir);
  const std::filesystem::path file = std::filesystem::path(rendezvous_dir) / ("nccl-id-" + job_id);
  phase(rank, "rendezvous at " + file.string());
  const ncclUniqueId id = rendezvous(rank, file);
  phase(rank, "NCCL id read; ncclCommInitRank");
  check_nccl(ncclCommInitRank(&comms_->world, size, id, rank), "ncclCommInitRank");
  phase(rank, "world communicator ready; splitting pairs");
  for (int s = 0; s < size; ++s) {
    for (int d = 0; d < size; ++d) {
      if (s == d) continue;
      const bool member = rank == s || rank == d;
      ncclComm_t comm = nullptr;
      check_nccl(ncclCommSplit(comms_->world, member ? s * size + d : NCCL_SPLIT_NOCOLOR, rank == s ? 0 : 1,
                               &comm, nullptr),
                 "ncclCommSplit");
      comms_->pairs[static_cast<std::size_t>(s * size + d)] = comm;
    }
  }
  phase(rank, "pairs split; connecting");
  connect_pairs();
  phase(rank, "pairs connected");
  if (rank == 0) {
    std::error_code ignored;
    std::filesystem::remove(file, ignored);  // every rank has joined: the id is no longer needed
  }
}

// NCCL connects a pair on its first send/receive, and that blocks the host until the peer gets
// there too: two ranks each first posting a receive would wait for each other forever. So every
// pair exchanges one byte now, all ranks walking the pairs in the same order.
void NcclGroup::connect_pairs() {
  void* byte = nullptr;
  cudaStream_t stream = nullptr;
  if (cudaMalloc(&byte, 1) != cudaSuccess ||
      cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking) != cudaSuccess) {
    cudaGetLastError();
    if (byte) cudaFree(byte);
    throw Error("hw: cannot allocate the NCCL connection buffer on rank " + std::to_string(rank_));
  }
  try {
    for (int s = 0; s < size_; ++s) {
      for (int d = 0; d < size_; ++d) {
        if (s == d || (rank_ != s && rank_ != d)) continue;
        if (rank_ == s) send(byte, 1, d, stream, "connecting");
        if (rank_ == d) recv(byte, 1, s, stream, "connecting");
        if (cudaStreamSynchronize(stream) != cudaSuccess) throw Error("hw: NCCL connection of ranks failed");
      }
    }
  } catch (...) {
    cudaStreamDestroy(stream);
    cudaFree(byte);
    throw;
  }
  cudaStreamDestroy(stream);
  cudaFree(byte);
}

NcclGroup::~NcclGroup() = default;

void NcclGroup::send(const void* data, std::size_t bytes, int dst, cudaStream_t stream,
                     const std::string& what) {
  check_nccl(ncclSend(data, bytes, ncclUint8, 1, comms_->pairs[static_cast<std::size_t>(rank_ * size_ + dst)],
                      stream),
             "ncclSend (" + what + ")");
}

void NcclGroup::recv(void* data, std::size_t bytes, int src, cudaStream_t stream, const std::string& what) {
  check_nccl(ncclRecv(data, bytes, ncclUint8, 0, comms_->pairs[static_cast<std::size_t>(src * size_ + rank_)],
                      stream),
             "ncclRecv (" + what + ")");
}

void NcclGroup::all_reduce_sum(double* data, std::size_t count, cudaStream_t stream) {
  check_nccl(ncclAllReduce(data, data, count, ncclFloat64, ncclSum, comms_->world, stream), "ncclAllReduce");
}

void NcclGroup::all_reduce_sum(float* data, std::size_t count, cudaStream_t stream) {
  check_nccl(ncclAllReduce(data, data, count, ncclFloat32, ncclSum, comms_->world, stream), "ncclAllReduce");
}

}  // namespace doppler::hw
