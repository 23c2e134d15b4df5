// port_co: a port whose body is a coroutine on an io_context, with an awaited mailbox
// (selective receive as in port_async, no thread held while it waits).
#include <chrono>
#include <future>
#include <string>
#include <string_view>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <gtest/gtest.h>

#include <sluice/async.hpp>
#include <sluice/mp.hpp>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using sluice::channel;
using sluice::mp::async_mailbox;
using sluice::mp::message;
using sluice::mp::port_id;

namespace {

channel<message> watch(const port_id& p) {
  channel<message> deaths(sluice::unbounded);
  sluice::mp::mon(p, [deaths](const message& reason) mutable { deaths.send(reason); });
  return deaths;
}

// An io_context run by one thread for the test's lifetime.
struct runner {
  asio::io_context io{1};
  asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(io);
  std::thread t{[this] { io.run(); }};
  ~runner() {
    // Let what the test's last step started on the io thread (a body's return, its port's
    // death) finish before stopping: a handler posted now runs after those.
    std::promise<void> drained;
    asio::post(io, [&drained] { drained.set_value(); });
    drained.get_future().wait_for(5s);
    work.reset();
    io.stop();
    t.join();
  }
};

// async_get(tag, timeout) takes the tag as any string type and the timeout as any duration
// (a std::string with seconds was once ambiguous between two overloads).
TEST(PortCo, AsyncGetTakesAnyStringAndAnyDuration) {
  runner r;
  channel<message> out(sluice::unbounded);
  port_id p = sluice::mp::port_co(r.io, [out](async_mailbox& mb) mutable -> asio::awaitable<void> {
    std::string a = "a";
    const std::string b = "b";
    std::string_view c = "c";
    std::chrono::milliseconds wait = 5000ms;
    auto put = [&out](const std::optional<message>& got) { out.send(got ? *got : message("missing")); };
    put(co_await mb.async_get(a, 5s));
    put(co_await mb.async_get(b, wait));
    put(co_await mb.async_get(c, 5.0s));
    put(co_await mb.async_get(std::string("d"), std::chrono::nanoseconds(5s)));
    put(co_await mb.async_get("e", std::chrono::minutes(1)));
  });
  for (const char* tag : {"e", "d", "c", "b", "a"}) sluice::mp::snd(p, {tag});
  for (const char* tag : {"a", "b", "c", "d", "e"}) EXPECT_EQ(*out.recv_for(5s), message::array({tag}));
}

TEST(PortCo, SelectiveReceiveAwaited) {
  runner r;
  channel<message> out(sluice::unbounded);
  port_id p = sluice::mp::port_co(r.io, [out](async_mailbox& mb) mutable -> asio::awaitable<void> {
    auto wanted = co_await mb.async_get("wanted", 5s);
    out.send(wanted ? *wanted : message("missing"));
    for (int i = 0; i < 3; ++i) out.send(co_await mb.async_get());
    auto cond = co_await mb.async_get_cond([](const message& m) { return m.is_array() && m.size() > 1 && m[1] == 42; }, 5s);
    out.send(cond ? *cond : message("missing"));
    out.send(co_await mb.async_get());
    auto none = co_await mb.async_get("absent", 20ms);
    out.send(none ? message("unexpected") : message("timeout"));
    out.send(mb.self().str());
  });
  sluice::mp::snd(p, {"noise", 0});
  sluice::mp::snd(p, {"noise", 1});
  sluice::mp::snd(p, {"wanted", 9});
  sluice::mp::snd(p, {"noise", 2});
  sluice::mp::snd(p, {"noise", 42});
  sluice::mp::snd(p, {"last"});
  EXPECT_EQ(*out.recv_for(5s), message::array({"wanted", 9}));
  EXPECT_EQ(*out.recv_for(5s), message::array({"noise", 0}));
  EXPECT_EQ(*out.recv_for(5s), message::array({"noise", 1}));
  EXPECT_EQ(*out.recv_for(5s), message::array({"noise", 2}));
  EXPECT_EQ(*out.recv_for(5s), message::array({"noise", 42}));
  EXPECT_EQ(*out.recv_for(5s), message::array({"last"}));
  EXPECT_EQ(*out.recv_for(5s), "timeout");
  EXPECT_EQ(*out.recv_for(5s), p.str());
}

TEST(PortCo, ReturningDiesNormallyThrowingDiesWithDie) {
  runner r;
  port_id a = sluice::mp::port_co(r.io, [](async_mailbox& mb) -> asio::awaitable<void> {
    (void)co_await mb.async_get();
  });
  port_id b = sluice::mp::port_co(r.io, [](async_mailbox& mb) -> asio::awaitable<void> {
    (void)co_await mb.async_get();
    throw std::runtime_error("bad");
  });
  auto da = watch(a), db = watch(b);
  sluice::mp::snd(a, {"go"});
  sluice::mp::snd(b, {"go"});
  EXPECT_EQ(*da.recv_for(5s), message::array());
  EXPECT_EQ(*db.recv_for(5s), message::array({"die", "bad"}));
}

TEST(PortCo, KilFromOutsideEndsTheBody) {
  runner r;
  channel<message> out(sluice::unbounded);
  port_id p = sluice::mp::port_co(r.io, [out](async_mailbox& mb) mutable -> asio::awaitable<void> {
    try {
      (void)co_await mb.async_get();
    } catch (const sluice::mp::port_killed& k) {
      out.send(k.reason());
      throw;
    }
  });
  auto d = watch(p);
  std::this_thread::sleep_for(20ms);
  sluice::mp::kil(p, {"stop", 1});
  EXPECT_EQ(*out.recv_for(5s), message::array({"stop", 1}));
  EXPECT_EQ(*d.recv_for(5s), message::array({"stop", 1}));
}

// Many port_co ports on one thread: none of them holds a thread while it waits.
TEST(PortCo, AThousandPortsOnOneThread) {
  runner r;
  channel<long> sums(sluice::unbounded);
  std::vector<port_id> ports;
  for (int i = 0; i < 1000; ++i) {
    ports.push_back(sluice::mp::port_co(r.io, [sums](async_mailbox& mb) mutable -> asio::awaitable<void> {
      long s = 0;
      for (int k = 0; k < 3; ++k) s += (co_await mb.async_get())[1].get<long>();
      sums.send(s);
    }));
  }
  for (int k = 0; k < 3; ++k) {
    for (int i = 0; i < 1000; ++i) sluice::mp::snd(ports[i], {"n", i});
  }
  long total = 0;
  for (int i = 0; i < 1000; ++i) {
    auto v = sums.recv_for(10s);
    ASSERT_TRUE(v);
    total += *v;
  }
  EXPECT_EQ(total, 3L * 999 * 1000 / 2);
}

}  // namespace
