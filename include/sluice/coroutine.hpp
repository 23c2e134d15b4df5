// sluice/coroutine.hpp - Racket-style coroutines that run only while allowed.
//
//   sluice::coroutine<int> co([](sluice::coroutine_control& c) {
//     int sum = 0;
//     for (int i = 0; i < 1000000; ++i) { sum += i; c.checkpoint(); }
//     return sum;
//   });
//   while (!co.run(std::chrono::milliseconds(1))) do_other_work();
//   int total = *co.result();
//
// run(budget), run_until(deadline) and run(channel) let the coroutine execute during the
// call only, and return true once it has completed (false when the budget ran out first).
// A budget or deadline too far off to represent (hours::max(), 300 years, a time_point near
// its max) means no budget: run until completion.
// run(ch) returns when a receive on ch would not block (ch is polled every millisecond).
//
// What suspension can and cannot interrupt: C++ has no safe preemption, so a budget is
// honoured at checkpoints: control.checkpoint() suspends a coroutine whose run is over, and
// so does every blocking sluice channel operation when it returns. Code between two such
// points runs to the next one even if the budget has passed (run() still returns at its
// deadline; the coroutine then stops at that next point). enable_suspend(false) ...
// enable_suspend(true) brackets a region in which checkpoints do not suspend.
//
// The coroutine runs on a thread of its own that it holds from construction to completion
// (or kill), parked whenever it is not allowed to run; the body may block on channels.
// kill() ends it at its next checkpoint (unwinding its stack with an internal exception);
// done() is true at once. From then on result() is empty (even if the body had completed)
// and run() returns true without rethrowing: whatever the body, still running on to its next
// checkpoint, returns or throws is discarded, never read. An exception from the body is
// rethrown by the run() that sees the coroutine finish. result() is the returned value once
// done (empty if killed or thrown). Destroying or move-assigning over a coroutine that is
// not done kills it, so its thread always ends.
//
// coroutine<void> works too: its result() is a std::optional<std::monostate>.
//
// Thread-safety: a coroutine object is driven by one thread at a time.
#pragma once

#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

#include "sluice/channel.hpp"

namespace sluice {

namespace internal {
struct coro_core;
}

class coroutine_control {
 public:
  // Suspend here if the current run's budget is spent (and suspension is enabled).
  void checkpoint();
  // false: checkpoints do not suspend until enable_suspend(true).
  void enable_suspend(bool on) noexcept;

  explicit coroutine_control(internal::coro_core* c) noexcept : c_(c) {}

 private:
  internal::coro_core* c_;
};

namespace internal {

// The non-template machinery (src/coroutine.cc): the coroutine's thread and the handshake
// with run().
struct coro_core {
  static std::shared_ptr<coro_core> start(std::function<void(coroutine_control&)> body);
  bool run_until(const deadline& d);  // true once done; rethrows the body's exception
  bool run_polling(const std::function<bool()>& stop);  // run in 1 ms slices until done or stop()
  void kill();
  bool done() const noexcept;       // completed, threw, or killed
  bool completed() const noexcept;  // returned or threw, not killed: its result is readable
  void checkpoint(bool from_channel_op);
  void enable_suspend(bool on) noexcept;

  struct impl;
  std::shared_ptr<impl> p;
};

}  // namespace internal

template <class R>
class coroutine {
  static_assert(!std::is_reference_v<R>, "coroutine<R>: R must be a value type");
  // coroutine<void>: result() is an optional<std::monostate>, engaged once it completed.
  using stored = std::conditional_t<std::is_void_v<R>, std::monostate, R>;

 public:
  template <class F>
  explicit coroutine(F&& f) : result_(std::make_shared<std::optional<stored>>()) {
    auto out = result_;
    core_ = internal::coro_core::start(
        [out, fn = std::function<R(coroutine_control&)>(std::forward<F>(f))](coroutine_control& c) {
          if constexpr (std::is_void_v<R>) {
            fn(c);
            out->emplace();
          } else {
            out->emplace(fn(c));
          }
        });
  }
  coroutine(const coroutine&) = delete;
  coroutine& operator=(const coroutine&) = delete;
  coroutine(coroutine&&) noexcept = default;
  // Kills and reclaims the coroutine overwritten, as the destructor does.
  coroutine& operator=(coroutine&& o) noexcept {
    if (this != &o) {
      reclaim();
      result_ = std::move(o.result_);
      core_ = std::move(o.core_);
    }
    return *this;
  }
  ~coroutine() { reclaim(); }

  // Let the coroutine run for `budget`; true once it has completed.
  template <class Rep, class Period>
  bool run(std::chrono::duration<Rep, Period> budget) {
    return core_->run_until(internal::deadline::after(budget));
  }
  // Let the coroutine run until `deadline` (any clock); true once it has completed.
  template <class Clock, class Dur>
  bool run_until(std::chrono::time_point<Clock, Dur> deadline) {
    return core_->run_until(internal::deadline::at(deadline));
  }
  // Let the coroutine run until a receive on `until` would not block; true once completed.
  template <class U>
  bool run(channel<U>& until) {
    internal::chan<U>* c = internal::core_of(until);
    return core_->run_polling([c] { return c->hint(false); });
  }

  // The returned value once completed; empty while running, after a throw, and after kill().
  std::optional<stored> result() const { return core_->completed() ? *result_ : std::nullopt; }
  void kill() { core_->kill(); }
  bool done() const noexcept { return core_->done(); }

 private:
  // A coroutine not yet done is killed, so that its thread unwinds and ends instead of
  // staying parked for good.
  void reclaim() noexcept {
    if (core_ && !core_->done()) core_->kill();
  }

  std::shared_ptr<std::optional<stored>> result_;
  std::shared_ptr<internal::coro_core> core_;
};

}  // namespace sluice
