#include <sluice/coroutine.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
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
  // A window can pass before the coroutine's thread is even scheduled (a loaded machine).
  for (int i = 0; i < 200 && progress.load() == 0; ++i) EXPECT_FALSE(co.run(5ms));
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
  std::atomic<bool> started{false};
  std::atomic<int> phase{0};
  sluice::coroutine<int> co([&](sluice::coroutine_control& c) {
    c.enable_suspend(false);
    started = true;
    std::this_thread::sleep_for(30ms);
    c.checkpoint();  // budget spent, but suspension is off: go on
    phase = 1;
    c.enable_suspend(true);
    c.checkpoint();
    phase = 2;
    return 0;
  });
  // A window can pass before the coroutine's thread is even scheduled (a loaded machine).
  for (int i = 0; i < 200 && !started.load(); ++i) EXPECT_FALSE(co.run(5ms));
  ASSERT_TRUE(started.load());
  for (int i = 0; i < 1000 && phase.load() == 0; ++i) std::this_thread::sleep_for(1ms);
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
  std::atomic<bool> started{false};
  std::atomic<bool> unwound{false};
  struct guard {
    std::atomic<bool>& f;
    ~guard() { f = true; }
  };
  sluice::coroutine<int> co([&](sluice::coroutine_control& c) {
    guard g{unwound};
    started = true;
    for (;;) c.checkpoint();
    return 0;
  });
  // A window can pass before the coroutine's thread is even scheduled (a loaded machine).
  for (int i = 0; i < 200 && !started.load(); ++i) EXPECT_FALSE(co.run(5ms));
  ASSERT_TRUE(started.load());
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

// Issue 9, point 5: after kill() returns, result() is empty for good, even when the body
// (between checkpoints, past its budget) goes on to return a value right after the kill. It
// used to read that value with no synchronization (TSan) and turn from empty to 42.
TEST(Coroutine, KillThenResultStaysEmpty) {
  struct flags {
    std::atomic<bool> started{false};
    std::atomic<bool> release{false};
    std::atomic<bool> returning{false};
  };
  auto f = std::make_shared<flags>();
  sluice::coroutine<int> co([f](sluice::coroutine_control&) {
    f->started = true;
    // No checkpoint: it runs on past its budget, as code between checkpoints does.
    for (int i = 0; i < 5000 && !f->release.load(); ++i) std::this_thread::sleep_for(1ms);
    f->returning = true;
    return 42;
  });
  for (int i = 0; i < 200 && !f->started.load(); ++i) EXPECT_FALSE(co.run(5ms));
  ASSERT_TRUE(f->started.load());
  co.kill();
  EXPECT_TRUE(co.done());
  EXPECT_FALSE(co.result());
  f->release = true;  // the body now finishes, right after the kill
  for (int i = 0; i < 5000 && !f->returning.load(); ++i) std::this_thread::sleep_for(1ms);
  ASSERT_TRUE(f->returning.load());
  for (int i = 0; i < 100; ++i) {  // it has returned (or is about to): watch for 100 ms
    ASSERT_FALSE(co.result()) << "a killed coroutine's result turned into a value";
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_TRUE(co.done());
}

// Issue 9, point 5: run() after kill() returns true and neither reads nor rethrows the
// exception that the still-unwinding body stores (it used to, racing with the store).
TEST(Coroutine, RunAfterKillNeitherRethrowsNorRaces) {
  struct flags {
    std::atomic<bool> started{false};
    std::atomic<bool> release{false};
    std::atomic<bool> throwing{false};
  };
  auto f = std::make_shared<flags>();
  sluice::coroutine<int> co([f](sluice::coroutine_control&) -> int {
    f->started = true;
    for (int i = 0; i < 5000 && !f->release.load(); ++i) std::this_thread::sleep_for(1ms);
    f->throwing = true;
    throw std::runtime_error("thrown after the kill");
  });
  for (int i = 0; i < 200 && !f->started.load(); ++i) EXPECT_FALSE(co.run(5ms));
  ASSERT_TRUE(f->started.load());
  co.kill();
  f->release = true;
  for (int i = 0; i < 5000 && !f->throwing.load(); ++i) std::this_thread::sleep_for(1ms);
  ASSERT_TRUE(f->throwing.load());
  for (int i = 0; i < 100; ++i) {  // watch for 100 ms while the exception is stored
    bool done = false;
    ASSERT_NO_THROW(done = co.run(1ms)) << "run() rethrew a killed coroutine's exception";
    ASSERT_TRUE(done);
    ASSERT_FALSE(co.result());
    std::this_thread::sleep_for(1ms);
  }
}

// Issue 9, point 5: move-assigning over a coroutine used to drop it without a kill, leaving
// its thread parked forever (and whatever its body holds alive). It is now killed and
// reclaimed as the destructor does: the body's captures are released within a bounded time.
TEST(Coroutine, MoveAssignKillsTheOverwritten) {
  auto spin = [](sluice::coroutine_control& c) {
    for (long i = 0; i < 100000000; ++i) c.checkpoint();
    return -1;
  };
  auto held_alive = [](std::weak_ptr<int>& w) {
    for (int i = 0; i < 2000 && !w.expired(); ++i) std::this_thread::sleep_for(1ms);
    return !w.expired();
  };
  // Overwritten while suspended at a checkpoint, and overwritten before it ever ran.
  for (bool ran : {true, false}) {
    auto probe = std::make_shared<int>(1);
    std::weak_ptr<int> w = probe;
    sluice::coroutine<int> co(
        [p = std::move(probe), spin](sluice::coroutine_control& c) { return *p + spin(c); });
    if (ran) {
      EXPECT_FALSE(co.run(2ms));
    }
    co = sluice::coroutine<int>([](sluice::coroutine_control&) { return 5; });
    EXPECT_FALSE(held_alive(w)) << "the overwritten coroutine (ran: " << ran << ") was not reclaimed";
    EXPECT_FALSE(co.done());
    EXPECT_TRUE(co.run(1s));
    EXPECT_EQ(co.result(), 5);
  }
}

TEST(Coroutine, SelfMoveAssignIsHarmless) {
  sluice::coroutine<int> co([](sluice::coroutine_control& c) {
    c.checkpoint();
    return 3;
  });
  auto& alias = co;
  co = std::move(alias);
  EXPECT_FALSE(co.done());
  EXPECT_TRUE(co.run(1s));
  EXPECT_EQ(co.result(), 3);
}
