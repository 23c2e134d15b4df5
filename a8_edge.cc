#include <sluice/sluice.hpp>
#include <boost/asio.hpp>
#include "task.hpp"
namespace asio = boost::asio;
namespace mp = sluice::mp;
using namespace std::chrono_literals;
int main() {
  asio::io_context io;
  auto p = mp::port_co(io, [](mp::async_mailbox& mb) -> asio::awaitable<void> {
    std::string tag = "login";
#ifdef E1
    auto a = co_await mb.async_get(tag, 5s);                 // tag as a std::string lvalue
#endif
#ifdef E2
    auto b = co_await mb.async_get(std::string("x"), 100ms);  // std::string rvalue
#endif
#ifdef E3
    std::chrono::milliseconds timeout = 100ms;
    auto c = co_await mb.async_get(tag, timeout);
#endif
    auto d = co_await mb.async_get(tag.c_str(), 100ms);      // const char*: expected fine
    co_return;
  });
  (void)p;
}
