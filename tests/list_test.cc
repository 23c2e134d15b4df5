// The unbounded segment list on its own (internal): block boundaries, close, concurrency.
#include <sluice/internal/list.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "test_util.hpp"

using sluice::status;
using sluice::internal::list;
using sluice::internal::source;

TEST(List, CrossesBlockBoundaries) {
  list<int> l;
  std::optional<int> out;
  for (int i = 0; i < 100; ++i) {
    int v = i;
    ASSERT_EQ(l.try_push(source<int>::moving(v)), status::ok);
  }
  EXPECT_EQ(l.size(), 100u);
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(l.try_pop(out), status::ok);
    ASSERT_EQ(*out, i);
  }
  EXPECT_EQ(l.size(), 0u);
  EXPECT_EQ(l.try_pop(out), status::empty);
}

TEST(List, DestructorFreesPartlyConsumedBlocks) {
  {
    list<sluice_test::tracked> l;
    for (long i = 0; i < 70; ++i) {
      sluice_test::tracked v(i);
      ASSERT_EQ(l.try_push(source<sluice_test::tracked>::moving(v)), status::ok);
    }
    std::optional<sluice_test::tracked> out;
    for (int i = 0; i < 40; ++i) ASSERT_EQ(l.try_pop(out), status::ok);
  }
  EXPECT_EQ(sluice_test::tracked::live.load(), 0);
}

TEST(List, CloseThenDrain) {
  list<int> l;
  int v = 3;
  ASSERT_EQ(l.try_push(source<int>::moving(v)), status::ok);
  EXPECT_TRUE(l.close());
  EXPECT_EQ(l.try_push(source<int>::moving(v)), status::closed);
  std::optional<int> out;
  EXPECT_EQ(l.try_pop(out), status::ok);
  EXPECT_EQ(l.try_pop(out), status::closed);
}

TEST(List, ConcurrentProducersAndConsumers) {
  list<long> l;
  const long n = sluice_test::scaled(100000);
  std::atomic<long> sum{0};
  std::vector<std::thread> ts;
  for (int p = 0; p < 2; ++p) {
    ts.emplace_back([&] {
      for (long i = 1; i <= n; ++i) {
        long v = i;
        ASSERT_EQ(l.try_push(source<long>::moving(v)), status::ok);
      }
    });
  }
  for (int c = 0; c < 2; ++c) {
    ts.emplace_back([&] { sluice_test::pop_n<decltype(l), long>(l, n, [&](long v) { sum.fetch_add(v); }); });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(sum.load(), 2 * (n * (n + 1) / 2));
}

// Many producers and consumers of a value with a destructor, stopping part way: every value
// is destroyed exactly once, whether a consumer took it or the list's destructor did, and
// blocks are handed between readers (the destroy bit) and through the one-block cache.
TEST(List, ConcurrentTrackedValuesAreDestroyedOnce) {
  const long per_producer = sluice_test::scaled(20000);
  std::atomic<long> taken{0};
  {
    list<sluice_test::tracked> l;
    std::vector<std::thread> ts;
    for (int p = 0; p < 3; ++p) {
      ts.emplace_back([&, p] {
        for (long i = 0; i < per_producer; ++i) {
          sluice_test::tracked v(p * per_producer + i);
          ASSERT_EQ(l.try_push(source<sluice_test::tracked>::moving(v)), status::ok);
        }
      });
    }
    for (int c = 0; c < 3; ++c) {
      ts.emplace_back([&] {  // each takes about half of one producer's share: the rest stays for the destructor
        sluice_test::pop_n<decltype(l), sluice_test::tracked>(l, per_producer / 2,
                                                              [&](sluice_test::tracked&) { taken.fetch_add(1); });
      });
    }
    for (auto& t : ts) t.join();
    EXPECT_EQ(sluice_test::tracked::live.load(), 3 * per_producer - taken.load());
  }
  EXPECT_EQ(sluice_test::tracked::live.load(), 0);
}

// pop_hint (what a blocked receiver polls) says "ready" once something was pushed, and
// "not ready" once everything was taken.
TEST(List, PopHintFollowsPushesAndPops) {
  list<int> l;
  EXPECT_FALSE(l.pop_hint());
  std::optional<int> out;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 40; ++i) {  // crosses a block boundary
      int v = i;
      ASSERT_EQ(l.try_push(source<int>::moving(v)), status::ok);
      EXPECT_TRUE(l.pop_hint());
    }
    for (int i = 0; i < 40; ++i) {
      EXPECT_TRUE(l.pop_hint());
      ASSERT_EQ(l.try_pop(out), status::ok);
    }
    EXPECT_FALSE(l.pop_hint());
  }
}
