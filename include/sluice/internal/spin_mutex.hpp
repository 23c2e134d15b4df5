// sluice/internal/spin_mutex.hpp - the lock that guards a channel's wait lists.
//
// Critical sections under it are a few pointer updates (link or unlink an offer, CAS a
// waiter's state); nobody ever parks, allocates or wakes a thread while holding it. So a
// test-and-test-and-set lock with backoff (yielding once spinning stops paying) beats a
// futex mutex here: it never makes a syscall to sleep. Go's runtime lock on a channel plays
// the same role.
#pragma once

#include <atomic>

#include "sluice/internal/backoff.hpp"

namespace sluice::internal {

class spin_mutex {
 public:
  void lock() noexcept {
    backoff b;
    for (;;) {
      // Acquire pairs with the release in unlock(): the previous holder's writes are visible.
      if (!locked_.exchange(true, std::memory_order_acquire)) return;
      while (locked_.load(std::memory_order_relaxed)) b.snooze();  // relaxed: only a hint to retry
    }
  }
  void unlock() noexcept {
    locked_.store(false, std::memory_order_release);  // pairs with the acquire exchange in lock()
  }

 private:
  std::atomic<bool> locked_{false};
};

}  // namespace sluice::internal
