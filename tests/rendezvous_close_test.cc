// Issue 9, point 2: close() on a rendezvous channel racing an alternation's send offer.
//
// Once close() has returned, no operation on that channel delivers a value through it, and
// no alternation clause on it reports ok. Before the fix an alternation whose first pass saw
// the channel open could publish its send offer after close() had run; a receive claimed
// offers before it looked at the closed flag, so a thread that called close() and then
// try_recv() (or recv()) got the value, and the alternation reported {send clause, ok} on a
// closed channel.
#include <sluice/alt.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "test_guard.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;
using sluice::channel;
using sluice::status;

namespace {

using sluice_test::die;
using sluice_test::jitter;
using sluice_test::two_cpus;
using sluice_test::watchdog;

// Issue 9, point 2. A hot thread runs, once per round, a blocking alternation with a send
// clause on a fresh rendezvous channel c and receive clauses on channels nobody sends on;
// the main thread closes c just after the round starts, then keeps calling try_recv() until
// the alternation has returned, then recv(). None may get a value, and the alternation must
// report {send clause, closed}. Forms: pri_alt with eight idle receive clauses before the
// send (they widen the window between the alternation's first look at c and its offer on
// c), fair_alt over the same nine, and the plain pri_alt/fair_alt(on_send(c), on_recv(idle)).
// The two threads run on two CPUs where they can (the window is a few instructions wide).
// Before: typically 5 to 50 rounds in 60000 delivered the value after close (try_recv
// returned ok) and the alternation reported {send clause, ok}.
TEST(RendezvousClose, NoValueDeliveredAndNoSendReportedOkAfterClose) {
  watchdog wd;
  const long rounds = sluice_test::scaled(20000);
  channel<int> idle[8];  // nobody ever sends on these
  channel<int>* cur = nullptr;
  std::atomic<long> round{0};     // main -> worker: round r's channel is *cur (release)
  std::atomic<long> finished{0};  // worker -> main: round r's alternation returned (release)
  std::atomic<bool> stop{false};
  sluice::alt_result result{};
  std::size_t send_index = 0;
  bool handler_ran = false;

  two_cpus cpus;
  std::thread worker([&] {
    cpus.pin_worker();
    for (long r = 1;; ++r) {
      for (unsigned spins = 0; round.load(std::memory_order_acquire) != r; ++spins) {  // pairs with main's release
        if (stop.load(std::memory_order_relaxed)) return;  // a flag/counter: ordered by the rounds' own synchronisation
        if (spins >= 200) std::this_thread::yield();
      }
      channel<int> c = *cur;
      int v = static_cast<int>(r);
      bool sent = false;
      auto on_sent = [&] { sent = true; };
      auto on_idle = [](int) {};
      using sluice::on_recv;
      using sluice::on_send;
      switch (r % 4) {
        case 0:
        case 2:
          send_index = 8;
          result = sluice::pri_alt(on_recv(idle[0], on_idle), on_recv(idle[1], on_idle), on_recv(idle[2], on_idle),
                                   on_recv(idle[3], on_idle), on_recv(idle[4], on_idle), on_recv(idle[5], on_idle),
                                   on_recv(idle[6], on_idle), on_recv(idle[7], on_idle), on_send(c, v, on_sent));
          break;
        case 1:
          send_index = 0;
          result = sluice::fair_alt(on_send(c, v, on_sent), on_recv(idle[0], on_idle), on_recv(idle[1], on_idle),
                                    on_recv(idle[2], on_idle), on_recv(idle[3], on_idle), on_recv(idle[4], on_idle),
                                    on_recv(idle[5], on_idle), on_recv(idle[6], on_idle), on_recv(idle[7], on_idle));
          break;
        default:
          send_index = 0;
          result = r % 8 == 3 ? sluice::pri_alt(on_send(c, v, on_sent), on_recv(idle[0], on_idle))
                              : sluice::fair_alt(on_send(c, v, on_sent), on_recv(idle[0], on_idle));
      }
      handler_ran = sent;
      finished.store(r, std::memory_order_release);  // pairs with main's acquire
    }
  });

  long delivered_after_close = 0, reported_ok = 0, other_result = 0, done_rounds = 0;
  std::string first_bad;
  const auto t_end = std::chrono::steady_clock::now() + 15s;
  for (long r = 1; r <= rounds && std::chrono::steady_clock::now() < t_end; ++r) {
    channel<int> c;
    cur = &c;
    round.store(r, std::memory_order_release);  // pairs with the worker's acquire
    jitter(static_cast<unsigned>((r * 7) % 64) * 2);
    c.close();
    // From here on nothing may come out of c, however often we ask.
    long got = 0;
    auto t0 = std::chrono::steady_clock::now();
    for (unsigned n = 0; finished.load(std::memory_order_acquire) != r; ++n) {  // pairs with the worker's release
      if (c.try_recv()) ++got;
      if (n >= 4096) std::this_thread::yield();
      if ((n & 1023) == 0 && std::chrono::steady_clock::now() - t0 > 5s) {
        die("round " + std::to_string(r) + ": the alternation did not return within 5 s of close()");
      }
    }
    if (c.try_recv()) ++got;
    if (c.recv()) ++got;
    delivered_after_close += got;
    const bool right = result.index == send_index && result.status == status::closed && !handler_ran;
    if (result.index == send_index && result.status == status::ok) {
      ++reported_ok;
    } else if (!right) {
      ++other_result;
    }
    if (first_bad.empty() && (got != 0 || !right)) {
      first_bad = "round " + std::to_string(r) + ": " + std::to_string(got) + " value(s) received after close; " +
                  "alternation returned {" + std::to_string(result.index) + ", " +
                  sluice::to_string(result.status) + "}, send clause " + std::to_string(send_index) +
                  (handler_ran ? ", send handler ran" : "");
    }
    ++done_rounds;
  }
  stop.store(true);
  worker.join();
  EXPECT_EQ(delivered_after_close, 0) << first_bad;
  EXPECT_EQ(reported_ok, 0) << "alternations that reported {send, ok} on a closed channel; " << first_bad;
  EXPECT_EQ(other_result, 0) << first_bad;
  EXPECT_GE(done_rounds, std::min(rounds, 1000L)) << "too few rounds ran in the time allowed";
  std::printf("[ info ] %ld rounds\n", done_rounds);
}

// A try on a rendezvous channel says "not ready" without the lock when nobody waits there
// (zero.hpp, might_meet). Two threads each close one channel and then try the other: in any
// order of the four operations at least one try comes after the other thread's close, so
// the two tries cannot both say empty (a store-buffering pair, which a release store of
// the closed flag would allow: each thread's close still in its store buffer while it
// reads the other channel). Each side alternates try_recv and try_send. The window is a
// few nanoseconds wide: with a release-only store this test passed 120,000 rounds on the
// 2-core VM, so it guards the behaviour; the argument is the seq_cst one in zero.hpp.
TEST(RendezvousClose, TwoThreadsClosingAndTryingCrosswiseCannotBothMissTheClose) {
  watchdog wd;
  const long rounds = sluice_test::scaled(40000);
  channel<int>* pair = nullptr;  // round r's two channels: [0] closed by main, [1] by the worker
  std::atomic<long> round{0};     // main -> worker (release)
  std::atomic<long> finished{0};  // worker -> main (release)
  std::atomic<bool> stop{false};
  bool worker_saw_close = false;

  auto try_other = [](channel<int>& c, long r) {
    if (r % 2 == 0) return c.try_recv().status() == status::closed;
    return c.try_send(1) == status::closed;
  };
  two_cpus cpus;
  std::thread worker([&] {
    cpus.pin_worker();
    for (long r = 1;; ++r) {
      for (unsigned spins = 0; round.load(std::memory_order_acquire) != r; ++spins) {  // pairs with main's release
        if (stop.load(std::memory_order_relaxed)) return;  // a flag: ordered by the rounds' own synchronisation
        if (spins >= 200) std::this_thread::yield();
      }
      channel<int>* cs = pair;
      cs[1].close();
      worker_saw_close = try_other(cs[0], r);
      finished.store(r, std::memory_order_release);  // pairs with main's acquire
    }
  });

  long both_missed = 0, done_rounds = 0;
  const auto t_end = std::chrono::steady_clock::now() + 15s;
  for (long r = 1; r <= rounds && std::chrono::steady_clock::now() < t_end; ++r) {
    channel<int> cs[2];
    pair = cs;
    round.store(r, std::memory_order_release);  // pairs with the worker's acquire
    jitter(static_cast<unsigned>((r * 37) % 512));  // about the worker's reaction time, so some rounds overlap
    cs[0].close();
    const bool main_saw_close = try_other(cs[1], r);
    while (finished.load(std::memory_order_acquire) != r) std::this_thread::yield();  // pairs with the worker's release
    if (!main_saw_close && !worker_saw_close) ++both_missed;
    ++done_rounds;
  }
  stop.store(true);
  worker.join();
  EXPECT_EQ(both_missed, 0) << "rounds in which both tries missed the other thread's close";
  EXPECT_GE(done_rounds, std::min(rounds, 1000L)) << "too few rounds ran in the time allowed";
  std::printf("[ info ] %ld rounds\n", done_rounds);
}

}  // namespace
