#include "worker_threads.hpp"

namespace doppler::hw {

WorkerThreads::WorkerThreads(std::size_t count) {
  threads_.reserve(count);
  for (std::size_t i = 0; i < count; ++i) threads_.emplace_back([this, i] { loop(i); });
}

WorkerThreads::~WorkerThreads() {
  {
    const std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void WorkerThreads::start(std::function<void(std::size_t)> job) {
  {
    const std::lock_guard lock(mutex_);
    job_ = std::move(job);
    running_ = threads_.size();
    ++generation_;
  }
  wake_.notify_all();
}

void WorkerThreads::wait() {
  std::unique_lock lock(mutex_);
  done_.wait(lock, [this] { return running_ == 0; });
}

void WorkerThreads::loop(std::size_t index) {
  std::uint64_t seen = 0;
  for (;;) {
    std::function<void(std::size_t)> job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      job = job_;
    }
    job(index);
    {
      const std::lock_guard lock(mutex_);
      if (--running_ == 0) done_.notify_all();
    }
  }
}

}  // namespace doppler::hw
