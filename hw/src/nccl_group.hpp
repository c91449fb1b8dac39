#pragma once
// Contract: the NCCL side of multi-process mode: `size` processes, one GPU each. Rank 0 creates
// the NCCL unique id and publishes it as a file in the rendezvous directory (written atomically,
// named after the job id); the others wait for it (up to 120 s, then an Error saying which file
// they waited for). One communicator for everything (NCCL does not allow using several
// concurrently); the caller issues its operations in one order consistent across ranks. Every
// pair is connected during construction (one grouped exchange of a byte with every peer), so later
// sends and receives never block the host waiting for a peer's connection.
// Every NCCL failure throws one line naming the call. All calls are asynchronous on `stream`.
// Built without NCCL (nccl_group_absent.cpp), the constructor throws an Error saying so.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <memory>
#include <string>

namespace doppler::hw {

class NcclGroup {
 public:
  NcclGroup(int rank, int size, const std::string& rendezvous_dir, const std::string& job_id);
  ~NcclGroup();
  NcclGroup(const NcclGroup&) = delete;
  NcclGroup& operator=(const NcclGroup&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  void send(const void* data, std::size_t bytes, int dst, cudaStream_t stream, const std::string& what);
  void recv(void* data, std::size_t bytes, int src, cudaStream_t stream, const std::string& what);
  // In-place sum over all ranks of `count` doubles (device memory).
  void all_reduce_sum(double* data, std::size_t count, cudaStream_t stream);
  // Sum of floats over all ranks (device memory).
  void all_reduce_sum(float* data, std::size_t count, cudaStream_t stream);

 private:
  void connect_pairs();

  struct Comms;  // the communicator
  int rank_;
  int size_;
  std::unique_ptr<Comms> comms_;
};

}  // namespace doppler::hw
