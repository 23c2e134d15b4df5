// Racket-style coroutines on a parked thread of their own (see sluice/coroutine.hpp).
//
// Invariants:
//   - run() and the coroutine hand control back and forth through two unbounded channels:
//     `go` carries a round number (permission to run until permit_until), `back` carries the
//     round the coroutine was in when it suspended or finished. run() ignores rounds older
//     than its own, so a run that timed out never confuses the next one.
//   - The coroutine only runs user code after a `go` whose window (permit_until) is still
//     open, or between checkpoints that it has not reached yet.
//   - `state` is the outcome, one word so that kill() and the body's completion cannot both
//     win: running -> completed (the coroutine's thread, once the result or the exception is
//     stored; release) or -> killed (kill(), from any state). The result and the exception
//     are read only after an acquire load sees completed; once killed they are never read,
//     since the unwinding body may still be writing them.
#include <atomic>
#include <thread>

#include "sluice/coroutine.hpp"
#include "sluice/internal/deadline.hpp"

namespace sluice::internal {

namespace {
struct killed_signal {};  // unwinds a killed coroutine's stack; never escapes the thread

// The handshake's own channel operations go to the channel core directly: the public calls
// would run the coroutine hook (after_blocking) and suspend recursively.
void post(channel<std::uint64_t>& c, std::uint64_t v) {
  core_of(c)->send(source<std::uint64_t>::moving(v), deadline::never());
}
std::optional<std::uint64_t> take(channel<std::uint64_t>& c) {
  std::optional<std::uint64_t> out;
  core_of(c)->recv(out, deadline::never());
  return out;
}
}  // namespace

struct coro_core::impl {
  channel<std::uint64_t> go{unbounded};
  channel<std::uint64_t> back{unbounded};
  enum outcome : int { running, completed, killed };
  std::atomic<std::int64_t> permit_until{0};  // steady_clock ns; ordered by the go channel
  std::atomic<int> state{running};            // an outcome; see Invariants
  std::exception_ptr error;  // written before state becomes completed (release)
  bool error_reported = false;  // run() side only
  std::uint64_t round = 0;       // run() side only
  std::uint64_t coro_round = 0;  // coroutine side only
  bool suspend_enabled = true;   // coroutine side only

  // Coroutine side: suspend until a run() opens a window (or kill).
  bool suspend() {
    do {
      post(back, coro_round);
      auto r = take(go);
      if (!r || was_killed()) return false;
      coro_round = *r;
    } while (steady_now_ns() >= permit_until.load());
    return true;
  }

  bool was_killed() const noexcept { return state.load() == killed; }

  // Coroutine side, when the body has returned or thrown: publish the outcome, unless kill()
  // came first (then the result and the exception are discarded).
  void complete() noexcept {
    int expected = running;
    // Release pairs with the acquire loads in done() and completed(): the result and `error`
    // were written before. Relaxed on failure: nothing is published then.
    state.compare_exchange_strong(expected, completed, std::memory_order_release, std::memory_order_relaxed);  // see above
  }
};

namespace {
thread_local coro_core::impl* current = nullptr;
}

std::shared_ptr<coro_core> coro_core::start(std::function<void(coroutine_control&)> body) {
  auto core = std::make_shared<coro_core>();
  core->p = std::make_shared<impl>();
  std::thread([core, body = std::move(body)] {
    impl& s = *core->p;
    current = &s;
    in_coroutine = true;
    auto first = take(s.go);  // wait for the first run()
    if (first && !s.was_killed()) {
      s.coro_round = *first;
      bool runnable = steady_now_ns() < s.permit_until.load() || s.suspend();
      if (runnable) {
        try {
          coroutine_control c(core.get());
          body(c);
        } catch (const killed_signal&) {
        } catch (...) {
          s.error = std::current_exception();
        }
      }
    }
    s.complete();
    post(s.back, s.coro_round);
    in_coroutine = false;
    current = nullptr;
  }).detach();
  return core;
}

bool coro_core::done() const noexcept {
  return p->state.load(std::memory_order_acquire) != impl::running;  // pairs with complete()'s CAS
}

bool coro_core::completed() const noexcept {
  return p->state.load(std::memory_order_acquire) == impl::completed;  // pairs with complete()'s CAS
}

bool coro_core::run_until(const deadline& d) {
  impl& s = *p;
  if (!done()) {
    std::uint64_t r = ++s.round;
    s.permit_until.store(d.is_never() ? INT64_MAX : d.is_now() ? steady_now_ns() : d.when().time_since_epoch().count());
    s.go.send(r);
    for (;;) {
      std::optional<std::uint64_t> got;
      if (d.is_never()) {
        auto x = s.back.recv();
        if (x) got = *x;
      } else {
        auto x = s.back.recv_until(d.is_now() ? std::chrono::steady_clock::now() : d.when());
        if (x) got = *x;
      }
      if (!got) break;           // the budget ran out while it was between checkpoints
      if (*got == r) break;      // it suspended, or finished, in this round
    }
  }
  const int outcome = s.state.load(std::memory_order_acquire);  // pairs with complete()'s CAS
  if (outcome == impl::running) return false;
  if (outcome == impl::killed) return true;  // never read `error`: the body may be unwinding
  if (s.error && !s.error_reported) {
    s.error_reported = true;
    std::rethrow_exception(s.error);
  }
  return true;
}

bool coro_core::run_polling(const std::function<bool()>& stop) {
  for (;;) {
    if (done()) return run_until(deadline::now());
    if (stop()) return false;
    if (run_until(deadline::after(std::chrono::milliseconds(1)))) return true;
  }
}

void coro_core::kill() {
  p->state.store(impl::killed);  // overrides completed too: result() is empty from now on
  p->go.close();  // wakes a suspended coroutine; it unwinds at its checkpoint
}

void coro_core::checkpoint(bool from_channel_op) {
  impl& s = *p;
  if (s.was_killed()) {
    if (from_channel_op) return;  // never lose a value an operation just moved: unwind later
    throw killed_signal{};
  }
  if (!s.suspend_enabled || steady_now_ns() < s.permit_until.load()) return;
  if (!s.suspend() && !from_channel_op) throw killed_signal{};
}

void coro_core::enable_suspend(bool on) noexcept { p->suspend_enabled = on; }

void coroutine_yield_point() {
  if (current == nullptr) return;
  coro_core tmp;
  // The hook only needs the impl; wrap it without taking ownership.
  tmp.p = std::shared_ptr<coro_core::impl>(std::shared_ptr<coro_core::impl>(), current);
  tmp.checkpoint(true);
}

}  // namespace sluice::internal

namespace sluice {

void coroutine_control::checkpoint() { c_->checkpoint(false); }
void coroutine_control::enable_suspend(bool on) noexcept { c_->enable_suspend(on); }

}  // namespace sluice
