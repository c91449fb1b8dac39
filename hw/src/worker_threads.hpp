#pragma once
// Contract: a fixed set of host threads that live as long as the object. start(job) runs job(i)
// on thread i, all threads at once; wait() returns once every one has returned. The threads keep
// their thread-local state (CUDA device binding, cuBLAS's per-thread caches) from one start to
// the next, so a run does not pay first-call costs on fresh threads. job must not throw.
// start/wait are called from one controlling thread; the destructor joins.
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace doppler::hw {

class WorkerThreads {
 public:
  explicit WorkerThreads(std::size_t count);
  ~WorkerThreads();
  WorkerThreads(const WorkerThreads&) = delete;
  WorkerThreads& operator=(const WorkerThreads&) = delete;

  std::size_t size() const { return threads_.size(); }
  void start(std::function<void(std::size_t)> job);
  void wait();

 private:
  void loop(std::size_t index);

  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  std::function<void(std::size_t)> job_;
  std::uint64_t generation_ = 0;
  std::size_t running_ = 0;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace doppler::hw
