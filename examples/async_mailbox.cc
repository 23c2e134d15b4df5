// port_co: a port whose body is a coroutine, with selective receive awaited (no thread held
// while it waits), next to a thread and a native coroutine sharing one channel.
#include <chrono>
#include <coroutine>
#include <cstdio>
#include <exception>
#include <thread>

#include <boost/asio.hpp>
#include <sluice/async.hpp>
#include <sluice/sluice.hpp>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using sluice::mp::message;

// A minimal coroutine type: native awaitables need nothing more.
struct task {
  struct promise_type {
    task get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }
  };
};

int main() {
  // 1. A thread and a native coroutine share a channel.
  sluice::channel<int> numbers;
  long total = 0;
  [](sluice::channel<int> in, long& total) -> task {
    for (;;) {
      auto r = co_await in.async_recv();  // resumes on the sender's thread
      if (!r) co_return;
      total += *r;
    }
  }(numbers, total);
  std::thread producer([&] {
    for (int i = 1; i <= 100; ++i) numbers.send(i);
    numbers.close();
  });
  producer.join();
  std::printf("the coroutine summed %ld\n", total);

  // 2. A port whose body is an asio::awaitable with an awaited mailbox.
  asio::io_context io(1);
  auto work = asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  sluice::channel<message> out(sluice::unbounded);
  auto p = sluice::mp::port_co(io, [out](sluice::mp::async_mailbox& mb) mutable -> asio::awaitable<void> {
    auto login = co_await mb.async_get("login", 5s);  // selective: the "login" message first
    out.send(login ? *login : message("no login"));
    for (;;) {
      message m = co_await mb.async_get();  // then the rest in arrival order
      if (m[0] == "quit") co_return;
      out.send(m);
    }
  });
  sluice::mp::snd(p, {"chat", "hi"});
  sluice::mp::snd(p, {"login", "ann"});
  sluice::mp::snd(p, {"quit"});
  for (int i = 0; i < 2; ++i) std::printf("port got %s\n", out.recv_for(5s)->dump().c_str());
  work.reset();
  runner.join();
  return total == 5050 ? 0 : 1;
}
