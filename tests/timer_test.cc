#include <sluice/alt.hpp>
#include <sluice/timer.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "test_util.hpp"

using namespace std::chrono_literals;

TEST(After, FiresOnceAfterTheDelay) {
  auto t0 = std::chrono::steady_clock::now();
  auto c = sluice::after(30ms);
  auto r = c.recv();
  ASSERT_TRUE(r);
  EXPECT_GE(sluice_test::since(t0), 30ms);
  EXPECT_LT(sluice_test::since(t0), 130ms);
  EXPECT_GE(*r, t0 + 30ms);
  EXPECT_EQ(c.recv_for(50ms).status(), sluice::status::timeout);  // only once
}

TEST(After, UsableAsAlternationTimeout) {
  sluice::channel<int> never;
  auto timer = sluice::after(20ms);
  auto r = sluice::pri_alt(sluice::on_recv(never, [](int) {}), sluice::on_recv(timer, [](auto) {}));
  EXPECT_EQ(r.index, 1u);
}

TEST(After, ZeroOrNegativeFiresAtOnce) {
  EXPECT_TRUE(sluice::after(0ms).recv_for(100ms));
  EXPECT_TRUE(sluice::after(-1s).recv_for(100ms));
}

TEST(Tick, RepeatsAndDropsWhenReceiverIsSlow) {
  auto t0 = std::chrono::steady_clock::now();
  auto c = sluice::tick(10ms);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(c.recv());
  EXPECT_GE(sluice_test::since(t0), 30ms);
  std::this_thread::sleep_for(60ms);  // many ticks pass; only one is buffered
  EXPECT_LE(c.size(), 1u);
}

TEST(Tick, RejectsNonPositivePeriod) { EXPECT_THROW(sluice::tick(0ms), std::invalid_argument); }

TEST(Tick, DroppedHandleStopsTheTicker) {
  for (int i = 0; i < 100; ++i) (void)sluice::tick(1ms);  // dropped at once; must not pile up
  auto c = sluice::tick(5ms);
  EXPECT_TRUE(c.recv_for(1s));
}
