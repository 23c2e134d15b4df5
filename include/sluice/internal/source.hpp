// sluice/internal/source.hpp - where a send takes its value from.
//
// A send is handed the caller's object and told whether it may move from it (an rvalue) or
// must copy it (an lvalue). The value is taken only at the moment the send commits, so a send
// that does not return ok leaves the caller's object untouched.
#pragma once

#include <type_traits>
#include <utility>

namespace sluice::internal {

template <class T>
class source {
 public:
  static source moving(T& v) noexcept { return source(&v, false); }
  static source copying(const T& v) noexcept { return source(const_cast<T*>(&v), true); }

  // The value to construct at the destination (guaranteed copy elision from the prvalue).
  T take() const {
    if constexpr (std::is_copy_constructible_v<T>) {
      if (copy_) return T(*p_);
    }
    return T(std::move(*p_));
  }

 private:
  source(T* p, bool copy) noexcept : p_(p), copy_(copy) {}
  T* p_;
  bool copy_;  // only ever true for copyable T (an lvalue of a move-only T does not compile)
};

}  // namespace sluice::internal
