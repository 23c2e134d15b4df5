// sluice/internal/parker.hpp - park and unpark one thread.
//
// The single seam through which sluice blocks a thread. A parker is owned by one waiting
// thread (it lives in that thread's waiter, on its stack); any other thread may unpark it.
//
// Contract (checked for every backend by tests/parker_test.cc):
//   - prepare() re-arms the parker. Only the owner calls it, and only while no other thread
//     can reach the parker (before its offers are published).
//   - park(d) returns true once unpark() has been called since prepare(), false if the
//     deadline passed first. Spurious returns never happen: a false is a real timeout.
//   - unpark() may be called at most once per prepare(). Everything the unparking thread did
//     before unpark() is visible to the owner after park() returns true.
//   - After park() returns true the owner may destroy the parker at once: unpark() touches
//     the parker's memory only in ways that stay safe if it is gone (a futex wake on a dead
//     address is harmless; the condvar backend holds its mutex until it is done).
//
// Spin policy (both backends): before sleeping, the owner polls the parker's word for the
// adaptive budget of sluice/internal/spin.hpp, since a futex wake costs ~300 times a
// spinning hand-off on the machines we measure.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "sluice/internal/deadline.hpp"

namespace sluice::internal {

struct spin_state;

// Poll `word` until it equals `target` or the per-thread adaptive budget is spent.
// Returns true if it saw the target.
bool spin_for(const std::atomic<std::uint32_t>& word, std::uint32_t target) noexcept;

#if defined(__linux__)
// Linux: the owner sleeps with FUTEX_WAIT_BITSET_PRIVATE on an absolute CLOCK_MONOTONIC
// deadline; unpark issues FUTEX_WAKE_PRIVATE only if the owner is (about to be) asleep.
class futex_parker {
 public:
  void prepare() noexcept { word_.store(empty, std::memory_order_relaxed); }  // owner-only, unpublished
  bool park(const deadline& d) noexcept;
  void unpark() noexcept;

 private:
  void woken(spin_state& st) noexcept;

  // word_: empty (0) -> notified (1) by unpark; empty -> sleeping (2) by the owner before the
  // futex wait; sleeping -> notified by unpark, which then issues the wake.
  static constexpr std::uint32_t empty = 0, notified = 1, sleeping = 2;
  std::atomic<std::uint32_t> word_{empty};
  // Hints for the spin policy (spin.hpp), written only around a real sleep and wake: the CPU
  // the owner went to sleep on, the CPU and time of the wake. Relaxed: a stale value costs
  // one badly sized spin, never correctness.
  std::atomic<int> sleeper_cpu_{-1};
  std::atomic<int> waker_cpu_{-1};
  std::atomic<std::int64_t> woken_at_{0};
};
#endif

// Portable fallback: a mutex and condition variable. The flag word is still an atomic so the
// spin phase and the contract match the futex backend.
class condvar_parker {
 public:
  void prepare() noexcept { word_.store(0, std::memory_order_relaxed); }  // owner-only, unpublished
  bool park(const deadline& d) noexcept;
  void unpark() noexcept;

 private:
  std::atomic<std::uint32_t> word_{0};  // 0 empty, 1 notified
  std::mutex m_;
  std::condition_variable cv_;
};

#if defined(__linux__)
using parker = futex_parker;
#else
using parker = condvar_parker;
#endif

}  // namespace sluice::internal
