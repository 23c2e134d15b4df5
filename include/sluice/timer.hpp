// sluice/timer.hpp - timer channels, as in Go's time.After / time.Tick and crossbeam's
// after / tick.
//
//   sluice::after(d)  a channel that receives one value (the steady_clock time it fired) d
//                     from now. Capacity 1, so the timer never blocks on a slow receiver.
//   sluice::tick(d)   a channel that receives a value every d. Capacity 1: when the receiver
//                     falls behind, ticks are dropped rather than queued (as in Go).
//
// Both are ordinary channels (usable with recv, recv_for, on_recv in alternations, ...).
// A delay or period too long to represent (past about 292 years: nanoseconds::max(),
// hours::max(), 300 years, an infinite double) saturates: that timer never fires.
// One background thread per process serves every timer; it holds only weak references, so
// a timer channel nobody holds any more is simply dropped. Thread-safety: any thread.
#pragma once

#include <functional>

#include <chrono>

#include "sluice/channel.hpp"
#include "sluice/internal/deadline.hpp"

namespace sluice {

using timer_channel = channel<std::chrono::steady_clock::time_point>;

timer_channel after_ns(std::chrono::nanoseconds d);

namespace internal {
// Runs f on the timer thread d from now (sluice::mp::cal's timeout). f must not block: it
// should only hand work to another thread.
void call_after(std::chrono::nanoseconds d, std::function<void()> f);
}  // namespace internal
timer_channel tick_ns(std::chrono::nanoseconds period);

template <class Rep, class Period>
timer_channel after(std::chrono::duration<Rep, Period> d) {
  return after_ns(internal::saturating_ns(d));
}

// Throws std::invalid_argument when period is not positive.
template <class Rep, class Period>
timer_channel tick(std::chrono::duration<Rep, Period> period) {
  return tick_ns(internal::saturating_ns(period));
}

}  // namespace sluice
