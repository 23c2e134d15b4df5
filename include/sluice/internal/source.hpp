// sluice/internal/source.hpp - where a send takes its value from.
//
// A send is handed an object it may move from at the moment it commits: an rvalue of the
// caller's, or the copy (conversion) that channel::send made before anything was committed.
// T's move constructor is noexcept (channel<T> checks), so taking the value cannot fail, and
// a send that does not commit leaves the object untouched.
#pragma once

#include <utility>

namespace sluice::internal {

template <class T>
class source {
 public:
  static source moving(T& v) noexcept { return source(&v); }

  // The value to construct at the destination (guaranteed copy elision from the prvalue).
  T take() const noexcept { return T(std::move(*p_)); }

 private:
  explicit source(T* p) noexcept : p_(p) {}
  T* p_;
};

}  // namespace sluice::internal
