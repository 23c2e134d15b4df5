// The node layer's per-subscriber strand (src/node/serial_calls.hpp): calls run in push
// order, never two at once, and a call that throws does not jam the queue.
#include "serial_calls.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

namespace {

using sluice::mp::net::serial_calls;

TEST(SerialCalls, CallsRunInPushOrderOneAtATime) {
  serial_calls q;
  std::vector<int> order;
  std::atomic<int> inside{0};
  std::atomic<bool> overlapped{false};
  std::vector<std::thread> drains;
  for (int i = 0; i < 2000; ++i) {
    bool start = q.push([&, i] {
      if (inside.fetch_add(1) != 0) overlapped = true;
      order.push_back(i);
      inside.fetch_sub(1);
    });
    if (start) drains.emplace_back([&q] { q.drain(); });  // as a posted drain task would
  }
  for (auto& t : drains) t.join();
  EXPECT_FALSE(overlapped.load());
  ASSERT_EQ(order.size(), 2000u);
  for (int i = 0; i < 2000; ++i) ASSERT_EQ(order[i], i);
}

TEST(SerialCalls, AThrowingCallEndsItsDrainAndTheNextPushStartsAnother) {
  serial_calls q;
  int ran = 0;
  EXPECT_TRUE(q.push([] { throw std::runtime_error("boom"); }));
  EXPECT_FALSE(q.push([&] { ++ran; }));  // queued behind the drain to come
  EXPECT_THROW(q.drain(), std::runtime_error);
  EXPECT_TRUE(q.push([&] { ++ran; }));  // not jammed: this push starts a drain
  q.drain();
  EXPECT_EQ(ran, 2);
}

}  // namespace
