// A minimal coroutine type for the async tests: started at once, detached, nothing returned.
// sluice's native awaitables need nothing more from a coroutine type than C++20's protocol.
#pragma once

#include <coroutine>
#include <exception>

namespace sluice_test {

struct detached {
  struct promise_type {
    detached get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }
  };
};

}  // namespace sluice_test
