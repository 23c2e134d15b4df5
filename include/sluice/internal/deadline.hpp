// sluice/internal/deadline.hpp - the one internal deadline type.
//
// Every timed operation converts its user-facing duration or time_point (of any clock) into a
// `deadline` on std::chrono::steady_clock (CLOCK_MONOTONIC on Linux, which is what the futex
// parker waits on). Three shapes: now (a try_ operation), never (block), or at a time point.
//
// Conversions saturate: a duration or time point too far off for steady_clock's nanoseconds
// (about 292 years; hours::max(), 300 years, nanoseconds::max(), a huge or infinite double,
// a coarse time_point near its max) is never, and one as far in the past is now. No
// conversion here overflows, whatever the clock, Rep or Period.
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <ratio>
#include <type_traits>
#include <utility>

namespace sluice::internal {

// steady_clock's now, in nanoseconds since its epoch (the unit of every time stamp in
// sluice's internals: deadlines, the spin policy, coroutine permits).
inline std::int64_t steady_now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// `d` in nanoseconds, truncated toward zero, clamped to [nanoseconds::min(), nanoseconds::max()]
// instead of overflowing; for any Rep and Period (a floating-point NaN gives zero). Callers
// take max() as "never" and anything not positive as "now".
template <class Rep, class Period>
constexpr std::chrono::nanoseconds saturating_ns(std::chrono::duration<Rep, Period> d) noexcept {
  using ns = std::chrono::nanoseconds;
  using lim = std::numeric_limits<ns::rep>;
  if constexpr (std::is_floating_point_v<Rep>) {
    // Floating point cannot overflow into UB, only to infinity; long double holds every
    // int64 bound exactly (x86) or rounds them to 2^63 (elsewhere); both compare safely.
    const long double x = std::chrono::duration<long double, std::nano>(d).count();
    if (x != x) return ns::zero();
    if (x >= static_cast<long double>(lim::max())) return ns::max();
    if (x <= static_cast<long double>(lim::min())) return ns::min();
    return ns(static_cast<ns::rep>(x));
  } else if constexpr (std::is_integral_v<Rep>) {
    // count * num / den, computed as q * num + r * num / den (q = count / den, r = the
    // remainder) so that no step can overflow: q is checked before q * num, the sum after.
    using cf = std::ratio_divide<Period, std::nano>;  // reduced; den > 0
    constexpr std::intmax_t num = cf::num;
    constexpr std::intmax_t den = cf::den;
    constexpr std::intmax_t q_max = lim::max() / num;
    const Rep c = d.count();
    const auto q = c / den;
    if (std::cmp_greater(q, q_max)) return ns::max();
    if (std::cmp_less(q, -q_max)) return ns::min();
    const ns::rep whole = static_cast<ns::rep>(q) * num;
    if constexpr (den == 1) {
      return ns(whole);
    } else {
      const auto r = static_cast<ns::rep>(c % den);  // |r| < den
      ns::rep part = 0;                               // |part| < num, same sign as whole
      if constexpr (num <= lim::max() / den) {
        part = r * num / den;
      } else {
        part = static_cast<ns::rep>(static_cast<long double>(r) * num / den);
      }
      if (part > 0 && whole > lim::max() - part) return ns::max();
      if (part < 0 && whole < lim::min() - part) return ns::min();
      return ns(whole + part);
    }
  } else {
    return std::chrono::duration_cast<ns>(d);  // a user-defined Rep: its own arithmetic
  }
}

// a - b, clamped to [nanoseconds::min(), nanoseconds::max()].
constexpr std::chrono::nanoseconds saturating_sub(std::chrono::nanoseconds a,
                                                 std::chrono::nanoseconds b) noexcept {
  using ns = std::chrono::nanoseconds;
  if (b > ns::zero() && a < ns::min() + b) return ns::min();
  if (b < ns::zero() && a > ns::max() + b) return ns::max();
  return a - b;
}

class deadline {
 public:
  using clock = std::chrono::steady_clock;
  static_assert(std::is_same_v<clock::duration, std::chrono::nanoseconds>,
                "deadline counts steady_clock time in nanoseconds");

  static deadline never() noexcept { return deadline(clock::time_point::max()); }
  static deadline now() noexcept { return deadline(clock::time_point::min()); }

  // `d` from now: now() if not positive, never() if past what the clock can represent.
  // One clock read.
  template <class Rep, class Period>
  static deadline after(std::chrono::duration<Rep, Period> d) noexcept {
    const std::chrono::nanoseconds ns = saturating_ns(d);
    if (ns <= ns.zero()) return now();
    const clock::time_point t = clock::now();
    if (ns >= clock::time_point::max() - t) return never();  // t + ns would overflow
    return deadline(t + ns);
  }

  // `tp` of any clock: now() if it has passed, never() if it is its clock's max() or past
  // what steady_clock can represent.
  template <class Clock, class Dur>
  static deadline at(std::chrono::time_point<Clock, Dur> tp) noexcept {
    if (tp == std::chrono::time_point<Clock, Dur>::max()) return never();
    const std::chrono::nanoseconds since = saturating_ns(tp.time_since_epoch());
    if (since == since.max()) return never();
    if constexpr (std::is_same_v<Clock, clock>) {
      const clock::time_point t(since);
      if (t <= clock::now()) return now();
      return deadline(t);
    } else {
      // Another clock: carry the remaining time over to steady_clock.
      if (since == since.min()) return now();
      return after(saturating_sub(since, saturating_ns(Clock::now().time_since_epoch())));
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
