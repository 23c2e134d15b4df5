// Asio completion tokens on sluice channels: use_awaitable, callbacks, deferred, use_future,
// as_tuple; resumption on the handler's executor with work held; cancellation that never
// loses a value; async_alt as the lossless select next to operator||, which loses.
#include <atomic>
#include <chrono>
#include <future>
#include <thread>
#include <tuple>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include <sluice/async.hpp>

#include "async_task.hpp"
#include "test_util.hpp"

namespace asio = boost::asio;
using namespace std::chrono_literals;
using sluice::channel;
using sluice::status;

namespace {

void rethrow(std::exception_ptr e) {
  if (e) std::rethrow_exception(e);
}

TEST(AsyncAsio, PingPongThroughUseAwaitableOnOneThread) {
  asio::io_context io(1);
  channel<int> ch;
  const int n = 20000;
  long sum = 0;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    for (;;) {
      auto r = co_await ch.async_recv(asio::use_awaitable);
      if (!r) co_return;
      sum += *r;
    }
  }, rethrow);
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    for (int i = 0; i < n; ++i) EXPECT_EQ(co_await ch.async_send(i, asio::use_awaitable), status::ok);
    ch.close();
  }, rethrow);
  io.run();
  EXPECT_EQ(sum, static_cast<long>(n) * (n - 1) / 2);
}

TEST(AsyncAsio, CallbacksRunOnTheHandlersExecutorWithWorkHeld) {
  asio::io_context io(1);
  channel<int> ch;
  std::thread::id io_thread, ran_on;
  int got = 0;
  ch.async_recv(asio::bind_executor(io, [&](boost::system::error_code ec, sluice::recv_result<int> r) {
    EXPECT_FALSE(ec);
    got = *r;
    ran_on = std::this_thread::get_id();
  }));
  std::thread runner([&] {
    io_thread = std::this_thread::get_id();
    io.run();  // must not return while the receive waits: the operation holds work
  });
  std::this_thread::sleep_for(30ms);
  EXPECT_EQ(ch.send(11), status::ok);
  runner.join();
  EXPECT_EQ(got, 11);
  EXPECT_EQ(ran_on, io_thread);
}

TEST(AsyncAsio, FutureDeferredAndAsTuple) {
  asio::io_context io(1);
  auto guard = asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  channel<int> ch(4);

  std::future<status> f = ch.async_send(1, asio::bind_executor(io, asio::use_future));
  EXPECT_EQ(f.get(), status::ok);

  auto op = ch.async_send(2, asio::deferred);
  std::promise<status> p;
  std::move(op)(asio::bind_executor(io, [&](boost::system::error_code, status s) { p.set_value(s); }));
  EXPECT_EQ(p.get_future().get(), status::ok);

  std::promise<std::tuple<boost::system::error_code, sluice::recv_result<int>>> q;
  ch.async_recv(asio::as_tuple(asio::bind_executor(io, [&](std::tuple<boost::system::error_code, sluice::recv_result<int>> t) {
    q.set_value(std::move(t));
  })));
  auto [ec, r] = q.get_future().get();
  EXPECT_FALSE(ec);
  EXPECT_EQ(*r, 1);
  EXPECT_EQ(ch.recv().value(), 2);
  guard.reset();
  runner.join();
}

// Cancellation before a commit: operation_aborted, status cancelled, nothing consumed, and
// the channel as it was (no offer left behind).
TEST(AsyncAsio, CancellationLeavesTheChannelUnchanged) {
  asio::io_context io(1);
  channel<int> ch;
  asio::cancellation_signal sig;
  boost::system::error_code got_ec;
  status got_status = status::ok;
  ch.async_recv(asio::bind_cancellation_slot(sig.slot(), asio::bind_executor(io,
      [&](boost::system::error_code ec, sluice::recv_result<int> r) {
        got_ec = ec;
        got_status = r.status();
      })));
  asio::post(io, [&] { sig.emit(asio::cancellation_type::total); });
  io.run();
  EXPECT_EQ(got_ec, asio::error::operation_aborted);
  EXPECT_EQ(got_status, status::cancelled);
  EXPECT_EQ(ch.try_send(5), status::full);  // no receiver waiting

  channel<int> buf(1);
  ASSERT_EQ(buf.send(1), status::ok);  // full: the next send waits
  io.restart();
  status s = status::ok;
  buf.async_send(2, asio::bind_cancellation_slot(sig.slot(), asio::bind_executor(io,
      [&](boost::system::error_code, status st) { s = st; })));
  asio::post(io, [&] { sig.emit(asio::cancellation_type::total); });
  io.run();
  EXPECT_EQ(s, status::cancelled);
  EXPECT_EQ(buf.try_recv().value(), 1);
  EXPECT_EQ(buf.try_recv().status(), status::empty);  // the cancelled 2 never went in
}

// A cancellation that comes after the commit changes nothing: the value is delivered.
TEST(AsyncAsio, CancellationAfterTheCommitDeliversTheValue) {
  asio::io_context io(1);
  channel<int> ch(1);
  asio::cancellation_signal sig;
  int got = 0;
  boost::system::error_code got_ec;
  ch.async_recv(asio::bind_cancellation_slot(sig.slot(), asio::bind_executor(io,
      [&](boost::system::error_code ec, sluice::recv_result<int> r) {
        got_ec = ec;
        if (r) got = *r;
      })));
  ASSERT_EQ(ch.send(3), status::ok);  // commits (wakes the receive), completion not yet run
  sig.emit(asio::cancellation_type::total);
  io.run();
  EXPECT_FALSE(got_ec);
  EXPECT_EQ(got, 3);
}

// operator|| over two single receives loses values: both receives can commit, and the one
// that did not win is discarded. async_alt is one operation: exactly one value per round.
TEST(AsyncAsio, OperatorOrLosesValuesAsyncAltDoesNot) {
  using namespace asio::experimental::awaitable_operators;
  const int rounds = 200;
  for (bool lossless : {false, true}) {
    asio::io_context io(1);
    channel<int> a(rounds), b(rounds);
    for (int i = 0; i < rounds; ++i) {
      ASSERT_EQ(a.send(i), status::ok);
      ASSERT_EQ(b.send(i), status::ok);
    }
    int delivered = 0;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
      for (int i = 0; i < rounds; ++i) {
        if (lossless) {
          co_await sluice::async_alt(asio::use_awaitable, sluice::on_recv(a, [&](int) { ++delivered; }),
                                     sluice::on_recv(b, [&](int) { ++delivered; }));
        } else {
          co_await (a.async_recv(asio::use_awaitable) || b.async_recv(asio::use_awaitable));
          ++delivered;
        }
      }
    }, rethrow);
    io.run();
    const std::size_t left = a.size() + b.size();
    EXPECT_EQ(delivered, rounds);
    if (lossless) {
      EXPECT_EQ(left + delivered, 2u * rounds) << "async_alt lost a value";
    } else {
      EXPECT_LT(left + delivered, 2u * rounds) << "operator|| was expected to lose values here";
    }
  }
}

// The race inside asio::awaitable: a producer thread against
// loop { async_alt(on_recv(a), otherwise(1us)) } with an exact count.
TEST(AsyncAsio, ProducerRacingAltWithOtherwiseInsideAwaitable) {
  const long n = sluice_test::scaled(1000000);
  for (std::size_t cap : {std::size_t{0}, std::size_t{1}}) {
    asio::io_context io(1);
    channel<long> a(cap);
    long count = 0, sum = 0;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
      while (count < n) {
        co_await sluice::async_alt(asio::use_awaitable, sluice::on_recv(a, [&](long v) {
                                     ++count;
                                     sum += v;
                                   }),
                                   sluice::otherwise(1us, [] {}));
      }
    }, rethrow);
    std::thread producer([&] {
      for (long i = 0; i < n; ++i) ASSERT_EQ(a.send(i), status::ok);
    });
    io.run();
    producer.join();
    EXPECT_EQ(count, n);
    EXPECT_EQ(sum, n * (n - 1) / 2);
  }
}

// One channel, used at once by threads, coroutines on two io_contexts, and callbacks.
TEST(AsyncAsio, ThreadsAndTwoIoContextsShareAChannel) {
  const long per = sluice_test::scaled(20000);
  for (std::size_t cap : {std::size_t{0}, std::size_t{1}, std::size_t{64}}) {
    asio::io_context io1(1), io2(1);
    channel<long> ch(cap);
    std::atomic<int> producers{4};
    std::atomic<long> total{0};
    auto produced = [&] {
      if (producers.fetch_sub(1) == 1) ch.close();
    };
    auto consume = [&]() -> asio::awaitable<void> {
      long s = 0;
      for (;;) {
        auto r = co_await ch.async_recv(asio::use_awaitable);
        if (!r) break;
        s += *r;
      }
      total += s;
    };
    for (int k = 0; k < 2; ++k) {
      asio::co_spawn(k == 0 ? io1 : io2, [&, k]() -> asio::awaitable<void> {
        for (long i = 0; i < per; ++i) EXPECT_EQ(co_await ch.async_send(k * per + i, asio::use_awaitable), status::ok);
        produced();
      }, rethrow);
    }
    asio::co_spawn(io1, consume, rethrow);
    asio::co_spawn(io2, consume, rethrow);
    std::vector<std::thread> ts;
    for (int k = 2; k < 4; ++k) {
      ts.emplace_back([&, k] {
        for (long i = 0; i < per; ++i) ASSERT_EQ(ch.send(k * per + i), status::ok);
        produced();
      });
    }
    ts.emplace_back([&] {
      long s = 0;
      for (long v : ch) s += v;
      total += s;
    });
    ts.emplace_back([&] { io1.run(); });
    ts.emplace_back([&] { io2.run(); });
    for (auto& t : ts) t.join();
    const long n = 4 * per;
    EXPECT_EQ(total.load(), n * (n - 1) / 2) << "capacity " << cap;
  }
}

TEST(AsyncAsio, TimedFormsAndOtherwise) {
  asio::io_context io(1);
  channel<int> ch;
  status s1 = status::ok, s2 = status::ok;
  sluice::alt_result ar{};
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    s1 = (co_await ch.async_recv_for(20ms, asio::use_awaitable)).status();
    s2 = co_await ch.async_send_for(1, 20ms, asio::use_awaitable);
    ar = co_await sluice::async_pri_alt(asio::use_awaitable, sluice::on_recv(ch, [](int) {}),
                                        sluice::otherwise(20ms, [] {}));
  }, rethrow);
  auto t0 = std::chrono::steady_clock::now();
  io.run();
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 60ms);
  EXPECT_EQ(s1, status::timeout);
  EXPECT_EQ(s2, status::timeout);
  EXPECT_EQ(ar.index, 1u);
  EXPECT_EQ(ar.status, status::timeout);
  EXPECT_EQ(ch.try_send(1), status::full);
}

// A deferred alternation owns its values and keeps its channels alive until it runs.
TEST(AsyncAsio, DeferredAltOwnsItsValues) {
  asio::io_context io(1);
  channel<std::string> got(1);
  auto op = [&] {
    channel<std::string> c(1);
    got = c;
    return sluice::async_alt(asio::deferred, sluice::on_send(c, std::string(100, 'x')));
  }();
  sluice::alt_result r{};
  std::move(op)(asio::bind_executor(io, [&](boost::system::error_code, sluice::alt_result a) { r = a; }));
  io.run();
  EXPECT_EQ(r.status, status::ok);
  EXPECT_EQ(got.try_recv().value(), std::string(100, 'x'));
}

}  // namespace

namespace {

// An Asio alternation copies an lvalue it sends when it is made: a later change to the
// variable (or its end) does not reach the value sent.
TEST(AsyncAsio, AltSendsTheLvalueAsItWasAtTheCall) {
  asio::io_context io(1);
  channel<int> ch(1);
  ASSERT_EQ(ch.send(0), status::ok);  // full: the send clause waits
  status got = status::closed;
  {
    int v = 1;
    sluice::async_alt(asio::bind_executor(io, [&](boost::system::error_code, sluice::alt_result a) { got = a.status; }),
                      sluice::on_send(ch, v));
    v = 2;
  }
  EXPECT_EQ(ch.recv().value(), 0);  // room: the waiting send goes in
  io.run();
  EXPECT_EQ(got, status::ok);
  EXPECT_EQ(ch.recv().value(), 1);
}

// An io_context run inside run_handoffs (or inside any hand-off): Asio completions run inside
// that run() call, in a hand-off frame of their own, never queued behind the outer step that
// is waiting on run() (that would deadlock, or run them after run() returned).
TEST(AsyncAsio, AnEventLoopRunInsideAHandOff) {
  bool looped = false, called = false;
  int sum = 0;
  sluice::run_handoffs([&] {
    asio::io_context io(1);
    channel<int> ch(1), ready(1);
    EXPECT_EQ(ready.send(5), status::ok);
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
      for (int i = 0; i < 20; ++i) {  // each send and recv completes at once
        EXPECT_EQ(co_await ch.async_send(i, asio::use_awaitable), status::ok);
        sum += *co_await ch.async_recv(asio::use_awaitable);
      }
    }, asio::detached);
    ready.async_recv(asio::bind_executor(io, [&](boost::system::error_code ec, sluice::recv_result<int> r) {
      EXPECT_FALSE(ec);
      EXPECT_EQ(*r, 5);
      called = true;
    }));
    io.run();  // returns once both are done, with both done
    EXPECT_TRUE(called) << "a completion was queued behind the step running io.run()";
    EXPECT_EQ(sum, 190);
    looped = true;
  });
  EXPECT_TRUE(looped);
}

// Completions that run in a row on an executor's thread are bounded, so a coroutine whose
// operations all complete at once (or two that hand values back and forth) cannot starve
// another handler queued on the same io_context: it runs within immediate_limit completions
// (runnext_limit for hand-offs), not after the loop ends.
TEST(AsyncAsio, AHandlerPostedMeanwhileRunsWithinTheBudget) {
  constexpr long loops = 2000;
  for (bool pingpong : {false, true}) {
    asio::io_context io(1);
    channel<int> buffered(4), a, b;
    long done = 0, seen_at = -1;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
      for (long i = 0; i < loops; ++i) {
        if (i == 10) asio::post(io, [&] { seen_at = done; });
        if (pingpong) {
          EXPECT_EQ(co_await a.async_send(1, asio::use_awaitable), status::ok);
          EXPECT_TRUE(co_await b.async_recv(asio::use_awaitable));
        } else {  // each completes at once
          EXPECT_EQ(co_await buffered.async_send(1, asio::use_awaitable), status::ok);
          EXPECT_TRUE(co_await buffered.async_recv(asio::use_awaitable));
        }
        ++done;
      }
      a.close();
    }, rethrow);
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {  // the echo of the ping-pong round
      while (auto r = co_await a.async_recv(asio::use_awaitable)) {
        EXPECT_EQ(co_await b.async_send(*r, asio::use_awaitable), status::ok);
      }
    }, rethrow);
    io.run();
    EXPECT_EQ(done, loops);
    ASSERT_GE(seen_at, 10) << "pingpong " << pingpong;
    EXPECT_LT(seen_at, loops / 10) << "starved until the loop ended";
    // Two completions per loop; the budget (immediate_limit >= runnext_limit) plus the loop
    // in progress.
    EXPECT_LE(seen_at, 10 + static_cast<long>(sluice::internal::immediate_limit) / 2 + 2) << "pingpong " << pingpong;
  }
}

// The budget counts what a frame has queued, not only what it has run: a close() that wakes
// many waiting operations queues the budget's worth, and the rest are posted behind a handler
// that was posted before the close.
TEST(AsyncAsio, ACloseThatWakesManyQueuesOnlyTheBudget) {
  asio::io_context io(1);
  channel<int> ch, go(1);
  constexpr int waiters = 100;
  int woken = 0, woken_when_posted_ran = -1;
  for (int i = 0; i < waiters; ++i) {
    ch.async_recv(asio::bind_executor(io, [&](boost::system::error_code ec, sluice::recv_result<int> r) {
      EXPECT_FALSE(ec);
      EXPECT_EQ(r.status(), status::closed);
      ++woken;
    }));
  }
  ASSERT_EQ(go.send(1), status::ok);
  go.async_recv(asio::bind_executor(io, [&](boost::system::error_code, sluice::recv_result<int>) {
    asio::post(io, [&] { woken_when_posted_ran = woken; });  // this runs in a hand-off frame of io
    ch.close();
  }));
  io.run();
  EXPECT_EQ(woken, waiters);
  EXPECT_GE(woken_when_posted_ran, 0);
  EXPECT_LE(woken_when_posted_ran, static_cast<int>(sluice::internal::runnext_limit));
}

// A close() called from a plain handler of io's (no hand-off frame running) runs the woken
// handlers of io right there, after all of its wakes and before close() returns, as a
// dispatch would: not through post().
TEST(AsyncAsio, ACloseFromAPlainHandlerRunsTheWokenHandlersInside) {
  asio::io_context io(1);
  channel<int> ch;
  int woken = 0, woken_after_close = -1;
  for (int i = 0; i < 3; ++i) {
    ch.async_recv(asio::bind_executor(io, [&](boost::system::error_code ec, sluice::recv_result<int> r) {
      EXPECT_FALSE(ec);
      EXPECT_EQ(r.status(), status::closed);
      ++woken;
    }));
  }
  asio::post(io, [&] {
    ASSERT_FALSE(sluice::internal::handoff_active());
    ch.close();
    woken_after_close = woken;
  });
  io.run();
  EXPECT_EQ(woken, 3);
  EXPECT_EQ(woken_after_close, 3);
}

// The same close() from a plain handler keeps the budget: at most runnext_limit woken
// handlers run before a handler posted earlier; the rest are posted behind it.
TEST(AsyncAsio, ACloseFromAPlainHandlerKeepsTheBudget) {
  asio::io_context io(1);
  channel<int> ch;
  constexpr int waiters = 100;
  int woken = 0, woken_when_posted_ran = -1;
  for (int i = 0; i < waiters; ++i) {
    ch.async_recv(asio::bind_executor(io, [&](boost::system::error_code, sluice::recv_result<int>) { ++woken; }));
  }
  asio::post(io, [&] {
    asio::post(io, [&] { woken_when_posted_ran = woken; });
    ch.close();
  });
  io.run();
  EXPECT_EQ(woken, waiters);
  EXPECT_GE(woken_when_posted_ran, 1);
  EXPECT_LE(woken_when_posted_ran, static_cast<int>(sluice::internal::runnext_limit));
}

// A coroutine that a close() woke (so it runs in the frame that close() started) runs an
// io_context, and a plain handler of that io_context closes a channel: the woken handler
// runs inside that run(), not queued behind the coroutine that is running it.
TEST(AsyncAsio, AnEventLoopRunInsideABatchFrame) {
  channel<int> a, b;
  asio::io_context io(1);
  bool called = false, looped = false;
  [](channel<int> a, channel<int> b, asio::io_context& io, bool& called, bool& looped) -> sluice_test::detached {
    (void)co_await a.async_recv();  // resumed by a.close() below
    b.async_recv(asio::bind_executor(io, [&called](boost::system::error_code, sluice::recv_result<int>) { called = true; }));
    asio::post(io, [b]() mutable { b.close(); });
    io.run_for(2s);  // returns at once when the completion ran inside it; run() would hang otherwise
    EXPECT_TRUE(called) << "the completion waits behind the coroutine that runs io";
    looped = true;
  }(a, b, io, called, looped);
  a.close();
  EXPECT_TRUE(looped);
  EXPECT_TRUE(called);
}

// A handler bound to a strand runs inside the strand, also when its operation completes at
// once inside a hand-off frame of the strand's io_context (there it must not be queued into
// that frame: it would run after the strand's dispatch() returned).
TEST(AsyncAsio, AStrandsHandlerRunsInsideTheStrand) {
  asio::io_context io(1);
  auto strand = asio::make_strand(io);
  channel<int> first(1), second(1);
  ASSERT_EQ(first.send(1), status::ok);
  ASSERT_EQ(second.send(2), status::ok);
  bool ran = false, in_strand = false;
  first.async_recv(asio::bind_executor(io, [&](boost::system::error_code, sluice::recv_result<int>) {
    asio::dispatch(strand, [&] {  // runs inline: io's thread, the strand idle
      second.async_recv(asio::bind_executor(strand, [&](boost::system::error_code ec, sluice::recv_result<int> r) {
        EXPECT_FALSE(ec);
        EXPECT_EQ(*r, 2);
        in_strand = strand.running_in_this_thread();
        ran = true;
      }));
    });
  }));
  io.run();
  EXPECT_TRUE(ran);
  EXPECT_TRUE(in_strand);
}

// A deferred receive invoked as an lvalue passes its channel handle as const: still works.
TEST(AsyncAsio, DeferredReceiveInvokedAsAnLvalue) {
  asio::io_context io(1);
  channel<int> ch(2);
  auto op = ch.async_recv(asio::deferred);
  int got = 0;
  op(asio::bind_executor(io, [&](boost::system::error_code ec, sluice::recv_result<int> r) {
    EXPECT_FALSE(ec);
    got = *r;
  }));
  EXPECT_EQ(ch.send(7), status::ok);
  io.run();
  EXPECT_EQ(got, 7);
}

}  // namespace

// A completion posted from another thread (here the timer thread's timeout) must not touch the
// io_context once its handler may run: a program may stop and destroy the io_context as soon
// as its last operation has completed. (Seen as a rare segfault at exit in the PortCo tests:
// the poster's work count outlived an io_context stopped and destroyed in a destructor.)
TEST(AsyncAsio, AnIoContextMayGoAsSoonAsItsLastOperationCompleted) {
  channel<int> ch(1);
  const long rounds = sluice_test::scaled(2000);
  for (long i = 0; i < rounds; ++i) {
    auto io = std::make_unique<asio::io_context>(1);
    auto work = asio::make_work_guard(*io);
    bool done = false;
    ch.async_recv_for(20us, asio::bind_executor(io->get_executor(), [&done](boost::system::error_code, sluice::recv_result<int> r) {
      EXPECT_EQ(r.status(), status::timeout);
      done = true;
    }));
    for (int k = 0; k < 50 && !done; ++k) io->run_one_for(100ms);
    ASSERT_TRUE(done) << "round " << i;  // seen with the bug: a stray work count stopped the next io_context
    work.reset();
    io->stop();
    io.reset();  // the timer thread may still be inside post(): it must not touch *io now
  }
}

// A native awaitable co_awaited inside boost::asio::awaitable (whose await_transform takes
// only Asio's own kinds) runs as its Asio form: same results, values and timeouts.
TEST(AsyncAsio, NativeAwaitablesWorkInsideAsioAwaitable) {
  asio::io_context io(1);
  channel<int> zero(0), one(1);
  channel<std::string> words(0);
  std::vector<std::string> log;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    auto r = co_await zero.async_recv();  // from the thread below
    log.push_back("recv " + std::to_string(*r));
    std::string w = "moved";
    status s = co_await words.async_send(std::move(w));  // to the thread below
    log.push_back(std::string("send ") + (s == status::ok ? "ok" : "?"));
    s = co_await one.async_send(7);
    auto r2 = co_await one.async_recv_for(10ms);
    log.push_back("buffered " + std::to_string(*r2) + (s == status::ok ? " ok" : " ?"));
    auto r3 = co_await one.async_recv_for(10ms);
    log.push_back(r3.status() == status::timeout ? "timeout" : "?");
    int got = 0;
    auto a = co_await sluice::async_alt(sluice::on_recv(zero, [&](int v) { got = v; }), sluice::otherwise(5s));
    log.push_back("alt " + std::to_string(a.index) + " " + std::to_string(got));
    auto none = co_await sluice::async_pri_alt(sluice::on_recv(zero), sluice::otherwise(1ms));
    log.push_back("otherwise " + std::to_string(none.index));
    zero.close();
    auto c = co_await zero.async_recv();
    log.push_back(c.status() == status::closed ? "closed" : "?");
  }, rethrow);
  // A form given a std::stop_token is not an Asio operation (its token would go unwatched):
  // inside asio::awaitable it does not compile.
  static_assert(asio::is_async_operation<decltype(one.async_recv())>::value);
  static_assert(asio::is_async_operation<decltype(sluice::async_alt(sluice::on_recv(one)))>::value);
  static_assert(!asio::is_async_operation<decltype(one.async_recv(std::stop_token{}))>::value);
  static_assert(!asio::is_async_operation<decltype(sluice::async_alt(std::stop_token{}, sluice::on_recv(one)))>::value);
  std::thread peer([&] {
    EXPECT_EQ(zero.send(41), status::ok);
    auto w = words.recv();
    EXPECT_EQ(*w, "moved");
    EXPECT_EQ(zero.send(42), status::ok);
  });
  try {
    io.run();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "the coroutine threw: " << e.what();
    zero.close();
    words.close();
  }
  peer.join();
  EXPECT_EQ(log, (std::vector<std::string>{"recv 41", "send ok", "buffered 7 ok", "timeout", "alt 0 42", "otherwise 1",
                                           "closed"}));
}

// Stored by value (a parallel_group moves the operations it is given) a native awaiter starts
// after the expression that made it has ended: the rvalue it sends must be its own by then.
// (Before the fix ASan saw the temporary string read after its scope.)
TEST(AsyncAsio, ANativeAwaiterInAParallelGroupOwnsTheValueItSends) {
  for (int alt = 0; alt < 2; ++alt) {
    asio::io_context io(1);
    channel<std::string> b(0);
    std::string got;
    std::thread peer([&] {
      std::this_thread::sleep_for(20ms);
      auto r = b.recv_for(5s);
      if (r) got = *r;
    });
    asio::steady_timer tm(io, 5s);
    bool done = false;
    // On io's thread (unbound, the group's handlers would run on the system executor's).
    auto finish = asio::bind_executor(io, [&](auto order, auto...) {
      done = order[0] == 0;
      tm.cancel();
    });
    if (alt == 0) {
      asio::experimental::make_parallel_group(b.async_send(std::string(100, 'x')), tm.async_wait(asio::deferred))
          .async_wait(asio::experimental::wait_for_one(), finish);
    } else {
      asio::experimental::make_parallel_group(sluice::async_alt(sluice::on_send(b, std::string(100, 'y'))),
                                              tm.async_wait(asio::deferred))
          .async_wait(asio::experimental::wait_for_one(), finish);
    }
    io.run();
    peer.join();
    EXPECT_TRUE(done);
    EXPECT_EQ(got, std::string(100, alt == 0 ? 'x' : 'y'));
  }
}
