// "No heap allocation per call for up to 16 clauses": counts operator new on the calling
// thread across pri_alt / fair_alt calls, non-blocking and blocking.
#include <sluice/alt.hpp>

#include <gtest/gtest.h>

#include <array>
#include <cstdlib>
#include <new>
#include <thread>
#include <utility>

namespace {
thread_local long allocations = 0;
}

void* operator new(std::size_t n) {
  ++allocations;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

template <std::size_t... I>
sluice::alt_result alt16(std::array<sluice::channel<int>, 16>& cs, long& sum, bool fair, std::index_sequence<I...>) {
  if (fair) return sluice::fair_alt(sluice::on_recv(cs[I], [&](int v) { sum += v; })...);
  return sluice::pri_alt(sluice::on_recv(cs[I], [&](int v) { sum += v; })..., sluice::otherwise([] {}));
}

TEST(AltAlloc, NoHeapAllocationPerCallUpTo16Clauses) {
  std::array<sluice::channel<int>, 16> cs;
  for (std::size_t i = 0; i < cs.size(); ++i) cs[i] = i % 2 ? sluice::channel<int>() : sluice::channel<int>(4);
  long sum = 0;
  // Non-blocking, nothing ready.
  long before = allocations;
  for (int i = 0; i < 100; ++i) (void)alt16(cs, sum, false, std::make_index_sequence<16>{});
  EXPECT_EQ(allocations - before, 0);
  // Blocking: another thread sends on a rendezvous channel while we wait in fair_alt.
  std::thread sender([&] {
    for (int i = 0; i < 100; ++i) cs[15].send(1);
  });
  before = allocations;
  for (int i = 0; i < 100; ++i) (void)alt16(cs, sum, true, std::make_index_sequence<16>{});
  EXPECT_EQ(allocations - before, 0);
  sender.join();
  EXPECT_EQ(sum, 100);
}

TEST(AltAlloc, DynamicAlternationAllocatesOnlyInAdd) {
  std::array<sluice::channel<int>, 32> cs;
  for (auto& c : cs) c = sluice::channel<int>(1);
  sluice::alternation alt;
  for (auto& c : cs) alt.add(sluice::on_recv(c, [](int) {}));
  alt.add(sluice::otherwise([] {}));
  long before = allocations;
  for (int i = 0; i < 100; ++i) (void)alt.pri();
  EXPECT_EQ(allocations - before, 0);
}

}  // namespace
