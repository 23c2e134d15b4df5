// Calibration for the adaptive spin policy (sluice/internal/spin.hpp).
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <chrono>
#include <thread>

#include "sluice/internal/config.hpp"
#include "sluice/internal/parker.hpp"
#include "sluice/internal/placement.hpp"
#include "sluice/internal/spin.hpp"

namespace sluice::internal {

unsigned pauses_per_us() noexcept {
  static const unsigned per_us = [] {
    // Time 2000 pauses (a few tens of microseconds); take the best of three runs so that a
    // preemption during calibration does not shrink the budget.
    double best_ns = 1e9;
    for (int run = 0; run < 3; ++run) {
      auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < 2000; ++i) spin_pause();
      double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
      best_ns = std::min(best_ns, ns);
    }
    double per_pause = std::max(best_ns / 2000.0, 0.5);
    return static_cast<unsigned>(std::clamp(1000.0 / per_pause, 4.0, 4000.0));
  }();
  return per_us;
}

bool spin_missed(spin_state& st, std::int64_t t0, bool (*ready)(void*) noexcept, void* ctx) noexcept {
  std::int64_t now = steady_now_ns();
  // Phase 2: a miss. Was the poll preempted? (twice its calibrated time and a slice's worth)
  std::int64_t expected_ns = static_cast<std::int64_t>(st.budget) * 1000 / pauses_per_us();
  if (now - t0 > 2 * expected_ns + slow_yield_ns) {
    st.budget = st.floor();
  } else {
    st.miss();
  }
  // Phase 3: yield, unless yields are known to hand the core to another process. The test
  // uses the whole process's CPU time: in a program whose other threads keep the other CPUs
  // busy it does not fire, and the thread keeps yielding as it did before issue 10. A yield
  // entered where another of our threads is yielding is evidence that we share its CPU
  // (placement.hpp), which may move this thread.
  if (st.loaded(now)) return ready(ctx);
  for (int y = 0; y < 2; ++y) {
    std::int64_t cpu0 = process_cpu_ns();
    int cpu = enter_yield(st, now);
    std::this_thread::yield();
    leave_yield(cpu);
    std::int64_t after = steady_now_ns();
    st.yielded(after - now > slow_yield_ns && (process_cpu_ns() - cpu0) * 2 < after - now, after);
    if (ready(ctx)) return true;
    if (st.loaded(after)) return false;
    now = after;
  }
  return false;
}


bool spin_for(const std::atomic<std::uint32_t>& word, std::uint32_t target) noexcept {
  // Acquire pairs with the release exchange in unpark(): seeing the flag makes the
  // unparker's prior writes visible.
  return spin_until([&] { return word.load(std::memory_order_acquire) == target; });  // pairs with unpark
}

}  // namespace sluice::internal
