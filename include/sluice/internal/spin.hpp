// sluice/internal/spin.hpp - the adaptive spin-before-park policy.
//
// On the machines we measure a futex wake costs ~300 times a spinning hand-off (35-41 us
// for a futex round trip, ~120 ns for a cache-line one), so a thread about to block first
// polls for a while. How long is measured in time, not in pause instructions (a pause is
// ~25 ns on recent AMD cores and a few ns on older Intel ones): the pause count per
// microsecond is calibrated once per process.
//
// The budget adapts per thread: it doubles (up to max_spin_us) when polling caught the event
// and halves (down to min_spin_us) when it did not, so threads that are oversubscribed, or
// waiting for a slow partner, quickly stop burning a core. After the pause phase the thread
// yields a few times before giving up, which lets a preempted partner run when threads
// outnumber cores.
#pragma once

#include <thread>

#include "sluice/internal/config.hpp"

namespace sluice::internal {

inline constexpr unsigned min_spin_us = 1;
inline constexpr unsigned initial_spin_us = 8;
inline constexpr unsigned max_spin_us = 32;

// Pause instructions per microsecond on this machine (calibrated on first use).
unsigned pauses_per_us() noexcept;

// This thread's current budget, in pause iterations.
inline unsigned& spin_budget() noexcept {
  thread_local unsigned budget = initial_spin_us * pauses_per_us();
  return budget;
}

// Poll `ready` until it returns true or the budget is spent; true if it became ready.
template <class Ready>
bool spin_until(Ready&& ready) noexcept {
  unsigned& budget = spin_budget();
  for (unsigned i = 0; i < budget; ++i) {
    if (ready()) {
      unsigned cap = max_spin_us * pauses_per_us();
      budget = budget * 2 < cap ? budget * 2 : cap;
      return true;
    }
    spin_pause();
  }
  for (int i = 0; i < 2; ++i) {
    std::this_thread::yield();
    if (ready()) return true;
  }
  unsigned floor = min_spin_us * pauses_per_us();
  budget = budget / 2 > floor ? budget / 2 : floor;
  return false;
}

}  // namespace sluice::internal
