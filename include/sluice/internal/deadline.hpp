// sluice/internal/deadline.hpp - the one internal deadline type.
//
// Every timed operation converts its user-facing duration or time_point (of any clock) into a
// `deadline` on std::chrono::steady_clock (CLOCK_MONOTONIC on Linux, which is what the futex
// parker waits on). Three shapes: now (a try_ operation), never (block), or at a time point.
#pragma once

#include <chrono>
#include <cstdint>

namespace sluice::internal {

class deadline {
 public:
  using clock = std::chrono::steady_clock;

  static deadline never() noexcept { return deadline(clock::time_point::max()); }
  static deadline now() noexcept { return deadline(clock::time_point::min()); }

  template <class Rep, class Period>
  static deadline after(std::chrono::duration<Rep, Period> d) noexcept {
    if (d <= d.zero()) return now();
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d);
    // Saturate: a duration too large for the clock means "never".
    if (d >= std::chrono::duration<Rep, Period>::max() ||
        ns.count() >= (clock::time_point::max() - clock::now()).count()) {
      return never();
    }
    return deadline(clock::now() + ns);
  }

  template <class Clock, class Dur>
  static deadline at(std::chrono::time_point<Clock, Dur> tp) noexcept {
    if constexpr (std::is_same_v<Clock, clock>) {
      if (tp == std::chrono::time_point<Clock, Dur>::max()) return never();
      if (tp <= clock::now()) return now();
      return deadline(std::chrono::time_point_cast<clock::duration>(tp));
    } else {
      // Another clock: carry the remaining time over to steady_clock.
      return after(tp - Clock::now());
    }
  }

  bool is_now() const noexcept { return tp_ == clock::time_point::min(); }
  bool is_never() const noexcept { return tp_ == clock::time_point::max(); }
  bool expired() const noexcept { return !is_never() && (is_now() || clock::now() >= tp_); }
  clock::time_point when() const noexcept { return tp_; }

 private:
  explicit deadline(clock::time_point tp) noexcept : tp_(tp) {}
  clock::time_point tp_;
};

}  // namespace sluice::internal
