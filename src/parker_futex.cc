// Linux futex backend of the parker (see sluice/internal/parker.hpp).
#if defined(__linux__)

#include <linux/futex.h>
#include <sys/syscall.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "sluice/internal/parker.hpp"
#include "sluice/internal/placement.hpp"
#include "sluice/internal/spin.hpp"

namespace sluice::internal {
namespace {

[[noreturn]] void die(const char* what, int err) {
  std::fprintf(stderr, "sluice: %s failed unexpectedly (errno %d); aborting\n", what, err);
  std::abort();
}

// Sleep while *word == expected, until woken or until the absolute CLOCK_MONOTONIC deadline.
// Returns 0 when woken or the value changed, ETIMEDOUT at the deadline.
int futex_wait(std::atomic<std::uint32_t>* word, std::uint32_t expected, const deadline& d) {
  timespec ts{};
  timespec* tsp = nullptr;
  if (!d.is_never()) {
    // steady_clock is CLOCK_MONOTONIC in libstdc++ and libc++ on Linux.
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d.when().time_since_epoch()).count();
    if (ns < 0) ns = 0;
    ts.tv_sec = static_cast<time_t>(ns / 1000000000);
    ts.tv_nsec = static_cast<long>(ns % 1000000000);
    tsp = &ts;
  }
  long r = syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAIT_BITSET_PRIVATE,
                   expected, tsp, nullptr, FUTEX_BITSET_MATCH_ANY);
  if (r == 0) return 0;
  int e = errno;
  if (e == EAGAIN || e == EINTR) return 0;
  if (e == ETIMEDOUT) return ETIMEDOUT;
  die("futex(FUTEX_WAIT_BITSET_PRIVATE)", e);
}

void futex_wake(std::atomic<std::uint32_t>* word) {
  long r = syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAKE_PRIVATE, 1,
                   nullptr, nullptr, 0);
  if (r < 0 && errno != EFAULT) die("futex(FUTEX_WAKE_PRIVATE)", errno);
}

}  // namespace

bool futex_parker::park(const deadline& d) noexcept {
  if (spin_for(word_, notified)) return true;
  if (d.expired()) {
    std::uint32_t cur = word_.load(std::memory_order_acquire);  // pairs with unpark's exchange
    return cur == notified;
  }
  // empty -> sleeping announces that unpark must issue a wake. Acquire on failure pairs with
  // unpark's release exchange (the failure means it already notified).
  std::uint32_t cur = empty;
  // Hints for this sleep only (a waiter may be parked again in a later round): clear what a
  // past wake left. Only on the way to sleep: a hand-off to a polling owner pays nothing.
  waker_cpu_.store(-1, std::memory_order_relaxed);  // a hint (see parker.hpp)
  woken_at_.store(0, std::memory_order_relaxed);    // a hint
  sleeper_cpu_.store(sched_getcpu(), std::memory_order_relaxed);  // a hint (see parker.hpp)
  if (!word_.compare_exchange_strong(cur, sleeping, std::memory_order_acquire,  // pairs with unpark's exchange
                                     std::memory_order_acquire)) {                // likewise
    return true;
  }
  for (;;) {
    int r = futex_wait(&word_, sleeping, d);
    if (word_.load(std::memory_order_acquire) == notified) {  // pairs with unpark
      woken(this_thread_spin());
      return true;
    }
    if (r == ETIMEDOUT || d.expired()) {
      // Withdraw the sleeping mark; failure means unpark() won the race, which counts.
      cur = sleeping;
      return !word_.compare_exchange_strong(cur, empty, std::memory_order_acquire,  // pairs with unpark
                                            std::memory_order_acquire);             // likewise
    }
  }
}

// The owner slept and was woken: tell its spin policy where the waker ran.
void futex_parker::woken(spin_state& st) noexcept {
  int me = sched_getcpu();
  std::int64_t at = woken_at_.load(std::memory_order_relaxed);  // a hint (see parker.hpp)
  std::int64_t latency = at > 0 ? steady_now_ns() - at : -1;
  int waker = waker_cpu_.load(std::memory_order_relaxed);  // a hint (see parker.hpp)
  if (waker >= 0 && waker == me) colocated(st, me, steady_now_ns());  // placement.hpp
  st.after_sleep(waker, me, latency);
}

void futex_parker::unpark() noexcept {
  // Read before the exchange: once it lands the owner may return and destroy the parker.
  // Only when the owner already sleeps: a hand-off to a spinning owner pays nothing extra.
  int sleeper = -1, me = -1;
  if (word_.load(std::memory_order_relaxed) == sleeping) {  // a hint; the exchange decides
    sleeper = sleeper_cpu_.load(std::memory_order_relaxed);  // a hint (see parker.hpp)
    me = sched_getcpu();
    waker_cpu_.store(me, std::memory_order_relaxed);  // a hint, published by the exchange below
    woken_at_.store(steady_now_ns(), std::memory_order_relaxed);  // a hint, published by the exchange
  }
  // Release pairs with the owner's acquire loads/CAS in park() and spin_for().
  if (word_.exchange(notified, std::memory_order_release) == sleeping) {  // pairs with park's acquires
    futex_wake(&word_);
    this_thread_spin().after_wake(sleeper >= 0 && me >= 0 && sleeper != me);
  }
}

}  // namespace sluice::internal

#endif  // __linux__
