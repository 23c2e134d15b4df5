// sluice/channel.hpp - typed channels: rendezvous, bounded, lossy and unbounded.
//
// A channel<T> is a copyable handle; copies share one channel, which lives until the last
// handle (or alternation clause holding one) is gone; then the values still buffered in it
// are destroyed, exactly once.
//
//   channel<T> c;                              rendezvous: send completes when a receiver took it
//   channel<T> c(64);                          bounded FIFO of 64; send blocks while full
//   channel<T> c(64, overflow::drop_oldest);   lossy: a full send evicts the oldest item
//   channel<T> c(64, overflow::drop_newest);   lossy: a full send returns full, value kept
//   channel<T> c(sluice::unbounded);           grows by 31-slot segments; send never blocks
//
// Blocking (see each function): send/recv block; try_* never block; *_for/*_until block at
// most until their deadline (any clock; a zero or past deadline does not block at all) and
// report timeout within a few milliseconds of it. close() never blocks.
//
// Thread-safety: every member function may be called from any number of threads at once.
//
// Memory ordering: for any threads X and Y, any action X takes before a send returns ok is
// visible to Y after Y's receive returns that value. close() happens before any operation
// that reports closed because of it.
//
// Values: a send that does not return ok leaves the caller's object untouched (an rvalue is
// not moved from). An lvalue (or a value of another type) is copied (converted) in the
// sender's thread before anything is committed, so a copy that throws propagates to that
// caller with the channel unchanged; the copy is made even when the send then fails. A
// value whose send returned ok is received exactly once, or destroyed exactly once with the
// channel. T's move constructor must be noexcept (checked at compile time): a value is moved
// after its send committed, where an exception could not be undone. T need not be
// default-constructible or copyable.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <type_traits>
#include <utility>

#include "sluice/internal/buffered.hpp"
#include "sluice/internal/chan.hpp"
#include "sluice/internal/list.hpp"
#include "sluice/internal/ring.hpp"
#include "sluice/internal/zero.hpp"
#include "sluice/policy.hpp"
#include "sluice/recv_result.hpp"
#include "sluice/status.hpp"

namespace sluice {

template <class T>
class channel;

namespace internal {
// Coroutine support (coroutine.hpp): a blocking channel operation made on a coroutine's
// thread suspends it when it returns if its run's budget is spent. One thread-local load
// and a branch everywhere else.
inline thread_local bool in_coroutine = false;
void coroutine_yield_point();
inline void after_blocking() {
  if (in_coroutine) coroutine_yield_point();
}
}  // namespace internal

namespace internal {
// An Asio completion token, as opposed to the std::stop_token of a native awaitable.
template <class Token>
concept not_stop_token = !std::is_same_v<std::remove_cvref_t<Token>, std::stop_token>;

template <class T>
chan<T>* core_of(const channel<T>& c) noexcept;
struct channel_access;  // shares a channel's core (timers hold it weakly)
}

template <class T>
class channel {
  static_assert(std::is_move_constructible_v<T>, "channel<T> needs a move-constructible T");
  static_assert(std::is_nothrow_move_constructible_v<T>,
                "sluice::channel<T>: T's move constructor must be noexcept. A value is moved after its "
                "send has committed, where an exception could not be undone. Declare T(T&&) noexcept "
                "(a user-declared copy constructor or destructor suppresses the implicit move), or send "
                "a std::unique_ptr<T>.");
  static_assert(!std::is_reference_v<T> && std::is_same_v<T, std::remove_cv_t<T>>,
                "channel<T> carries values: T must not be a reference or cv-qualified");

 public:
  using value_type = T;

  // Rendezvous (capacity 0).
  channel() : core_(std::make_shared<internal::zero_chan<T>>()) {}

  // capacity 0: rendezvous (the policy is ignored). Otherwise a bounded FIFO of `capacity`.
  explicit channel(std::size_t capacity, overflow policy = overflow::block) : core_(make(capacity, policy)) {}

  explicit channel(unbounded_t)
      : core_(std::make_shared<internal::buffered_chan<T, internal::list<T>>>(overflow::block)) {}

  // Blocks until the value is delivered (rendezvous) or buffered. ok | closed.
  template <class U>
  status send(U&& value) {
    status s = send_with(std::forward<U>(value), internal::deadline::never());
    internal::after_blocking();
    return s;
  }

  // As send(value), and on a drop_oldest channel the item a full send evicts is moved into
  // `evicted` instead of being destroyed (evicted is left empty when nothing was evicted, and
  // on every other kind of channel). A send that does not return ok evicts nothing.
  template <class U>
  status send(U&& value, std::optional<T>& evicted) {
    evicted.reset();
    status s = send_with(std::forward<U>(value), internal::deadline::never(), &evicted);
    internal::after_blocking();
    return s;
  }

  // Never blocks. ok | full (no room; rendezvous: no receiver waiting) | closed.
  template <class U>
  status try_send(U&& value) {
    return send_with(std::forward<U>(value), internal::deadline::now());
  }

  // Blocks at most `timeout`. ok | timeout | closed.
  template <class U, class Rep, class Period>
  status send_for(U&& value, std::chrono::duration<Rep, Period> timeout) {
    status s = timed(send_with(std::forward<U>(value), internal::deadline::after(timeout)));
    internal::after_blocking();
    return s;
  }

  // Blocks at most until `deadline` (any clock). ok | timeout | closed.
  template <class U, class Clock, class Dur>
  status send_until(U&& value, std::chrono::time_point<Clock, Dur> deadline) {
    status s = timed(send_with(std::forward<U>(value), internal::deadline::at(deadline)));
    internal::after_blocking();
    return s;
  }

  // Blocks until a value arrives or the channel is closed and drained. ok | closed.
  recv_result<T> recv() {
    recv_result<T> r = recv_with(internal::deadline::never());
    internal::after_blocking();
    return r;
  }

  // Never blocks. ok | empty (nothing buffered; rendezvous: no sender waiting) | closed.
  recv_result<T> try_recv() { return recv_with(internal::deadline::now()); }

  // Blocks at most `timeout`. ok | timeout | closed.
  template <class Rep, class Period>
  recv_result<T> recv_for(std::chrono::duration<Rep, Period> timeout) {
    recv_result<T> r = timed(recv_with(internal::deadline::after(timeout)));
    internal::after_blocking();
    return r;
  }

  // Blocks at most until `deadline` (any clock). ok | timeout | closed.
  template <class Clock, class Dur>
  recv_result<T> recv_until(std::chrono::time_point<Clock, Dur> deadline) {
    recv_result<T> r = timed(recv_with(internal::deadline::at(deadline)));
    internal::after_blocking();
    return r;
  }

  // ---- Awaitable forms: declared here, defined in <sluice/async.hpp> (include it to use them).
  // Native awaitables, for co_await in any C++20 coroutine (no allocation unless timed); the
  // awaiting coroutine resumes on the thread that completes the operation (see async.hpp).
  template <class U>
  auto async_send(U&& value);                        // -> status: ok | closed
  template <class U>
  auto async_send(U&& value, std::stop_token stop);  // ok | closed | cancelled
  template <class U, class Rep, class Period>
  auto async_send_for(U&& value, std::chrono::duration<Rep, Period> timeout);  // ok | timeout | closed
  template <class U, class Rep, class Period>
  auto async_send_for(U&& value, std::chrono::duration<Rep, Period> timeout, std::stop_token stop);
  auto async_recv();                                 // -> recv_result<T>: ok | closed
  auto async_recv(std::stop_token stop);             // ok | closed | cancelled
  template <class Rep, class Period>
  auto async_recv_for(std::chrono::duration<Rep, Period> timeout);  // ok | timeout | closed
  template <class Rep, class Period>
  auto async_recv_for(std::chrono::duration<Rep, Period> timeout, std::stop_token stop);
  // Boost.Asio completion tokens (use_awaitable, deferred, use_future, callbacks, as_tuple...):
  // send: void(boost::system::error_code, status); recv: void(error_code, recv_result<T>).
  template <class U, internal::not_stop_token Token>
  auto async_send(U&& value, Token&& token);
  template <class U, class Rep, class Period, internal::not_stop_token Token>
  auto async_send_for(U&& value, std::chrono::duration<Rep, Period> timeout, Token&& token);
  template <internal::not_stop_token Token>
  auto async_recv(Token&& token);
  template <class Rep, class Period, internal::not_stop_token Token>
  auto async_recv_for(std::chrono::duration<Rep, Period> timeout, Token&& token);

  // Closes both directions; idempotent; never blocks. Wakes every blocked sender (closed,
  // value kept) and receiver. Buffered items can still be received; then recv reports closed.
  void close() noexcept { core_->close(); }
  bool is_closed() const noexcept { return core_->is_closed(); }

  // Items buffered now: a snapshot, stale as soon as it returns. 0 for a rendezvous.
  std::size_t size() const noexcept { return core_->size(); }
  // 0 for a rendezvous, SIZE_MAX for unbounded.
  std::size_t capacity() const noexcept { return core_->capacity(); }

  // Two handles are equal when they share one channel.
  friend bool operator==(const channel& a, const channel& b) noexcept { return a.core_ == b.core_; }

  // `for (T v : ch)` receives (blocking) until the channel is closed and drained.
  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using pointer = T*;
    using reference = T&;

    iterator() = default;
    explicit iterator(channel* c) : ch_(c) { ++*this; }
    T& operator*() { return *cur_; }
    T* operator->() { return &*cur_; }
    iterator& operator++() {
      cur_.reset();
      if (ch_->core_->recv(cur_, internal::deadline::never()) != status::ok) ch_ = nullptr;
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& a, const iterator& b) noexcept { return a.ch_ == b.ch_; }

   private:
    channel* ch_ = nullptr;
    std::optional<T> cur_;
  };
  iterator begin() { return iterator(this); }
  iterator end() { return iterator(); }

 private:
  friend internal::chan<T>* internal::core_of<T>(const channel<T>&) noexcept;
  friend struct internal::channel_access;

  static std::shared_ptr<internal::chan<T>> make(std::size_t capacity, overflow policy) {
    if (capacity == 0) return std::make_shared<internal::zero_chan<T>>();
    if (capacity > (std::size_t{1} << 62)) throw std::length_error("sluice::channel: capacity too large");
    return std::make_shared<internal::buffered_chan<T, internal::ring<T>>>(policy, capacity);
  }

  // Copies (or converts) first, in this thread, before anything is committed: then only T's
  // noexcept move runs between a commit and the store that completes it, and a throwing copy
  // leaves the channel as it was.
  template <class U>
  status send_with(U&& value, const internal::deadline& d, std::optional<T>* evicted = nullptr) {
    using V = std::remove_cvref_t<U>;
    if constexpr (std::is_same_v<V, T> && !std::is_lvalue_reference_v<U> && !std::is_const_v<std::remove_reference_t<U>>) {
      return commit(value, d, evicted);  // an rvalue: moved from only if the send commits
    } else if constexpr (std::is_same_v<V, T>) {
      static_assert(std::is_copy_constructible_v<T>, "send copies an lvalue: T is move-only, pass std::move(value)");
      T copy(value);
      return commit(copy, d, evicted);
    } else {
      // Another type: convert first. When T can be built from a const U&, the caller's
      // object is only read, so it is untouched whatever the result.
      static_assert(std::is_constructible_v<T, U&&>, "channel<T>::send: value is not convertible to T");
      if constexpr (std::is_constructible_v<T, const V&>) {
        T tmp(static_cast<const V&>(value));
        return commit(tmp, d, evicted);
      } else {
        T tmp(std::forward<U>(value));
        return commit(tmp, d, evicted);
      }
    }
  }

  status commit(T& v, const internal::deadline& d, std::optional<T>* evicted) {
    if (evicted) return core_->send_evicting(internal::source<T>::moving(v), d, *evicted);
    return core_->send(internal::source<T>::moving(v), d);
  }

  // The core writes straight into the result: copying an optional the callee has just
  // written byte by byte costs a store-forwarding stall per message at -O3.
  recv_result<T> recv_with(const internal::deadline& d) {
    recv_result<T> r(status::empty);
    r.status_ = core_->recv(r.value_, d);
    return r;
  }

  static status timed(status s) noexcept { return s == status::full ? status::timeout : s; }
  static recv_result<T> timed(recv_result<T>&& r) noexcept {
    if (r.status() == status::empty) return recv_result<T>(status::timeout);
    return std::move(r);
  }

  std::shared_ptr<internal::chan<T>> core_;
};

namespace internal {
template <class T>
chan<T>* core_of(const channel<T>& c) noexcept {
  return c.core_.get();
}

struct channel_access {
  template <class T>
  static std::shared_ptr<chan<T>> share(const channel<T>& c) noexcept { return c.core_; }
};
}  // namespace internal

}  // namespace sluice
