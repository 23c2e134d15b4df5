// The node layer's outbox (src/node/byte_queue.hpp): bytes leave in order, whole or in part,
// across blocks, and size() always says how many are queued.
#include "byte_queue.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace {

using sluice::mp::net::byte_queue;

std::string contents(byte_queue& q) {
  std::string all;
  for (const auto& b : q.buffers()) all.append(static_cast<const char*>(b.data()), b.size());
  return all;
}

TEST(ByteQueue, BytesLeaveInOrderAcrossBlocksWholeOrInPart) {
  std::mt19937 rng(7);
  byte_queue q;
  std::string model;
  char next = 'a';
  for (int step = 0; step < 20000; ++step) {
    if (rng() % 3 != 0) {  // append 1 byte to 20 KiB
      std::string s(1 + rng() % (20 * 1024), next);
      next = next == 'z' ? 'a' : static_cast<char>(next + 1);
      if (rng() % 2) q.append(s); else q.tail() += s;
      model += s;
    } else {  // consume a part, sometimes all
      std::size_t n = model.empty() ? 0 : rng() % (model.size() + 1);
      q.consume(n);
      model.erase(0, n);
    }
    ASSERT_EQ(q.size(), model.size()) << "step " << step;
    if (step % 97 == 0) ASSERT_EQ(contents(q), model) << "step " << step;
    if (model.size() > (4u << 20)) {
      q.clear();
      model.clear();
    }
  }
  EXPECT_EQ(contents(q), model);
}

TEST(ByteQueue, ABurstGrowsByBlocksAndASwapMovesEverything) {
  byte_queue q, flight;
  for (int i = 0; i < 100000; ++i) q.append("0123456789");
  EXPECT_EQ(q.size(), 1000000u);
  EXPECT_GE(q.buffers().size(), 1000000u / byte_queue::block_size);
  flight.swap(q);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(flight.size(), 1000000u);
  flight.clear();
  EXPECT_TRUE(flight.empty());
  EXPECT_TRUE(flight.buffers().empty());
}

}  // namespace
