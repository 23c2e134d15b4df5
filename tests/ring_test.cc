// The bounded ring on its own (internal): layout, wrap-around, close and concurrency.
#include <sluice/internal/ring.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "test_util.hpp"

using sluice::status;
using sluice::internal::ring;
using sluice::internal::source;

TEST(Ring, WrapsAroundManyLaps) {
  ring<int> r(3);
  std::optional<int> out;
  for (int i = 0; i < 1000; ++i) {
    int v = i;
    ASSERT_EQ(r.try_push(source<int>::moving(v)), status::ok);
    ASSERT_EQ(r.size(), 1u);
    ASSERT_EQ(r.try_pop(out), status::ok);
    ASSERT_EQ(*out, i);
  }
  EXPECT_EQ(r.try_pop(out), status::empty);
}

TEST(Ring, CloseKeepsItemsThenReportsClosed) {
  ring<int> r(4);
  int v = 1;
  ASSERT_EQ(r.try_push(source<int>::moving(v)), status::ok);
  EXPECT_TRUE(r.close());
  EXPECT_FALSE(r.close());
  EXPECT_EQ(r.try_push(source<int>::moving(v)), status::closed);
  std::optional<int> out;
  EXPECT_EQ(r.try_pop(out), status::ok);
  EXPECT_EQ(r.try_pop(out), status::closed);
  EXPECT_TRUE(r.can_pop());
  EXPECT_TRUE(r.can_push());
}

TEST(Ring, ConcurrentPushPopKeepsEveryValue) {
  ring<long> r(7);
  const long n = sluice_test::scaled(100000);
  std::atomic<long> sum{0};
  std::vector<std::thread> ts;
  for (int p = 0; p < 2; ++p) {
    ts.emplace_back([&] {
      for (long i = 1; i <= n; ++i) {
        long v = i;
        while (r.try_push(source<long>::moving(v)) != status::ok) std::this_thread::yield();
      }
    });
  }
  for (int c = 0; c < 2; ++c) {
    ts.emplace_back([&] { sluice_test::pop_n<decltype(r), long>(r, n, [&](long v) { sum.fetch_add(v); }); });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(sum.load(), 2 * (n * (n + 1) / 2));
}
