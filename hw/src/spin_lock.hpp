#pragma once
// Contract: a mutex that never sleeps, for the executor's scheduler state (critical sections of a
// few hundred ns, taken by one spinning host thread per GPU). A std::mutex puts a contended thread
// to sleep in the kernel, and its wake-up (tens of us in a VM) delays that GPU's next launch.
#include <atomic>

namespace doppler::hw {

class SpinLock {
 public:
  void lock() noexcept {
    while (flag_.test_and_set(std::memory_order_acquire)) {
      while (flag_.test(std::memory_order_relaxed)) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
      }
    }
  }
  void unlock() noexcept {
    flag_.clear(std::memory_order_release);
  }

 private:
  std::atomic_flag flag_;
};

}  // namespace doppler::hw
