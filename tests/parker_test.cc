// The parker contract, run on every backend built (a typed test, as Abseil does for its
// per-platform waiters).
#include <sluice/internal/parker.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "test_util.hpp"

using namespace std::chrono_literals;
using sluice::internal::deadline;

template <class P>
class ParkerTest : public ::testing::Test {};

#if defined(__linux__)
using Backends = ::testing::Types<sluice::internal::futex_parker, sluice::internal::condvar_parker>;
#else
using Backends = ::testing::Types<sluice::internal::condvar_parker>;
#endif
TYPED_TEST_SUITE(ParkerTest, Backends);

TYPED_TEST(ParkerTest, UnparkBeforeParkReturnsAtOnce) {
  TypeParam p;
  p.prepare();
  p.unpark();
  EXPECT_TRUE(p.park(deadline::never()));
}

TYPED_TEST(ParkerTest, TimesOutWithoutUnpark) {
  TypeParam p;
  p.prepare();
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(p.park(deadline::after(30ms)));
  auto took = sluice_test::since(t0);
  EXPECT_GE(took, 30ms);
  EXPECT_LT(took, 30ms + 200ms);
  EXPECT_FALSE(p.park(deadline::now()));
}

TYPED_TEST(ParkerTest, UnparkFromAnotherThreadWakes) {
  TypeParam p;
  p.prepare();
  std::atomic<bool> ready{false};
  int payload = 0;
  std::thread t([&] {
    while (!ready.load()) std::this_thread::yield();
    std::this_thread::sleep_for(20ms);  // long enough that the owner has gone to sleep
    payload = 42;
    p.unpark();
  });
  ready = true;
  EXPECT_TRUE(p.park(deadline::never()));
  EXPECT_EQ(payload, 42);  // what the unparker did before unpark is visible
  t.join();
}

TYPED_TEST(ParkerTest, ManyRoundsNeverLoseAWake) {
  // Ping-pong between two parkers: a lost wake would hang the test.
  TypeParam a, b;
  const long rounds = sluice_test::scaled(20000);
  std::atomic<long> turn{0};
  a.prepare();
  std::thread t([&] {
    for (long i = 0; i < rounds; ++i) {
      ASSERT_TRUE(b.park(deadline::never()));
      b.prepare();
      turn.fetch_add(1);
      a.unpark();
    }
  });
  for (long i = 0; i < rounds; ++i) {
    b.unpark();
    ASSERT_TRUE(a.park(deadline::never()));
    a.prepare();
  }
  t.join();
  EXPECT_EQ(turn.load(), rounds);
}

TYPED_TEST(ParkerTest, TimeoutRacingUnparkIsConsistent) {
  // park with a short deadline races unpark; either result is allowed, but a later park must
  // see the unpark if the first one reported a timeout.
  for (int i = 0; i < 200; ++i) {
    TypeParam p;
    p.prepare();
    std::thread t([&] { p.unpark(); });
    bool woke = p.park(deadline::after(std::chrono::microseconds(i % 50)));
    if (!woke) {
      EXPECT_TRUE(p.park(deadline::never()));
    }
    t.join();
  }
}
