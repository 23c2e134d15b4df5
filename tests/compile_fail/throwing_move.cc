// Issue 9, point 1: must NOT compile. channel<T> requires a noexcept move constructor (a
// value is copied first, in the sender's thread, and then only moved: a move that could
// throw mid hand-off could not be recovered from). Built as a CTest check that expects the
// compiler to reject this file (static_assert on std::is_nothrow_move_constructible_v<T>).
#include <sluice/channel.hpp>

struct throwing_move {
  throwing_move() = default;
  throwing_move(const throwing_move&) = default;
  throwing_move(throwing_move&&) noexcept(false) {}
};

int main() {
  sluice::channel<throwing_move> c(1);
  return c.try_send(throwing_move()) == sluice::status::ok ? 0 : 1;
}
