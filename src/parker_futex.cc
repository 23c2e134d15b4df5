// Linux futex backend of the parker (see sluice/internal/parker.hpp).
#if defined(__linux__)

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "sluice/internal/parker.hpp"

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
  if (!word_.compare_exchange_strong(cur, sleeping, std::memory_order_acquire,
                                     std::memory_order_acquire)) {
    return true;
  }
  for (;;) {
    int r = futex_wait(&word_, sleeping, d);
    if (word_.load(std::memory_order_acquire) == notified) return true;  // pairs with unpark
    if (r == ETIMEDOUT || d.expired()) {
      // Withdraw the sleeping mark; failure means unpark() won the race, which counts.
      cur = sleeping;
      return !word_.compare_exchange_strong(cur, empty, std::memory_order_acquire,
                                            std::memory_order_acquire);
    }
  }
}

void futex_parker::unpark() noexcept {
  // Release pairs with the owner's acquire loads/CAS in park() and spin_for().
  if (word_.exchange(notified, std::memory_order_release) == sleeping) futex_wake(&word_);
}

}  // namespace sluice::internal

#endif  // __linux__
