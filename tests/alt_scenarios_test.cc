// Go's select tests (runtime/chan_test.go), written anew for sluice, plus Calispel's manual
// examples and exactly-once accounting under racing timeouts on every channel kind.
#include <sluice/alt.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "test_util.hpp"

using namespace std::chrono_literals;
using sluice::channel;
using sluice::on_recv;
using sluice::on_send;
using sluice::otherwise;
using sluice::status;
using sluice_test::kind;

// Go: TestSelfSelect. Two threads each alternate between sending and receiving on one
// channel; an alternation must never receive its own value.
TEST(GoSelect, SelfSelect) {
  for (int cap : {0, 10}) {
    channel<int> c(cap);
    const int n = static_cast<int>(sluice_test::scaled(2000));
    std::atomic<bool> self_receive{false};
    auto body = [&](int p) {
      for (int i = 0; i < n; ++i) {
        if (p == 0 || i % 2 == 0) {
          (void)sluice::pri_alt(on_send(c, p, [] {}), on_recv(c, [&](int v) {
                                  if (cap == 0 && v == p) self_receive = true;
                                }));
        } else {
          (void)sluice::pri_alt(on_recv(c, [&](int v) {
                                  if (cap == 0 && v == p) self_receive = true;
                                }),
                                on_send(c, p, [] {}));
        }
      }
    };
    std::thread a(body, 0), b(body, 1);
    a.join();
    b.join();
    EXPECT_FALSE(self_receive.load()) << "capacity " << cap;
  }
}

// Go: TestSelectStress. Four channels (two rendezvous, two buffered); senders and receivers
// alternate over them with guards switching off the channels they are done with.
TEST(GoSelect, SelectStress) {
  channel<int> c[4] = {channel<int>(), channel<int>(), channel<int>(2), channel<int>(3)};
  const int n = static_cast<int>(sluice_test::scaled(5000));
  std::vector<std::thread> ts;
  // Two plain senders and two plain receivers on each channel...
  for (int k = 0; k < 4; ++k) {
    ts.emplace_back([&, k] {
      for (int i = 0; i < n; ++i) c[k].send(i);
    });
  }
  std::atomic<long> received{0};
  for (int k = 0; k < 4; ++k) {
    ts.emplace_back([&, k] {
      for (int i = 0; i < n; ++i) {
        if (c[k].recv()) received.fetch_add(1);
      }
    });
  }
  // ...and one alternating sender and one alternating receiver over all four.
  ts.emplace_back([&] {
    int left[4] = {n, n, n, n};
    int total = 4 * n;
    while (total > 0) {
      int idx = static_cast<int>(sluice::fair_alt(on_send(c[0], 1, [] {}).when(left[0] > 0),
                                                  on_send(c[1], 1, [] {}).when(left[1] > 0),
                                                  on_send(c[2], 1, [] {}).when(left[2] > 0),
                                                  on_send(c[3], 1, [] {}).when(left[3] > 0))
                                     .index);
      --left[idx];
      --total;
    }
  });
  ts.emplace_back([&] {
    int left[4] = {n, n, n, n};
    int total = 4 * n;
    while (total > 0) {
      int idx = static_cast<int>(sluice::fair_alt(on_recv(c[0], [](int) {}).when(left[0] > 0),
                                                  on_recv(c[1], [](int) {}).when(left[1] > 0),
                                                  on_recv(c[2], [](int) {}).when(left[2] > 0),
                                                  on_recv(c[3], [](int) {}).when(left[3] > 0))
                                     .index);
      --left[idx];
      --total;
      received.fetch_add(1);
    }
  });
  for (auto& t : ts) t.join();
  EXPECT_EQ(received.load(), 8L * n);
}

// Go: TestNonblockSelectRace. A non-blocking alternation over two channels, one of which
// is always ready, must never take the default branch.
TEST(GoSelect, NonblockSelectRace) {
  const int n = static_cast<int>(sluice_test::scaled(2000));
  for (int i = 0; i < n; ++i) {
    channel<int> c1(1), c2(1), done(1);
    c1.send(1);
    std::thread t([&] {
      bool ok = true;
      (void)sluice::pri_alt(on_recv(c1, [](int) {}), on_recv(c2, [](int) {}), otherwise([&] { ok = false; }));
      done.send(ok ? 1 : 0);
    });
    c2.send(1);
    (void)sluice::pri_alt(on_recv(c1, [](int) {}), otherwise([] {}));
    ASSERT_EQ(*done.recv(), 1) << "no channel was ready, iteration " << i;
    t.join();
  }
}

// Go: TestSelectDuplicateChannel. The same channel in two clauses of one alternation.
TEST(GoSelect, DuplicateChannel) {
  channel<int> c, d, e;
  std::atomic<bool> bad{false};
  std::thread a([&] {
    (void)sluice::pri_alt(on_recv(c, [&](int) { bad = true; }), on_recv(d, [](int) {}),
                          on_recv(c, [&](int) { bad = true; }));
    e.send(9);
  });
  std::this_thread::sleep_for(1ms);  // the alternation is now blocked, with two offers on c
  std::thread b([&] { (void)c.recv(); });
  std::this_thread::sleep_for(1ms);
  d.send(7);
  (void)e.recv();
  c.send(8);  // reaches the plain receiver, not the finished alternation
  a.join();
  b.join();
  EXPECT_FALSE(bad.load());
}

// Two alternations over the same two channels with two plain senders: every value is
// received exactly once (Go's TestMultiConsumer shape, with select on the consumer side).
TEST(GoSelect, DoubleSelect) {
  channel<long> x, y(4);
  const long n = sluice_test::scaled(10000);
  std::atomic<long> sum{0}, count{0};
  std::thread sx([&] {
    for (long i = 1; i <= n; ++i) x.send(i);
  });
  std::thread sy([&] {
    for (long i = 1; i <= n; ++i) y.send(i);
  });
  auto consumer = [&] {
    for (;;) {
      bool stop = false;
      (void)sluice::pri_alt(on_recv(x, [&](long v) { sum += v, ++count; }), on_recv(y, [&](long v) { sum += v, ++count; }),
                            otherwise(50ms, [&] { stop = true; }));
      if (stop && count.load() == 2 * n) return;
    }
  };
  std::thread c1(consumer), c2(consumer);
  sx.join();
  sy.join();
  c1.join();
  c2.join();
  EXPECT_EQ(count.load(), 2 * n);
  EXPECT_EQ(sum.load(), n * (n + 1));
}

// The concurrent prime sieve (Go's doc example), with each filter alternating between its
// input and a quit channel.
TEST(GoSelect, PrimeSieve) {
  channel<int> quit;
  channel<int> src;
  std::vector<std::thread> ts;
  ts.emplace_back([src, quit]() mutable {
    for (int i = 2;; ++i) {
      bool stop = false;
      (void)sluice::pri_alt(on_send(src, i, [] {}), on_recv(quit, [&](sluice::recv_result<int>) { stop = true; }));
      if (stop) return;
    }
  });
  std::vector<int> primes;
  channel<int> in = src;
  for (int k = 0; k < 25; ++k) {
    int p = *in.recv();
    primes.push_back(p);
    channel<int> out;
    ts.emplace_back([in, out, quit, p]() mutable {
      for (;;) {
        bool stop = false;
        int v = 0;
        (void)sluice::pri_alt(on_recv(in, [&](int x) { v = x; }),
                              on_recv(quit, [&](sluice::recv_result<int>) { stop = true; }));
        if (stop) return;
        if (v % p == 0) continue;
        (void)sluice::pri_alt(on_send(out, v, [] {}), on_recv(quit, [&](sluice::recv_result<int>) { stop = true; }));
        if (stop) return;
      }
    });
    in = out;
  }
  quit.close();
  for (auto& t : ts) t.join();
  std::vector<int> expect = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97};
  EXPECT_EQ(primes, expect);
}

// Calispel's manual: a receive with a zero timeout on an empty channel gives up at once; a
// PRI-ALT over a send and a receive performs whichever a partner is ready for.
TEST(Calispel, ZeroTimeoutReceiveGivesUp) {
  channel<int> c;
  bool gave_up = false;
  (void)sluice::pri_alt(on_recv(c, [](int) {}), otherwise(0ms, [&] { gave_up = true; }));
  EXPECT_TRUE(gave_up);
}

TEST(Calispel, PriAltOverSendAndReceive) {
  channel<int> to_worker, from_worker;
  std::thread worker([&] {
    int v = *to_worker.recv();
    from_worker.send(v * 2);
  });
  int sent = 0, got = 0;
  while (got == 0) {
    (void)sluice::pri_alt(on_recv(from_worker, [&](int v) { got = v; }),
                          on_send(to_worker, 21, [&] { ++sent; }).when(sent == 0));
  }
  worker.join();
  EXPECT_EQ(sent, 1);
  EXPECT_EQ(got, 42);
}

TEST(Calispel, FairAltWithTimeoutOverManyProducers) {
  // Calispel's FAIR-ALT example: a consumer serving several producers fairly, giving up
  // when they all go quiet.
  std::vector<channel<int>> cs(3);
  std::vector<std::thread> ts;
  for (int p = 0; p < 3; ++p) {
    ts.emplace_back([&, p] {
      for (int i = 0; i < 100; ++i) cs[p].send(p);
    });
  }
  int counts[3] = {};
  for (;;) {
    bool quiet = false;
    (void)sluice::fair_alt(on_recv(cs[0], [&](int v) { ++counts[v]; }), on_recv(cs[1], [&](int v) { ++counts[v]; }),
                           on_recv(cs[2], [&](int v) { ++counts[v]; }), otherwise(100ms, [&] { quiet = true; }));
    if (quiet) break;
  }
  for (auto& t : ts) t.join();
  for (int p = 0; p < 3; ++p) EXPECT_EQ(counts[p], 100);
}

// Exactly-once accounting under racing timeouts, on every channel kind: senders and
// receivers alternate with short otherwise timeouts; whatever a sender's alternation
// committed is received exactly once, and a timed-out send keeps its value.
class RacingTimeouts : public ::testing::TestWithParam<kind> {};
INSTANTIATE_TEST_SUITE_P(All, RacingTimeouts,
                         ::testing::Values(kind::rendezvous, kind::bounded1, kind::bounded64, kind::unbounded),
                         [](const auto& info) { return sluice_test::name(info.param); });

TEST_P(RacingTimeouts, ExactlyOnce) {
  auto a = sluice_test::make<std::unique_ptr<long>>(GetParam());
  auto b = sluice_test::make<std::unique_ptr<long>>(GetParam());
  const long per = sluice_test::scaled(3000);
  std::atomic<long> sent_sum{0}, sent_n{0}, got_sum{0}, got_n{0};
  std::atomic<bool> kept{true};
  std::vector<std::thread> ts;
  for (int p = 0; p < 2; ++p) {
    ts.emplace_back([&, p] {
      for (long i = 1; i <= per; ++i) {
        auto v = std::make_unique<long>(p * 1000000 + i);
        long val = *v;
        for (;;) {
          auto r = sluice::fair_alt(on_send(a, std::move(v), [] {}), on_send(b, std::move(v), [] {}),
                                    otherwise(std::chrono::microseconds(50 * (i % 4)), [] {}));
          if (r.status == status::ok) {
            sent_sum += val;
            ++sent_n;
            break;
          }
          if (!v || *v != val) kept = false;
        }
      }
    });
  }
  std::atomic<bool> stop{false};
  for (int q = 0; q < 2; ++q) {
    ts.emplace_back([&, q] {
      long i = 0;
      while (!stop.load() || a.size() + b.size() > 0) {
        auto take = [&](std::unique_ptr<long> v) {
          got_sum += *v;
          ++got_n;
        };
        (void)sluice::fair_alt(on_recv(a, take), on_recv(b, take),
                               otherwise(std::chrono::microseconds(30 * (++i % 5) + q), [] {}));
      }
    });
  }
  for (int p = 0; p < 2; ++p) ts[p].join();
  stop = true;
  for (int q = 0; q < 2; ++q) ts[2 + q].join();
  EXPECT_TRUE(kept.load()) << "a send clause that did not commit lost its value";
  EXPECT_EQ(sent_n.load(), 2 * per);
  EXPECT_EQ(got_n.load(), sent_n.load());
  EXPECT_EQ(got_sum.load(), sent_sum.load());
}
