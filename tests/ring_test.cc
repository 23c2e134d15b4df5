// The bounded ring on its own (internal): layout, wrap-around, close and concurrency.
#include <sluice/internal/ring.hpp>

#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <optional>
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

// A fresh ring is all zero bytes from calloc: making a large one touches none of its memory
// (a channel costs what it holds, as Go's), and it works at once, across its first laps.
namespace {
long resident_kib() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return -1;
  long size = 0, resident = 0;
  int n = std::fscanf(f, "%ld %ld", &size, &resident);
  std::fclose(f);
  return n == 2 ? resident * (sysconf(_SC_PAGESIZE) / 1024) : -1;
}
}  // namespace

TEST(Ring, ALargeRingIsNotTouchedUntilFilled) {
  const long before = resident_kib();
  if (before < 0) GTEST_SKIP() << "no /proc/self/statm";
  {
    ring<long> r(std::size_t{1} << 24);  // 16 Mi slots of 16 bytes: 256 MiB of address space
#if !defined(__SANITIZE_THREAD__) && !defined(__SANITIZE_ADDRESS__)
    // (The sanitizers' own calloc writes the memory: the check holds in plain builds.)
    const long after = resident_kib();
    EXPECT_LT(after - before, 32 * 1024) << "constructing the ring wrote its slots";
#endif
    for (long i = 0; i < 1000; ++i) {
      long v = i;
      ASSERT_EQ(r.try_push(source<long>::moving(v)), status::ok);
    }
    std::optional<long> out;
    for (long i = 0; i < 1000; ++i) {
      ASSERT_EQ(r.try_pop(out), status::ok);
      ASSERT_EQ(*out, i);
    }
    EXPECT_EQ(r.try_pop(out), status::empty);
  }
  ring<int> small(2);  // fresh stamps are right for every slot, lap after lap
  std::optional<int> out;
  for (int lap = 0; lap < 5; ++lap) {
    for (int k = 0; k < 2; ++k) {
      int v = lap * 2 + k;
      ASSERT_EQ(small.try_push(source<int>::moving(v)), status::ok);
    }
    int v = -1;
    EXPECT_EQ(small.try_push(source<int>::moving(v)), status::full);
    for (int k = 0; k < 2; ++k) {
      ASSERT_EQ(small.try_pop(out), status::ok);
      EXPECT_EQ(*out, lap * 2 + k);
    }
  }
}

// A T aligned beyond operator new's default takes the aligned allocation (zeroed explicitly).
TEST(Ring, OverAlignedValues) {
  struct alignas(64) wide {
    long v;
  };
  ring<wide> r(5);
  std::optional<wide> out;
  for (long i = 0; i < 50; ++i) {
    wide w{i};
    ASSERT_EQ(r.try_push(source<wide>::moving(w)), status::ok);
    ASSERT_EQ(r.try_pop(out), status::ok);
    EXPECT_EQ(out->v, i);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(&*out) % 64, 0u);
  }
}
