// sluice/internal/spin.hpp - the adaptive spin-before-park policy.
//
// On an idle machine a futex wake costs ~30-300 times a spinning hand-off (17-41 us for a
// futex round trip, 115-750 ns for a cache-line one), so a thread about to block first polls
// for a while. How long is measured in time, not in pause instructions (a pause is ~25 ns on
// recent AMD cores and a few ns on older Intel ones): the pause count per microsecond is
// calibrated once per process.
//
// When runnable threads outnumber cores (a busy neighbour process, a compile job) polling
// can be worse than useless: the partner may be waiting for the very core we poll on, and a
// yield may hand that core to the neighbour for a whole scheduler slice (4 ms here) instead
// of to the partner. The rules below come from measurements (docs/decisions.md, "Waiting
// under load"); the parker (parker_futex.cc) feeds them what it learns at each real wake.
//
// Invariants (all state is per thread except the wake-latency estimate, a hint):
//   - Budget: doubles (up to max_spin_us) when polling caught the event, halves (down to
//     min_spin_ns) when it did not. A poll that took far longer in wall time than its pause
//     count allows was preempted: the core is contended, the budget drops to the minimum.
//   - Wakes: a thread woken from a futex sleep by a thread on its own CPU drops its budget to
//     the minimum (polling would keep its partner off the core it needs); woken from another
//     CPU it raises it to at least initial_spin_us (its partner is running now). A thread
//     that has just woken a partner asleep on another CPU polls its next wait for about one
//     wake latency (a process-wide running estimate), so that the partner, once up, finds it
//     awake instead of asleep in turn: without that both sides settle into a futex wake per
//     message and never leave it.
//   - Yields: a missed poll yields up to twice, then the caller parks. A yield that kept the
//     thread away for slow_yield_ns while this process got less than half that CPU time
//     handed the core to another process: the thread enters the loaded state, where a missed
//     poll parks at once (a futex sleep lets the scheduler run the partner; a yield would run
//     the stranger). The state lasts min_loaded_ms, doubling up to max_loaded_ms while it
//     keeps being re-entered. Yields that run our own threads (more threads than cores in
//     one program) are cheap hand-offs and stay.
//   - Nothing here decides an operation: a wrong guess costs time, never a value.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>
#include <type_traits>
#include <ctime>

#include "sluice/internal/config.hpp"
#include "sluice/internal/deadline.hpp"

namespace sluice::internal {

inline constexpr unsigned min_spin_ns = 1000;
inline constexpr unsigned initial_spin_us = 8;
inline constexpr unsigned max_spin_us = 32;
inline constexpr unsigned max_boost_us = 200;  // after waking a partner on another CPU
inline constexpr unsigned clock_after_us = 2;    // a poll reads the clock only after this
inline constexpr std::int64_t slow_yield_ns = 50'000;
inline constexpr std::int64_t min_loaded_ms = 20, max_loaded_ms = 1000;

// Pause instructions per microsecond on this machine (calibrated on first use).
unsigned pauses_per_us() noexcept;

// CPU time of all this process's threads (a system call: only around a yield).
inline std::int64_t process_cpu_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

struct spin_state {
  unsigned budget = initial_spin_us * pauses_per_us();  // pause iterations
  std::int64_t loaded_until = 0;                        // steady-clock ns; 0: not loaded
  std::int64_t loaded_window = min_loaded_ms * 1'000'000;

  unsigned floor() const noexcept {
    unsigned f = min_spin_ns * pauses_per_us() / 1000;
    return f ? f : 1;
  }
  void hit() noexcept {
    unsigned cap = max_spin_us * pauses_per_us();
    budget = budget * 2 < cap ? budget * 2 : cap;
  }
  void miss() noexcept { budget = budget / 2 > floor() ? budget / 2 : floor(); }
  bool loaded(std::int64_t now) const noexcept { return now < loaded_until; }
  // This thread slept on `my_cpu` and was woken by a thread on `waker_cpu` (-1: unknown);
  // `latency_ns` is how long the wake took (-1: unknown).
  void after_sleep(int waker_cpu, int my_cpu, std::int64_t latency_ns) noexcept {
    if (latency_ns > 0) {
      std::int64_t w = wake_ns.load(std::memory_order_relaxed);  // a running estimate; races lose an update
      wake_ns.store(w == 0 ? latency_ns : (7 * w + latency_ns) / 8, std::memory_order_relaxed);  // likewise
    }
    if (waker_cpu < 0 || my_cpu < 0) return;  // unknown: learn nothing
    if (waker_cpu == my_cpu) {
      budget = floor();  // the partner shares our core: polling only keeps it off
    } else {
      unsigned b = initial_spin_us * pauses_per_us();  // the partner is running elsewhere now
      if (budget < b) budget = b;
    }
  }
  // This thread just woke a sleeping partner; `remote`: it slept on another CPU. Its next
  // wait polls for about as long as the wake takes, so the partner, once up, finds it awake.
  void after_wake(bool remote) noexcept {
    if (!remote) return;
    std::int64_t w = wake_ns.load(std::memory_order_relaxed);  // a running estimate
    std::int64_t want = (w > 0 ? 2 * w : initial_spin_us * 1000) * pauses_per_us() / 1000;
    std::int64_t cap = max_boost_us * pauses_per_us();
    boost = static_cast<unsigned>(want < cap ? want : cap);
  }
  unsigned boost = 0;  // raises the budget of the next poll (after_wake), at most max_boost_us
  // Process-wide running estimate of a futex wake's latency (ns), fed by woken threads.
  static inline std::atomic<std::int64_t> wake_ns{0};
  // A yield came back at `now`; `to_stranger`: it ran another process for a long time.
  // One such yield in a while is the scheduler giving a low-priority neighbour its share; one
  // in a few (a neighbour of equal weight) makes yielding a loss: enter the loaded state.
  void yielded(bool to_stranger, std::int64_t now) noexcept {
    if (to_stranger) {
      slow_score += slow_yield_weight;
      if (slow_score >= 2 * slow_yield_weight) {
        overloaded(now);
        slow_score = slow_yield_weight;  // no credit piles up: fast yields wear it off again
      }
    } else if (slow_score > 0) {
      --slow_score;
    }
  }
  unsigned slow_score = 0;
  // Co-location evidence (placement.hpp): pieces in a row, and when the last one came.
  unsigned colocated_seen = 0;
  std::int64_t colocated_at = 0;
  static constexpr unsigned slow_yield_weight = 8;
  // Enter (or extend) the loaded state at time `now`.
  void overloaded(std::int64_t now) noexcept {
    budget = floor();
    if (loaded_until != 0 && now - loaded_until < loaded_window) {  // no overflow near INT64_MAX
      loaded_window = loaded_window * 2 < max_loaded_ms * 1'000'000 ? loaded_window * 2 : max_loaded_ms * 1'000'000;
    } else {
      loaded_window = min_loaded_ms * 1'000'000;
    }
    loaded_until = now + loaded_window;
  }
};

inline spin_state& this_thread_spin() noexcept {
  thread_local spin_state s;
  return s;
}

// This thread's current budget, in pause iterations (tests set it).
inline unsigned& spin_budget() noexcept { return this_thread_spin().budget; }

// Phases 2 and 3 of spin_until (out of line: they cost microseconds anyway, and keeping them
// out of every inlined poll loop keeps those loops small): the poll that began at `t0` missed.
bool spin_missed(spin_state& st, std::int64_t t0, bool (*ready)(void*) noexcept, void* ctx) noexcept;

// Poll `ready` until it returns true or the budget is spent (then yield, unless loaded);
// true if it became ready. False means: park now (see Invariants).
template <class Ready>
bool spin_until(Ready&& ready) noexcept {
  spin_state& st = this_thread_spin();
  // Phase 1: poll. Waits shorter than clock_after_us never read the clock (a read costs
  // 20-50 ns here, ~8% of a 650 ns rendezvous when taken on every wait).
  // A boost raises the budget for this poll; what is left of it decays by halving on misses
  // (measured: keeping it for one poll only made quiet spsc rendezvous 5-10% slower).
  if (st.boost > st.budget) st.budget = st.boost;
  st.boost = 0;
  unsigned i = 0;
  const unsigned untimed = clock_after_us * pauses_per_us();
  for (; i < st.budget && i < untimed; ++i) {
    if (ready()) {
      st.hit();
      return true;
    }
    spin_pause();
  }
  std::int64_t t0 = steady_now_ns();
  for (; i < st.budget; ++i) {
    if (ready()) {
      st.hit();
      return true;
    }
    spin_pause();
  }
  using R = std::remove_reference_t<Ready>;
  return spin_missed(st, t0, [](void* r) noexcept -> bool { return (*static_cast<R*>(r))(); },
                     const_cast<void*>(static_cast<const void*>(std::addressof(ready))));
}

}  // namespace sluice::internal
