// sluice/internal/spin_mutex.hpp - the lock that guards a channel's wait lists (and a node
// connection's outgoing bytes).
//
// A channel's critical sections under it are a few pointer updates (link or unlink an offer,
// CAS a waiter's state); nobody ever parks, allocates or wakes a thread while holding it. So a
// test-and-test-and-set lock beats a futex mutex here: it never makes a syscall to sleep.
// Waiting is one pause per poll (a pause is ~25 ns on the AMD machines we measure, so the
// exponential backoff of a general-purpose lock would oversleep a ~50 ns critical section),
// then sched_yield, so that a preempted holder gets the core back when threads outnumber
// cores. Go's runtime lock on a channel plays the same role. A node's connection guards its
// outgoing bytes with one too (src/node/node.hpp says why): there the holder may allocate (a
// new block) or make a non-blocking send() that wakes the reader in another process, rarely,
// and a waiter then yields rather than spins.
#pragma once

#include <atomic>
#include <thread>

#include "sluice/internal/config.hpp"

namespace sluice::internal {

class spin_mutex {
 public:
  void lock() noexcept {
    if (!locked_.exchange(true, std::memory_order_acquire)) return;  // pairs with unlock()'s release
    lock_slow();
  }
  void unlock() noexcept {
    locked_.store(false, std::memory_order_release);  // pairs with the acquire exchange in lock()
  }

 private:
  void lock_slow() noexcept {
    for (unsigned polls = 0;; ++polls) {
      while (locked_.load(std::memory_order_relaxed)) {  // relaxed: only a hint to retry
        if (++polls < spin_polls) {
          spin_pause();
        } else {
          std::this_thread::yield();
        }
      }
      if (!locked_.exchange(true, std::memory_order_acquire)) return;  // pairs with unlock()
    }
  }

  static constexpr unsigned spin_polls = 64;
  std::atomic<bool> locked_{false};
};

}  // namespace sluice::internal
