// sluice/consumer_thread.hpp - Racket's consumer-thread (mzlib/thread).
//
//   auto [worker, enqueue] = sluice::consumer_thread([](std::string s, int n) { ... });
//   enqueue("a", 1);   // returns at once: status::ok, or status::closed once the thread ended
//
// The thread runs `init` (optional) first, then applies f to each enqueued argument set, in
// order, one at a time. If f (or init) throws, the thread ends: later enqueues report
// status::closed rather than vanish, and argument sets still queued are discarded. The
// handle stops and joins on destruction, like std::jthread: it closes the queue, lets the
// thread finish what was already accepted (an enqueue that returned ok is processed), and
// joins. f must have a fixed parameter list (not a generic lambda).
//
// Thread-safety: the enqueue callable may be copied and called from any thread.
#pragma once

#include <exception>
#include <functional>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>

#include "sluice/channel.hpp"

namespace sluice {

namespace internal {
template <class F>
struct callable_args : callable_args<decltype(&std::decay_t<F>::operator())> {};
template <class R, class... A>
struct callable_args<R (*)(A...)> {
  using tuple = std::tuple<std::decay_t<A>...>;
};
template <class R, class... A>
struct callable_args<R(A...)> : callable_args<R (*)(A...)> {};
template <class C, class R, class... A>
struct callable_args<R (C::*)(A...)> : callable_args<R (*)(A...)> {};
template <class C, class R, class... A>
struct callable_args<R (C::*)(A...) const> : callable_args<R (*)(A...)> {};
template <class C, class R, class... A>
struct callable_args<R (C::*)(A...) noexcept> : callable_args<R (*)(A...)> {};
template <class C, class R, class... A>
struct callable_args<R (C::*)(A...) const noexcept> : callable_args<R (*)(A...)> {};
}  // namespace internal

// Owns the consumer thread; stops (closes the queue, drains it) and joins on destruction.
class consumer_thread_handle {
 public:
  consumer_thread_handle() = default;
  consumer_thread_handle(std::thread t, std::function<void()> close) : thread_(std::move(t)), close_(std::move(close)) {}
  consumer_thread_handle(consumer_thread_handle&&) noexcept = default;
  consumer_thread_handle& operator=(consumer_thread_handle&& o) noexcept {
    stop();
    thread_ = std::move(o.thread_);
    close_ = std::move(o.close_);
    return *this;
  }
  ~consumer_thread_handle() { stop(); }

  // Close the queue, let the thread finish what it accepted, and join. Idempotent.
  void stop() {
    if (close_) close_();
    if (thread_.joinable()) thread_.join();
  }
  bool joinable() const noexcept { return thread_.joinable(); }

 private:
  std::thread thread_;
  std::function<void()> close_;
};

// The enqueue side: callable with f's parameters.
template <class Tuple>
class consumer_enqueue;
template <class... Args>
class consumer_enqueue<std::tuple<Args...>> {
 public:
  explicit consumer_enqueue(channel<std::tuple<Args...>> q) : q_(std::move(q)) {}
  template <class... U>
  status operator()(U&&... args) const {
    auto q = q_;
    return q.send(std::tuple<Args...>(std::forward<U>(args)...));  // unbounded: ok or closed, never blocks
  }

 private:
  channel<std::tuple<Args...>> q_;
};

template <class F, class Init>
auto consumer_thread(F f, Init init) {
  using args = typename internal::callable_args<F>::tuple;
  channel<args> q(unbounded);
  std::thread t([q, f = std::move(f), init = std::move(init)]() mutable {
    try {
      init();
      for (auto& a : q) std::apply(f, std::move(a));
    } catch (...) {
      q.close();  // later enqueues report closed; what is still queued is discarded
    }
  });
  return std::pair<consumer_thread_handle, consumer_enqueue<args>>(
      consumer_thread_handle(std::move(t), [q]() mutable { q.close(); }), consumer_enqueue<args>(q));
}

template <class F>
auto consumer_thread(F f) {
  return consumer_thread(std::move(f), [] {});
}

}  // namespace sluice
