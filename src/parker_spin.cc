// Calibration for the adaptive spin policy (sluice/internal/spin.hpp).
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <chrono>

#include "sluice/internal/config.hpp"
#include "sluice/internal/parker.hpp"
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

}  // namespace sluice::internal

namespace sluice::internal {

bool spin_for(const std::atomic<std::uint32_t>& word, std::uint32_t target) noexcept {
  // Acquire pairs with the release exchange in unpark(): seeing the flag makes the
  // unparker's prior writes visible.
  return spin_until([&] { return word.load(std::memory_order_acquire) == target; });  // pairs with unpark
}

}  // namespace sluice::internal
