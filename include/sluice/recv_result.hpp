// sluice/recv_result.hpp - what a receive returns: a value, or the reason there is none.
//
// Thread-safety: a plain value type, owned by the thread that received it.
#pragma once

#include <optional>
#include <utility>

#include "sluice/status.hpp"

namespace sluice {

template <class T>
class channel;

template <class T>
class [[nodiscard]] recv_result {
 public:
  // A result with a value has status ok; one without has closed, timeout or empty.
  explicit recv_result(sluice::status s) noexcept : status_(s) {}
  template <class... A>
  explicit recv_result(std::in_place_t, A&&... a) : status_(sluice::status::ok), value_(std::in_place, std::forward<A>(a)...) {}
  recv_result(sluice::status s, std::optional<T>&& v) : status_(s), value_(std::move(v)) {}

  sluice::status status() const noexcept { return status_; }
  bool has_value() const noexcept { return value_.has_value(); }
  explicit operator bool() const noexcept { return has_value(); }

  // Throw sluice::bad_recv_access when there is no value.
  T& value() & { check(); return *value_; }
  const T& value() const& { check(); return *value_; }
  T&& value() && { check(); return std::move(*value_); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // The value, or `fallback` when there is none.
  template <class U>
  T value_or(U&& fallback) && { return value_ ? std::move(*value_) : T(std::forward<U>(fallback)); }

 private:
  friend class channel<T>;  // fills status_ and value_ in place (no copy of the optional)

  void check() const {
    if (!value_) throw bad_recv_access(status_);
  }
  sluice::status status_;
  std::optional<T> value_;
};

}  // namespace sluice
