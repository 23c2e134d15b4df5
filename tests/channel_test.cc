// channel<T>: the semantics of the channels issue, for every flavor.
#include <sluice/channel.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "test_util.hpp"

using namespace std::chrono_literals;
using sluice::channel;
using sluice::overflow;
using sluice::status;
using sluice_test::kind;

class Flavor : public ::testing::TestWithParam<kind> {};
INSTANTIATE_TEST_SUITE_P(All, Flavor,
                         ::testing::Values(kind::rendezvous, kind::bounded1, kind::bounded64, kind::unbounded),
                         [](const auto& info) { return sluice_test::name(info.param); });

TEST_P(Flavor, FifoBetweenTwoThreads) {
  auto c = sluice_test::make<long>(GetParam());
  const long n = sluice_test::scaled(20000);
  std::thread producer([&] {
    for (long i = 0; i < n; ++i) ASSERT_EQ(c.send(i), status::ok);
    c.close();
  });
  long expect = 0;
  for (long v : c) EXPECT_EQ(v, expect++);
  EXPECT_EQ(expect, n);
  producer.join();
}

TEST_P(Flavor, CapacityAndSize) {
  auto c = sluice_test::make<int>(GetParam());
  switch (GetParam()) {
    case kind::rendezvous: EXPECT_EQ(c.capacity(), 0u); break;
    case kind::bounded1: EXPECT_EQ(c.capacity(), 1u); break;
    case kind::bounded64: EXPECT_EQ(c.capacity(), 64u); break;
    case kind::unbounded: EXPECT_EQ(c.capacity(), SIZE_MAX); break;
  }
  EXPECT_EQ(c.size(), 0u);
  if (GetParam() != kind::rendezvous) {
    ASSERT_EQ(c.try_send(1), status::ok);
    EXPECT_EQ(c.size(), 1u);
  }
}

TEST_P(Flavor, TryRecvOnEmptyIsEmpty) {
  auto c = sluice_test::make<int>(GetParam());
  auto r = c.try_recv();
  EXPECT_EQ(r.status(), status::empty);
  EXPECT_FALSE(r.has_value());
}

TEST_P(Flavor, CloseWakesEveryBlockedReceiver) {
  auto c = sluice_test::make<int>(GetParam());
  std::atomic<int> closed{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 4; ++i) {
    ts.emplace_back([&] {
      if (c.recv().status() == status::closed) closed.fetch_add(1);
    });
  }
  std::this_thread::sleep_for(30ms);
  c.close();
  for (auto& t : ts) t.join();
  EXPECT_EQ(closed.load(), 4);
  EXPECT_TRUE(c.is_closed());
}

TEST_P(Flavor, SendAfterCloseKeepsTheValue) {
  auto c = sluice_test::make<std::unique_ptr<int>>(GetParam());
  c.close();
  c.close();  // idempotent
  auto p = std::make_unique<int>(1);
  EXPECT_EQ(c.send(std::move(p)), status::closed);
  EXPECT_EQ(c.try_send(std::move(p)), status::closed);
  EXPECT_EQ(c.send_for(std::move(p), 10ms), status::closed);
  ASSERT_TRUE(p);
  EXPECT_EQ(c.recv().status(), status::closed);
}

TEST_P(Flavor, RecvTimeoutIsAccurate) {
  auto c = sluice_test::make<int>(GetParam());
  auto t0 = std::chrono::steady_clock::now();
  auto r = c.recv_for(50ms);
  auto took = sluice_test::since(t0);
  EXPECT_EQ(r.status(), status::timeout);
  EXPECT_GE(took, 50ms);
  EXPECT_LT(took, 50ms + 100ms);  // "within a few ms"; generous for loaded CI and sanitizers
}

TEST_P(Flavor, DeadlineOnAnyClock) {
  auto c = sluice_test::make<int>(GetParam());
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(c.recv_until(std::chrono::system_clock::now() + 30ms).status(), status::timeout);
  EXPECT_GE(sluice_test::since(t0), 25ms);
  EXPECT_EQ(c.recv_until(std::chrono::steady_clock::now() + 10ms).status(), status::timeout);
}

TEST_P(Flavor, ZeroOrPastDeadlineDoesNotBlock) {
  auto c = sluice_test::make<int>(GetParam());
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(c.recv_for(0ms).status(), status::timeout);
  EXPECT_EQ(c.recv_for(-5s).status(), status::timeout);
  EXPECT_EQ(c.recv_until(std::chrono::steady_clock::now() - 1h).status(), status::timeout);
  EXPECT_LT(sluice_test::since(t0), 20ms);
}

TEST_P(Flavor, NonDefaultConstructibleAndMoveOnly) {
  struct no_default {
    explicit no_default(int x) : v(std::make_unique<int>(x)) {}
    std::unique_ptr<int> v;
  };
  auto c = sluice_test::make<no_default>(GetParam());
  std::thread t([&] { ASSERT_EQ(c.send(no_default(9)), status::ok); });
  auto r = c.recv();
  ASSERT_TRUE(r);
  EXPECT_EQ(*r->v, 9);
  t.join();
}

TEST_P(Flavor, LvalueIsCopiedNotMoved) {
  auto c = sluice_test::make<std::string>(GetParam());
  std::string s = "payload";
  std::thread t([&] { ASSERT_EQ(c.send(s), status::ok); });
  EXPECT_EQ(*c.recv(), "payload");
  t.join();
  EXPECT_EQ(s, "payload");
}

TEST_P(Flavor, ConvertingSend) {
  auto c = sluice_test::make<std::string>(GetParam());
  std::thread t([&] { ASSERT_EQ(c.send("literal"), status::ok); });
  EXPECT_EQ(*c.recv(), "literal");
  t.join();
}

TEST_P(Flavor, DestroyingTheChannelDestroysBufferedValuesOnce) {
  {
    auto c = sluice_test::make<sluice_test::tracked>(GetParam());
    if (GetParam() != kind::rendezvous) {
      long n = GetParam() == kind::bounded1 ? 1 : 60;
      for (long i = 0; i < n; ++i) ASSERT_EQ(c.try_send(sluice_test::tracked(i)), status::ok);
      EXPECT_EQ(sluice_test::tracked::live.load(), n);
      auto r = c.try_recv();
      ASSERT_TRUE(r);
    }
  }
  EXPECT_EQ(sluice_test::tracked::live.load(), 0);
}

TEST_P(Flavor, CopiesShareOneChannel) {
  auto a = sluice_test::make<int>(GetParam());
  channel<int> b = a;
  EXPECT_TRUE(a == b);
  std::thread t([&] { ASSERT_EQ(b.send(5), status::ok); });
  EXPECT_EQ(*a.recv(), 5);
  t.join();
  b.close();
  EXPECT_TRUE(a.is_closed());
}

TEST_P(Flavor, PerProducerFifoUnderManyProducersAndConsumers) {
  auto c = sluice_test::make<std::pair<int, long>>(GetParam());
  const int producers = 3, consumers = 3;
  const long per = sluice_test::scaled(5000);
  std::vector<std::thread> ts;
  std::atomic<long> received{0};
  std::atomic<bool> ordered{true};
  for (int p = 0; p < producers; ++p) {
    ts.emplace_back([&, p] {
      for (long i = 0; i < per; ++i) ASSERT_EQ(c.send(std::pair<int, long>(p, i)), status::ok);
    });
  }
  for (int q = 0; q < consumers; ++q) {
    ts.emplace_back([&] {
      std::vector<long> last(producers, -1);
      for (auto v : c) {
        if (v.second <= last[v.first]) ordered = false;
        last[v.first] = v.second;
        received.fetch_add(1);
      }
    });
  }
  for (int p = 0; p < producers; ++p) ts[p].join();
  c.close();
  for (int q = 0; q < consumers; ++q) ts[producers + q].join();
  EXPECT_TRUE(ordered.load());
  EXPECT_EQ(received.load(), producers * per);
}

// --- Rendezvous -----------------------------------------------------------------------

TEST(Rendezvous, SendCompletesOnlyWhenReceiverTookIt) {
  channel<int> c;
  std::atomic<bool> sent{false};
  std::thread t([&] {
    ASSERT_EQ(c.send(1), status::ok);
    sent = true;
  });
  std::this_thread::sleep_for(30ms);
  EXPECT_FALSE(sent.load());
  EXPECT_EQ(*c.recv(), 1);
  t.join();
  EXPECT_TRUE(sent.load());
}

TEST(Rendezvous, TrySendNeedsAWaitingReceiver) {
  channel<int> c;
  EXPECT_EQ(c.try_send(1), status::full);
  std::thread t([&] { EXPECT_EQ(*c.recv(), 2); });
  while (c.try_send(2) != status::ok) std::this_thread::yield();
  t.join();
}

TEST(Rendezvous, TryRecvNeedsAWaitingSender) {
  channel<int> c;
  EXPECT_EQ(c.try_recv().status(), status::empty);
  std::thread t([&] { EXPECT_EQ(c.send(3), status::ok); });
  sluice::recv_result<int> r(status::empty);
  while (!(r = c.try_recv())) std::this_thread::yield();
  EXPECT_EQ(*r, 3);
  t.join();
}

TEST(Rendezvous, CloseWakesBlockedSenderAndKeepsValue) {
  channel<std::unique_ptr<int>> c;
  auto p = std::make_unique<int>(4);
  std::thread t([&] { c.close(); });
  EXPECT_EQ(c.send(std::move(p)), status::closed);
  ASSERT_TRUE(p);
  t.join();
}

TEST(Rendezvous, SendTimeoutKeepsValue) {
  channel<std::unique_ptr<int>> c;
  auto p = std::make_unique<int>(4);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(c.send_for(std::move(p), 40ms), status::timeout);
  EXPECT_GE(sluice_test::since(t0), 40ms);
  ASSERT_TRUE(p);
  EXPECT_EQ(c.send_until(std::move(p), std::chrono::steady_clock::now()), status::timeout);
  ASSERT_TRUE(p);
}

// --- Bounded and lossy ----------------------------------------------------------------

TEST(Bounded, FullSendBlocksUntilRoomAndKeepsValueOnTimeout) {
  channel<std::unique_ptr<int>> c(2);
  ASSERT_EQ(c.send(std::make_unique<int>(1)), status::ok);
  ASSERT_EQ(c.send(std::make_unique<int>(2)), status::ok);
  auto p = std::make_unique<int>(3);
  EXPECT_EQ(c.try_send(std::move(p)), status::full);
  EXPECT_EQ(c.send_for(std::move(p), 20ms), status::timeout);
  ASSERT_TRUE(p);
  std::thread t([&] {
    std::this_thread::sleep_for(20ms);
    EXPECT_EQ(**c.recv(), 1);
  });
  EXPECT_EQ(c.send(std::move(p)), status::ok);
  EXPECT_FALSE(p);
  t.join();
  EXPECT_EQ(**c.recv(), 2);
  EXPECT_EQ(**c.recv(), 3);
}

TEST(Bounded, CloseWakesBlockedSenderAndKeepsValue) {
  channel<std::unique_ptr<int>> c(1);
  ASSERT_EQ(c.send(std::make_unique<int>(1)), status::ok);
  auto p = std::make_unique<int>(2);
  std::thread t([&] {
    std::this_thread::sleep_for(20ms);
    c.close();
  });
  EXPECT_EQ(c.send(std::move(p)), status::closed);
  ASSERT_TRUE(p);
  t.join();
  EXPECT_EQ(**c.recv(), 1);  // buffered items are still received after close
  EXPECT_EQ(c.recv().status(), status::closed);
}

TEST(Bounded, AnyCapacityWorks) {
  for (std::size_t cap : {1u, 2u, 3u, 5u, 7u, 100u, 1000u}) {
    channel<std::size_t> c(cap);
    for (int round = 0; round < 3; ++round) {
      for (std::size_t i = 0; i < cap; ++i) ASSERT_EQ(c.try_send(i), status::ok);
      EXPECT_EQ(c.try_send(cap), status::full);
      EXPECT_EQ(c.size(), cap);
      for (std::size_t i = 0; i < cap; ++i) ASSERT_EQ(*c.try_recv(), i);
      EXPECT_EQ(c.try_recv().status(), status::empty);
    }
  }
}

TEST(Lossy, DropOldestEvicts) {
  channel<sluice_test::tracked> c(2, overflow::drop_oldest);
  for (long i = 1; i <= 5; ++i) EXPECT_EQ(c.send(sluice_test::tracked(i)), status::ok);
  EXPECT_EQ(c.size(), 2u);
  EXPECT_EQ(sluice_test::tracked::live.load(), 2);  // the evicted ones were destroyed
  EXPECT_EQ(c.recv()->v, 4);
  EXPECT_EQ(c.recv()->v, 5);
}

TEST(Lossy, DropNewestReturnsFullAndKeepsValue) {
  channel<std::unique_ptr<int>> c(2, overflow::drop_newest);
  ASSERT_EQ(c.send(std::make_unique<int>(1)), status::ok);
  ASSERT_EQ(c.send(std::make_unique<int>(2)), status::ok);
  auto p = std::make_unique<int>(3);
  EXPECT_EQ(c.send(std::move(p)), status::full);  // at once, never blocks
  ASSERT_TRUE(p);
  EXPECT_EQ(**c.recv(), 1);
  EXPECT_EQ(**c.recv(), 2);
}

TEST(Lossy, CapacityZeroIsRendezvous) {
  channel<int> c(0, overflow::drop_oldest);
  EXPECT_EQ(c.capacity(), 0u);
  EXPECT_EQ(c.try_send(1), status::full);
}

// --- Unbounded ------------------------------------------------------------------------

TEST(Unbounded, NeverBlocksASender) {
  channel<long> c(sluice::unbounded);
  const long n = 10000;  // spans many 31-slot segments
  for (long i = 0; i < n; ++i) ASSERT_EQ(c.try_send(i), status::ok);
  EXPECT_EQ(c.size(), static_cast<std::size_t>(n));
  for (long i = 0; i < n; ++i) ASSERT_EQ(*c.try_recv(), i);
  EXPECT_EQ(c.size(), 0u);
}

TEST(Unbounded, ClosedAfterDrain) {
  channel<int> c(sluice::unbounded);
  c.send(1);
  c.send(2);
  c.close();
  EXPECT_EQ(*c.recv(), 1);
  EXPECT_EQ(*c.recv(), 2);
  EXPECT_EQ(c.recv().status(), status::closed);
  EXPECT_EQ(c.try_recv().status(), status::closed);
}

// Regression: with the spin budget at its floor, a blocking receive on a closed, drained
// buffered channel looped between the spin phase and the wait list without ever calling
// try_pop again (it never saw `closed`).
TEST(Regression, ClosedDrainedChannelIsSeenWithTinySpinBudget) {
  for (auto k : {kind::bounded1, kind::bounded64, kind::unbounded}) {
    auto c = sluice_test::make<int>(k);
    c.close();
    sluice::internal::spin_budget() = 1;
    EXPECT_EQ(c.recv_for(1h).status(), status::closed);
    sluice::internal::spin_budget() = 1;
    EXPECT_EQ(c.recv().status(), status::closed);
  }
  auto full = channel<int>(1);
  ASSERT_EQ(full.send(1), status::ok);
  full.close();
  sluice::internal::spin_budget() = 1;
  EXPECT_EQ(full.send_for(2, 1h), status::closed);
}
