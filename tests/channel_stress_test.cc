// Exactly-once accounting under random mixes of blocking, try and timed operations and
// close, for every flavor. Counts and checksums must match; per-producer FIFO must hold; a
// lifetime-tracked element type proves every value is destroyed exactly once.
#include <sluice/channel.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <random>
#include <thread>
#include <vector>

#include "test_util.hpp"

using namespace std::chrono_literals;
using sluice::channel;
using sluice::overflow;
using sluice::status;
using sluice_test::kind;
using sluice_test::tracked;

namespace {

constexpr long stride = 1L << 32;  // value = producer * stride + sequence

struct totals {
  std::atomic<long> count{0};
  std::atomic<long> sum{0};
  void add(long v) {
    count.fetch_add(1, std::memory_order_relaxed);  // a counter
    sum.fetch_add(v, std::memory_order_relaxed);  // a counter
  }
};

// Send `per` values with a random mix of send, try_send and send_for, until closed.
void produce(channel<tracked>& c, int id, long per, totals& sent, unsigned seed) {
  std::mt19937 rng(seed);
  for (long i = 0; i < per; ++i) {
    tracked v(id * stride + i);
    for (;;) {
      status s;
      switch (rng() % 3) {
        case 0: s = c.send(std::move(v)); break;
        case 1: s = c.try_send(std::move(v)); break;
        default: s = c.send_for(std::move(v), std::chrono::microseconds(rng() % 200)); break;
      }
      if (s == status::ok) {
        sent.add(id * stride + i);
        break;
      }
      ASSERT_EQ(v.v, id * stride + i) << "a failed send moved from the value";
      if (s == status::closed) return;
      if (s == status::full) std::this_thread::yield();
    }
  }
}

// Receive with a random mix of recv, try_recv and recv_for until closed and drained.
void consume(channel<tracked>& c, int producers, totals& got, std::atomic<bool>& fifo, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<long> last(producers, -1);
  for (;;) {
    unsigned pick = rng() % 3, wait_us = rng() % 200;
    auto r = pick == 0 ? c.recv() : pick == 1 ? c.try_recv() : c.recv_for(std::chrono::microseconds(wait_us));
    if (r.status() == status::closed) return;
    if (!r) {
      if (r.status() == status::empty) std::this_thread::yield();
      continue;
    }
    long v = r->v;
    int p = static_cast<int>(v / stride);
    if (v % stride <= last[p]) fifo = false;
    last[p] = v % stride;
    got.add(v);
  }
}

void run(kind k, bool close_early) {
  const int producers = 3, consumers = 2;
  const long per = sluice_test::scaled(4000);
  {
    auto c = sluice_test::make<tracked>(k);
    totals sent, got;
    std::atomic<bool> fifo{true};
    std::vector<std::thread> ps, cs;
    for (int p = 0; p < producers; ++p) ps.emplace_back([&, p] { produce(c, p, per, sent, 1000 + p); });
    for (int q = 0; q < consumers; ++q) cs.emplace_back([&, q] { consume(c, producers, got, fifo, 2000 + q); });
    if (close_early) {
      while (sent.count.load() < per) std::this_thread::yield();
      c.close();
    }
    for (auto& t : ps) t.join();
    c.close();
    for (auto& t : cs) t.join();
    EXPECT_TRUE(fifo.load()) << "per-producer FIFO broken";
    EXPECT_EQ(got.count.load(), sent.count.load());
    EXPECT_EQ(got.sum.load(), sent.sum.load());
    if (!close_early) {
      EXPECT_EQ(sent.count.load(), producers * per);
    }
  }
  EXPECT_EQ(tracked::live.load(), 0) << "a value was leaked or destroyed twice";
}

class Stress : public ::testing::TestWithParam<kind> {};
INSTANTIATE_TEST_SUITE_P(All, Stress,
                         ::testing::Values(kind::rendezvous, kind::bounded1, kind::bounded64, kind::unbounded),
                         [](const auto& info) { return sluice_test::name(info.param); });

TEST_P(Stress, ExactlyOnceWithRandomOperations) { run(GetParam(), false); }
TEST_P(Stress, ExactlyOnceWithCloseRacingOperations) { run(GetParam(), true); }

TEST_P(Stress, CloseWithBufferedValuesDestroysEachOnce) {
  for (int round = 0; round < 20; ++round) {
    {
      auto c = sluice_test::make<tracked>(GetParam());
      std::vector<std::thread> ts;
      for (int p = 0; p < 2; ++p) {
        ts.emplace_back([&, p] {
          for (long i = 0; i < 100; ++i) {
            if (c.send_for(tracked(p * stride + i), 1ms) == status::closed) return;
          }
        });
      }
      std::this_thread::sleep_for(std::chrono::microseconds(100 * round));
      c.close();
      for (auto& t : ts) t.join();
    }
    ASSERT_EQ(tracked::live.load(), 0);
  }
}

TEST(LossyStress, DropOldestNeverDuplicatesOrLeaks) {
  const long per = sluice_test::scaled(20000);
  {
    channel<tracked> c(8, overflow::drop_oldest);
    std::atomic<long> got{0};
    std::atomic<bool> fifo{true};
    std::vector<std::thread> ts;
    for (int p = 0; p < 2; ++p) {
      ts.emplace_back([&, p] {
        for (long i = 0; i < per; ++i) ASSERT_EQ(c.send(tracked(p * stride + i)), status::ok);
      });
    }
    std::thread consumer([&] {
      std::vector<long> last(2, -1);
      for (auto& v : c) {
        int p = static_cast<int>(v.v / stride);
        if (v.v % stride <= last[p]) fifo = false;
        last[p] = v.v % stride;
        got.fetch_add(1);
      }
    });
    for (auto& t : ts) t.join();
    c.close();
    consumer.join();
    EXPECT_TRUE(fifo.load());
    EXPECT_LE(got.load(), 2 * per);
    EXPECT_GT(got.load(), 0);
  }
  EXPECT_EQ(tracked::live.load(), 0);
}

}  // namespace
