#include <sluice/coroutine.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

using namespace std::chrono_literals;

TEST(Coroutine, RunsToCompletionAndKeepsTheResult) {
  sluice::coroutine<int> co([](sluice::coroutine_control&) { return 42; });
  EXPECT_FALSE(co.result());
  EXPECT_TRUE(co.run(1s));
  EXPECT_TRUE(co.done());
  EXPECT_EQ(co.result(), 42);
  EXPECT_TRUE(co.run(1ms));  // already done
}

TEST(Coroutine, SuspendsAtCheckpointsWhenTheBudgetIsSpent) {
  std::atomic<long> progress{0};
  sluice::coroutine<long> co([&](sluice::coroutine_control& c) {
    for (long i = 0; i < 200; ++i) {
      std::this_thread::sleep_for(200us);
      progress++;
      c.checkpoint();
    }
    return progress.load();
  });
  EXPECT_FALSE(co.run(5ms));
  long after_first = progress.load();
  EXPECT_GT(after_first, 0);
  EXPECT_LT(after_first, 200);
  std::this_thread::sleep_for(20ms);  // not running between runs
  EXPECT_LE(progress.load(), after_first + 1);
  int runs = 1;
  while (!co.run(5ms)) ++runs;
  EXPECT_GT(runs, 2);
  EXPECT_EQ(co.result(), 200);
}

TEST(Coroutine, RunUntilAcceptsAnyClock) {
  sluice::coroutine<int> co([](sluice::coroutine_control& c) {
    for (;;) c.checkpoint();
    return 0;
  });
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(co.run_until(std::chrono::system_clock::now() + 20ms));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 15ms);
  co.kill();
  EXPECT_TRUE(co.done());
  EXPECT_FALSE(co.result());
}

TEST(Coroutine, RunUntilAChannelIsReady) {
  sluice::channel<int> until(1);
  sluice::coroutine<int> co([](sluice::coroutine_control& c) {
    for (;;) c.checkpoint();
    return 0;
  });
  std::thread t([&] {
    std::this_thread::sleep_for(20ms);
    until.send(1);
  });
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(co.run(until));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 15ms);
  EXPECT_EQ(until.size(), 1u);  // run() does not consume
  t.join();
  co.kill();
}

TEST(Coroutine, NoSuspensionInsideDisabledRegion) {
  std::atomic<int> phase{0};
  sluice::coroutine<int> co([&](sluice::coroutine_control& c) {
    c.enable_suspend(false);
    std::this_thread::sleep_for(30ms);
    c.checkpoint();  // budget spent, but suspension is off: go on
    phase = 1;
    c.enable_suspend(true);
    c.checkpoint();
    phase = 2;
    return 0;
  });
  EXPECT_FALSE(co.run(5ms));
  for (int i = 0; i < 100 && phase.load() == 0; ++i) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(phase.load(), 1);
  EXPECT_TRUE(co.run(1s));
  EXPECT_EQ(phase.load(), 2);
}

TEST(Coroutine, ExceptionIsRethrownByRun) {
  sluice::coroutine<int> co([](sluice::coroutine_control&) -> int { throw std::runtime_error("inside"); });
  EXPECT_THROW(co.run(1s), std::runtime_error);
  EXPECT_TRUE(co.done());
  EXPECT_FALSE(co.result());
}

TEST(Coroutine, BlockingChannelOperationsHonourTheBudget) {
  sluice::channel<int> in(sluice::unbounded);
  std::atomic<int> got{0};
  sluice::coroutine<int> co([&](sluice::coroutine_control&) {
    for (int i = 0; i < 3; ++i) {
      (void)in.recv();
      got++;
    }
    return got.load();
  });
  EXPECT_FALSE(co.run(10ms));  // blocked in recv
  in.send(1);                  // arrives between runs: the recv returns, then suspends
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(got.load(), 0) << "the coroutine ran outside run()";
  in.send(2);
  in.send(3);
  EXPECT_TRUE(co.run(1s));
  EXPECT_EQ(co.result(), 3);
}

TEST(Coroutine, KillEndsASuspendedCoroutine) {
  std::atomic<bool> unwound{false};
  struct guard {
    std::atomic<bool>& f;
    ~guard() { f = true; }
  };
  sluice::coroutine<int> co([&](sluice::coroutine_control& c) {
    guard g{unwound};
    for (;;) c.checkpoint();
    return 0;
  });
  EXPECT_FALSE(co.run(5ms));
  co.kill();
  EXPECT_TRUE(co.done());
  for (int i = 0; i < 500 && !unwound.load(); ++i) std::this_thread::sleep_for(1ms);
  EXPECT_TRUE(unwound.load());
}

TEST(Coroutine, VoidBody) {
  int calls = 0;
  sluice::coroutine<void> co([&](sluice::coroutine_control& c) {
    c.checkpoint();
    ++calls;
  });
  EXPECT_FALSE(co.result());
  EXPECT_TRUE(co.run(1s));
  EXPECT_TRUE(co.result().has_value());
  EXPECT_EQ(calls, 1);
}
