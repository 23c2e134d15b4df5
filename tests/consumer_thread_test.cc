#include <sluice/consumer_thread.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

TEST(ConsumerThread, InitFirstThenEachArgumentSetInOrder) {
  std::vector<std::string> log;  // written only by the consumer thread until stop()
  std::thread::id init_thread;
  {
    auto [worker, enqueue] = sluice::consumer_thread(
        [&](std::string s, int n) { log.push_back(s + std::to_string(n)); },
        [&] {
          init_thread = std::this_thread::get_id();
          log.push_back("init");
        });
    for (int i = 0; i < 100; ++i) EXPECT_EQ(enqueue("m", i), sluice::status::ok);
    worker.stop();  // drains what was accepted, then joins
  }
  ASSERT_EQ(log.size(), 101u);
  EXPECT_EQ(log[0], "init");
  EXPECT_EQ(log[1], "m0");
  EXPECT_EQ(log[100], "m99");
  EXPECT_NE(init_thread, std::this_thread::get_id());
}

TEST(ConsumerThread, InitIsOptional) {
  std::atomic<int> sum{0};
  {
    auto [worker, enqueue] = sluice::consumer_thread([&](int x) { sum += x; });
    enqueue(1);
    enqueue(2);
  }  // destruction stops and joins, after the accepted items
  EXPECT_EQ(sum.load(), 3);
}

TEST(ConsumerThread, ThrowEndsTheThreadAndLaterEnqueuesReportClosed) {
  auto [worker, enqueue] = sluice::consumer_thread([](int x) {
    if (x == 2) throw std::runtime_error("stop");
  });
  EXPECT_EQ(enqueue(1), sluice::status::ok);
  EXPECT_EQ(enqueue(2), sluice::status::ok);
  sluice::status s = sluice::status::ok;
  for (int i = 0; i < 1000 && s == sluice::status::ok; ++i) {
    std::this_thread::sleep_for(1ms);
    s = enqueue(3);
  }
  EXPECT_EQ(s, sluice::status::closed);
}

TEST(ConsumerThread, EnqueueFromManyThreads) {
  std::atomic<long> sum{0};
  {
    auto [worker, enqueue] = sluice::consumer_thread([&](long x) { sum += x; });
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; ++t) {
      ts.emplace_back([e = enqueue] {
        for (long i = 1; i <= 1000; ++i) e(i);
      });
    }
    for (auto& t : ts) t.join();
  }
  EXPECT_EQ(sum.load(), 4 * 500500L);
}
