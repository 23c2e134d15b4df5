// Native awaitables (<sluice/async.hpp>) in a plain C++20 coroutine type: hand-off, buffering,
// timeouts, stop_token cancellation, alternation, and channels shared with threads.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstdint>
#include <stdexcept>
#include <stop_token>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <sluice/async.hpp>

#include "async_task.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;
using sluice::channel;
using sluice::status;
using sluice_test::detached;

namespace {

// Two coroutines on this thread hand values over a rendezvous channel: each send resumes the
// receiver (through the hand-off queue) before the sender goes on.
TEST(AsyncNative, RendezvousBetweenTwoCoroutinesOnOneThread) {
  channel<int> ch;
  long sum = 0;
  int received = 0;
  constexpr int n = 10000;
  [](channel<int> ch, long& sum, int& received) -> detached {
    for (;;) {
      auto r = co_await ch.async_recv();
      if (!r) co_return;
      sum += *r;
      ++received;
    }
  }(ch, sum, received);
  [](channel<int> ch) -> detached {
    for (int i = 0; i < n; ++i) {
      status s = co_await ch.async_send(i);
      if (s != status::ok) std::terminate();
    }
    ch.close();
  }(ch);
  EXPECT_EQ(received, n);
  EXPECT_EQ(sum, static_cast<long>(n) * (n - 1) / 2);
}

TEST(AsyncNative, BufferedSendThenRecvDoesNotSuspend) {
  channel<int> ch(4);
  int got = -1;
  bool done = false;
  [](channel<int> ch, int& got, bool& done) -> detached {
    EXPECT_EQ(co_await ch.async_send(7), status::ok);
    auto r = co_await ch.async_recv();
    got = *r;
    done = true;
  }(ch, got, done);
  EXPECT_TRUE(done);
  EXPECT_EQ(got, 7);
}

// A thread sends; the coroutine resumes on that thread.
TEST(AsyncNative, AThreadCompletesACoroutine) {
  channel<int> ch;
  channel<std::thread::id> where(1);
  [](channel<int> ch, channel<std::thread::id> where) -> detached {
    auto r = co_await ch.async_recv();
    EXPECT_EQ(*r, 42);
    (void)where.try_send(std::this_thread::get_id());
  }(ch, where);
  std::thread::id sender;
  std::thread t([&] {
    sender = std::this_thread::get_id();
    EXPECT_EQ(ch.send(42), status::ok);
  });
  t.join();
  auto w = where.recv_for(5s);
  ASSERT_TRUE(w);
  EXPECT_EQ(*w, sender);
}

TEST(AsyncNative, TimeoutsReportTimeoutAndLeaveTheChannelAlone) {
  channel<int> ch;
  channel<int> done(2);
  auto t0 = std::chrono::steady_clock::now();
  [](channel<int> ch, channel<int> done) -> detached {
    auto r = co_await ch.async_recv_for(30ms);
    (void)done.try_send(static_cast<int>(r.status()));
    status s = co_await ch.async_send_for(5, 30ms);
    (void)done.try_send(static_cast<int>(s));
  }(ch, done);
  auto a = done.recv_for(5s);
  auto b = done.recv_for(5s);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(static_cast<status>(*a), status::timeout);
  EXPECT_EQ(static_cast<status>(*b), status::timeout);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 60ms);
  EXPECT_EQ(ch.try_recv().status(), status::empty);  // the timed-out send left nothing
}

TEST(AsyncNative, StopTokenCancelsAndNothingIsConsumed) {
  channel<int> ch;
  channel<int> done(1);
  std::stop_source stop;
  [](channel<int> ch, channel<int> done, std::stop_token st) -> detached {
    auto r = co_await ch.async_recv(st);
    (void)done.try_send(static_cast<int>(r.status()));
  }(ch, done, stop.get_token());
  EXPECT_EQ(done.try_recv().status(), status::empty);  // suspended
  stop.request_stop();
  auto r = done.recv_for(5s);
  ASSERT_TRUE(r);
  EXPECT_EQ(static_cast<status>(*r), status::cancelled);
  EXPECT_EQ(ch.try_send(1), status::full);  // no receiver left waiting on the channel
}

TEST(AsyncNative, CancelledSendKeepsTheValue) {
  channel<std::unique_ptr<int>> ch;
  channel<int> done(1);
  std::stop_source stop;
  auto p = std::make_unique<int>(9);
  [](channel<std::unique_ptr<int>> ch, channel<int> done, std::unique_ptr<int>& p, std::stop_token st) -> detached {
    status s = co_await ch.async_send(std::move(p), st);
    (void)done.try_send(static_cast<int>(s));
  }(ch, done, p, stop.get_token());
  stop.request_stop();
  auto r = done.recv_for(5s);
  ASSERT_TRUE(r);
  EXPECT_EQ(static_cast<status>(*r), status::cancelled);
  ASSERT_TRUE(p);
  EXPECT_EQ(*p, 9);
  EXPECT_EQ(ch.try_recv().status(), status::empty);
}

TEST(AsyncNative, CloseWakesAwaiters) {
  channel<int> ch(1);
  channel<int> done(2);
  for (int k = 0; k < 2; ++k) {
    [](channel<int> ch, channel<int> done) -> detached {
      auto r = co_await ch.async_recv();
      (void)done.try_send(static_cast<int>(r.status()));
    }(ch, done);
  }
  ch.close();
  for (int k = 0; k < 2; ++k) {
    auto r = done.recv_for(5s);
    ASSERT_TRUE(r);
    EXPECT_EQ(static_cast<status>(*r), status::closed);
  }
}

TEST(AsyncNative, AltPicksAReadyClauseAndRunsItsHandler) {
  channel<int> a(1), b(1);
  ASSERT_EQ(b.send(5), status::ok);
  int got = 0;
  sluice::alt_result res{};
  [](channel<int> a, channel<int> b, int& got, sluice::alt_result& res) -> detached {
    res = co_await sluice::async_pri_alt(sluice::on_recv(a, [&](int v) { got = v; }),
                                         sluice::on_recv(b, [&](int v) { got = 100 + v; }));
  }(a, b, got, res);
  EXPECT_EQ(res.index, 1u);
  EXPECT_EQ(res.status, status::ok);
  EXPECT_EQ(got, 105);
}

TEST(AsyncNative, AltOtherwiseRunsAtTheDeadline) {
  channel<int> a;
  channel<int> done(1);
  [](channel<int> a, channel<int> done) -> detached {
    bool idle = false;
    auto res = co_await sluice::async_alt(sluice::on_recv(a, [](int) {}), sluice::otherwise(20ms, [&] { idle = true; }));
    (void)done.try_send(idle && res.index == 1 && res.status == status::timeout ? 1 : 0);
  }(a, done);
  auto r = done.recv_for(5s);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 1);
  EXPECT_EQ(a.try_send(1), status::full);  // the clause's offer is gone
}

TEST(AsyncNative, AltSendClauseCommitsOnce) {
  channel<int> a;
  channel<int> done(1);
  [](channel<int> a, channel<int> done) -> detached {
    int sent = 0;
    auto res = co_await sluice::async_alt(sluice::on_send(a, 77, [&] { ++sent; }));
    (void)done.try_send(res.status == status::ok && sent == 1 ? 1 : 0);
  }(a, done);
  auto v = a.recv_for(5s);
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, 77);
  auto r = done.recv_for(5s);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 1);
}

// A native awaiter resumes on the thread that completes it: here, often the producer's, inside
// its send. A consumer that then loops without suspending (every 1 µs wait timing out before
// it can suspend, as under a sanitizer) would keep that thread. So the consumer hops back to
// a thread of its own after each round, as a user's scheduler would: a channel of handles
// that this thread resumes.
struct hop_to {
  channel<std::coroutine_handle<>>& run_queue;
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) const { (void)run_queue.send(h); }
  void await_resume() const noexcept {}
};

// The race: a producer thread against loop { async_alt(on_recv(a), otherwise(1us)) }:
// every message arrives exactly once, whatever wins each round.
void race_alt_with_otherwise(std::size_t capacity) {
  const long n = sluice_test::scaled(1000000);
  channel<long> a(capacity);
  channel<std::coroutine_handle<>> run_queue(4);
  long sum = -1, idle = 0;
  std::thread producer([&] {
    for (long i = 0; i < n; ++i) ASSERT_EQ(a.send(i), status::ok);
  });
  std::thread consumer([&] {
    [](channel<long> a, channel<std::coroutine_handle<>>& q, long n, long& result, long& idle) -> detached {
      long count = 0, sum = 0;
      while (count < n) {
        co_await sluice::async_alt(sluice::on_recv(a,
                                                   [&](long v) {
                                                     ++count;
                                                     sum += v;
                                                   }),
                                   sluice::otherwise(1us, [&] { ++idle; }));
        co_await hop_to{q};
      }
      result = sum;
      q.close();
    }(a, run_queue, n, sum, idle);
    for (std::coroutine_handle<> h : run_queue) h.resume();
  });
  producer.join();
  consumer.join();
  EXPECT_EQ(sum, n * (n - 1) / 2);
  EXPECT_EQ(a.try_recv().status(), status::empty);
}
TEST(AsyncNative, ProducerRacingAltWithOtherwiseRendezvous) { race_alt_with_otherwise(0); }
TEST(AsyncNative, ProducerRacingAltWithOtherwiseBuffered) { race_alt_with_otherwise(1); }

// The issue's own spelling: async_alt(on_recv(a), otherwise(1us)), the receive clause without a
// handler (Go's `case <-a:` drops the value); the count comes from the result's index.
TEST(AsyncNative, OnRecvWithoutAHandlerCountsExactly) {
  const long n = sluice_test::scaled(100000);
  channel<long> a(0);
  channel<std::coroutine_handle<>> run_queue(4);
  long got = -1;
  std::thread producer([&] {
    for (long i = 0; i < n; ++i) ASSERT_EQ(a.send(i), status::ok);
    a.close();
  });
  std::thread consumer([&] {
    [](channel<long> a, channel<std::coroutine_handle<>>& q, long& result) -> detached {
      long count = 0;
      for (;;) {
        sluice::alt_result r = co_await sluice::async_alt(sluice::on_recv(a), sluice::otherwise(1us));
        if (r.index == 0 && r.status == status::closed) break;
        if (r.index == 0) ++count;
        co_await hop_to{q};
      }
      result = count;
      q.close();
    }(a, run_queue, got);
    for (std::coroutine_handle<> h : run_queue) h.resume();
  });
  producer.join();
  consumer.join();
  EXPECT_EQ(got, n);
}

// Threads and coroutines share one channel: producers of both kinds, consumers of both kinds.
TEST(AsyncNative, ThreadsAndCoroutinesShareAChannel) {
  const long per = sluice_test::scaled(20000);
  for (std::size_t cap : {std::size_t{0}, std::size_t{1}, std::size_t{16}}) {
    channel<long> ch(cap);
    channel<long> sums(4);
    std::atomic<int> producers_left{4};
    auto finish = [&] {
      if (producers_left.fetch_sub(1) == 1) ch.close();
    };
    // Two coroutine producers, started from two threads so they run there first.
    std::vector<std::thread> ts;
    for (int k = 0; k < 2; ++k) {
      ts.emplace_back([&, k] {
        [](channel<long> ch, long base, long per, decltype(finish)& finish) -> detached {
          for (long i = 0; i < per; ++i) {
            if (co_await ch.async_send(base + i) != status::ok) std::terminate();
          }
          finish();
        }(ch, k * per, per, finish);
      });
    }
    for (int k = 2; k < 4; ++k) {
      ts.emplace_back([&, k] {
        for (long i = 0; i < per; ++i) ASSERT_EQ(ch.send(k * per + i), status::ok);
        finish();
      });
    }
    // One coroutine consumer and one thread consumer.
    [](channel<long> ch, channel<long> sums) -> detached {
      long s = 0;
      for (;;) {
        auto r = co_await ch.async_recv();
        if (!r) break;
        s += *r;
      }
      (void)sums.try_send(s);
    }(ch, sums);
    ts.emplace_back([&] {
      long s = 0;
      for (long v : ch) s += v;
      (void)sums.try_send(s);
    });
    for (auto& t : ts) t.join();
    long total = 0;
    for (int k = 0; k < 2; ++k) {
      auto r = sums.recv_for(60s);
      ASSERT_TRUE(r);
      total += *r;
    }
    const long n = 4 * per;
    EXPECT_EQ(total, n * (n - 1) / 2) << "capacity " << cap;
  }
}

// A coroutine destroyed while suspended in an awaitable withdraws its offer: the channel is
// as if it had never waited (with no deadline and no stop token, its op takes claims without
// a locked instruction, and the destroyer then wins the abort instead of racing for `running`).
struct owned {
  struct promise_type {
    owned get_return_object() noexcept { return {std::coroutine_handle<promise_type>::from_promise(*this)}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_always final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }
  };
  std::coroutine_handle<promise_type> h;
};

TEST(AsyncNative, DestroyingASuspendedCoroutineWithdrawsItsOffer) {
  for (std::size_t cap : {0u, 1u}) {
    for (bool timed : {false, true}) {
      channel<int> in(cap), out(cap);
      bool resumed = false;
      owned r = [](channel<int> ch, bool timed, bool& resumed) -> owned {
        if (timed) {
          (void)co_await ch.async_recv_for(10s);
        } else {
          (void)co_await ch.async_recv();
        }
        resumed = true;
      }(in, timed, resumed);
      if (cap == 1) {
        ASSERT_EQ(out.try_send(0), status::ok);  // full: the sender below waits
      }
      owned s = [](channel<int> ch, bool timed) -> owned {
        if (timed) {
          (void)co_await ch.async_send_for(1, 10s);
        } else {
          (void)co_await ch.async_send(1);
        }
      }(out, timed);
      ASSERT_FALSE(r.h.done());
      ASSERT_FALSE(s.h.done());
      r.h.destroy();
      s.h.destroy();
      EXPECT_FALSE(resumed);
      EXPECT_EQ(in.try_send(5), cap == 0 ? status::full : status::ok) << "a receive offer is still linked";
      auto got = out.try_recv();
      if (cap == 0) {
        EXPECT_FALSE(got) << "a send offer is still linked";
      } else {
        ASSERT_TRUE(got);
        EXPECT_EQ(*got, 0);
        EXPECT_FALSE(out.try_recv()) << "the destroyed sender's value arrived";
      }
    }
  }
}

// One close() wakes two coroutines waiting on the channel, and the first to resume destroys
// the other. close() delivers every wake before it resumes anyone (they queue on its thread's
// hand-off queue), and destroying a coroutine whose resumption is queued there takes it off
// the queue. (Before, the first resumption ran inside close(), ahead of the second wake: the
// destroyed coroutine's op waited forever for a kick that its own thread still owed it.)
// Covered: both flavors, with and without a deadline or a stop token, closed by a thread and
// by a coroutine.
TEST(AsyncNative, AResumptionMayDestroyACoroutineTheSameCloseWoke) {
  for (std::size_t cap : {0u, 1u}) {
    for (int kind : {0, 1, 2}) {  // plain, deadline, stop token
      for (bool from_coroutine : {false, true}) {
        channel<int> ch(cap);
        std::stop_source stop;
        std::coroutine_handle<> hs[2];
        bool gone[2] = {false, false};
        int resumed = 0;
        owned w[2];
        for (int k = 0; k < 2; ++k) {
          w[k] = [](channel<int> ch, int kind, std::stop_token st, int k, std::coroutine_handle<>* hs, bool* gone,
                    int& resumed) -> owned {
            if (kind == 0) {
              (void)co_await ch.async_recv();
            } else if (kind == 1) {
              (void)co_await ch.async_recv_for(10s);
            } else {
              (void)co_await ch.async_recv(st);
            }
            ++resumed;
            if (!gone[1 - k]) {
              gone[1 - k] = true;
              hs[1 - k].destroy();
            }
          }(ch, kind, stop.get_token(), k, hs, gone, resumed);
          hs[k] = w[k].h;
        }
        ASSERT_FALSE(w[0].h.done());
        ASSERT_FALSE(w[1].h.done());
        if (from_coroutine) {
          channel<int> go;  // a coroutine closes ch while its thread runs hand-offs
          [](channel<int> go, channel<int> ch) -> detached {
            (void)co_await go.async_recv();
            ch.close();
          }(go, ch);
          [](channel<int> go) -> detached { (void)co_await go.async_send(1); }(go);
        } else {
          ch.close();
        }
        EXPECT_EQ(resumed, 1) << "cap " << cap << " kind " << kind;
        EXPECT_TRUE(gone[0] != gone[1]);
        for (int k = 0; k < 2; ++k) {
          if (!gone[k]) {
            EXPECT_TRUE(w[k].h.done());
            w[k].h.destroy();
          }
        }
      }
    }
  }
}

// Inside run_handoffs, a send completes a waiting receiver, whose resumption waits in the
// hand-off queue's LIFO slot until f returns; f then destroys that receiver's coroutine,
// which takes the resumption off the queue (it would otherwise run on a freed frame).
TEST(AsyncNative, DestroyingACoroutineWhoseResumptionIsQueuedTakesItOff) {
  for (std::size_t cap : {0u, 1u}) {
    channel<int> ch(cap);
    bool resumed = false;
    owned r = [](channel<int> ch, bool& resumed) -> owned {
      (void)co_await ch.async_recv();
      resumed = true;
    }(ch, resumed);
    sluice::run_handoffs([&] {
      ASSERT_EQ(ch.try_send(5), status::ok);
      EXPECT_FALSE(resumed);  // queued behind f
      r.h.destroy();
    });
    EXPECT_FALSE(resumed);
    EXPECT_FALSE(ch.try_recv()) << "cap " << cap << ": the value was taken by the receiver";
  }
}

// close() wakes its waiters in the order they waited, and they resume in that order.
TEST(AsyncNative, CloseResumesWaitersInTheOrderTheyWaited) {
  for (std::size_t cap : {0u, 1u}) {
    channel<int> ch(cap);
    std::vector<int> order;
    for (int k = 0; k < 4; ++k) {
      [](channel<int> ch, int k, std::vector<int>& order) -> detached {
        (void)co_await ch.async_recv();
        order.push_back(k);
      }(ch, k, order);
    }
    ch.close();
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3})) << "cap " << cap;
  }
}

// A ring of coroutines on one thread passes a token 10^6 hops: every hop is a hand-off, and
// the stack does not grow (the hand-off queue runs them one after another).
[[gnu::noinline]] std::uintptr_t stack_here() { return reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0)); }

TEST(AsyncNative, LongHandOffChainsDoNotGrowTheStack) {
  constexpr int ring = 100;
  const long hops = 1000000;  // not scaled: the issue asks for 10^6 steps under ASan (well under a second)
  std::vector<channel<long>> links(ring);
  std::uintptr_t lo = UINTPTR_MAX, hi = 0;
  long last = -1;
  for (int k = 0; k < ring; ++k) {
    [](channel<long> in, channel<long> out, long hops, std::uintptr_t& lo, std::uintptr_t& hi, long& last) -> detached {
      for (;;) {
        auto r = co_await in.async_recv();
        if (!r) co_return;
        std::uintptr_t sp = stack_here();
        lo = std::min(lo, sp);
        hi = std::max(hi, sp);
        long v = *r + 1;
        if (v >= hops) {
          last = v;
          co_return;
        }
        if (co_await out.async_send(v) != status::ok) co_return;
      }
    }(links[k], links[(k + 1) % ring], hops, lo, hi, last);
  }
  EXPECT_EQ(links[0].send(0L), status::ok);
  EXPECT_EQ(last, hops);
  EXPECT_LT(hi - lo, 64u * 1024) << "the stack grew along the chain";
  for (auto& l : links) l.close();
}

// run_handoffs: a coroutine woken inside f runs after f returns (as a woken goroutine runs
// after its waker yields), so a producer fills the buffer before its consumer resumes.
TEST(AsyncNative, RunHandoffsResumesTheWokenAfterTheStep) {
  channel<int> ch(100);
  std::vector<int> got;
  std::vector<int> seen_len;  // the buffer's length each time the consumer resumed
  sluice::run_handoffs([&] {
    [](channel<int> ch, std::vector<int>& got, std::vector<int>& seen_len) -> detached {
      for (;;) {
        auto r = co_await ch.async_recv();
        if (!r) co_return;
        seen_len.push_back(static_cast<int>(ch.size()));
        got.push_back(*r);
      }
    }(ch, got, seen_len);
    [](channel<int> ch) -> detached {
      for (int i = 0; i < 100; ++i) EXPECT_EQ(co_await ch.async_send(i), status::ok);
      ch.close();
    }(ch);
    EXPECT_TRUE(got.empty()) << "the consumer ran inside the producer's sends";
  });
  ASSERT_EQ(got.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(got[i], i);
  // The first resumption (its op took value 0 when the first send woke it) found the other 99
  // buffered: the producer ran to the end first.
  EXPECT_EQ(seen_len.front(), 99);
}

// The LIFO slot (Go's runnext): in a native frame the task woken last runs next, ahead of
// those woken before it, which then run in the order they were woken.
detached record_when_resumed(channel<int> ch, std::vector<int>& order) {
  auto r = co_await ch.async_recv();
  if (r) order.push_back(*r);
}

TEST(AsyncNative, TheLastWokenRunsNextThenTheOthersInOrder) {
  constexpr int k = 5;
  std::vector<channel<int>> chs(k);
  std::vector<int> order;
  sluice::run_handoffs([&] {
    for (int i = 0; i < k; ++i) record_when_resumed(chs[i], order);
    for (int i = 0; i < k; ++i) EXPECT_EQ(chs[i].send(i), status::ok);  // each wakes one
    EXPECT_TRUE(order.empty());
  });
  EXPECT_EQ(order, (std::vector<int>{4, 0, 1, 2, 3}));
}

// Two tasks handing a value back and forth keep the LIFO slot busy; a task woken before them
// still runs within lifo_slot_limit of their steps (Tokio bounds its LIFO slot the same way).
TEST(AsyncNative, APingPongPairDoesNotStarveAnOlderTask) {
  channel<int> x, y, older;
  std::vector<int> log;  // -1: the older task ran; else a ping-pong step
  constexpr int steps = 100;
  static_assert(sluice::internal::lifo_slot_limit < steps, "else the pair ends before the bound matters");
  sluice::run_handoffs([&] {
    auto player = [](channel<int> in, channel<int> out, std::vector<int>& log) -> detached {
      for (;;) {
        auto r = co_await in.async_recv();
        if (!r || *r >= steps) co_return;
        log.push_back(*r);
        if (co_await out.async_send(*r + 1) != status::ok) co_return;
      }
    };
    player(x, y, log);
    player(y, x, log);
    [](channel<int> older, std::vector<int>& log) -> detached {
      if (co_await older.async_recv()) log.push_back(-1);
    }(older, log);
    EXPECT_EQ(older.send(0), status::ok);  // woken first
    EXPECT_EQ(x.send(0), status::ok);      // then the pair starts
  });
  ASSERT_EQ(log.size(), static_cast<std::size_t>(steps) + 1);
  const auto pos = static_cast<std::size_t>(std::find(log.begin(), log.end(), -1) - log.begin());
  EXPECT_GE(pos, 1u) << "the pair, woken last, runs first";
  EXPECT_LE(pos, sluice::internal::lifo_slot_limit) << "the older task waited too long";
  x.close();
  y.close();
}

// Without run_handoffs the completing call resumes the consumer at once (documented), and
// inside a hand-off run_handoffs just calls f. An exception from f leaves after the drain.
TEST(AsyncNative, RunHandoffsNestsAndPropagatesExceptions) {
  channel<int> ch;
  int inner_calls = 0;
  bool resumed = false;
  [](channel<int> ch, int& inner_calls, bool& resumed) -> detached {
    (void)co_await ch.async_recv();
    sluice::run_handoffs([&] { ++inner_calls; });  // in a hand-off now: called at once
    resumed = true;
  }(ch, inner_calls, resumed);
  EXPECT_THROW(sluice::run_handoffs([&] {
                 EXPECT_EQ(ch.send(1), status::ok);
                 EXPECT_FALSE(resumed);
                 throw std::runtime_error("after the send");
               }),
               std::runtime_error);
  EXPECT_TRUE(resumed) << "the woken coroutine runs before the exception leaves";
  EXPECT_EQ(inner_calls, 1);
  // Not inside run_handoffs: the send resumes the receiver before it returns.
  bool second = false;
  [](channel<int> ch, bool& second) -> detached {
    (void)co_await ch.async_recv();
    second = true;
  }(ch, second);
  EXPECT_EQ(ch.send(2), status::ok);
  EXPECT_TRUE(second);
}

}  // namespace
