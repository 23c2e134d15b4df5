// Alternation: the API and semantics of the alternation issue.
#include <sluice/alt.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "test_util.hpp"

using namespace std::chrono_literals;
using sluice::alternation;
using sluice::channel;
using sluice::npos;
using sluice::on_recv;
using sluice::on_send;
using sluice::otherwise;
using sluice::status;

TEST(PriAlt, FirstReadyClauseInListedOrder) {
  channel<int> a(1), b(1);
  a.send(1);
  b.send(2);
  int got = 0;
  auto r = sluice::pri_alt(on_recv(a, [&](int v) { got = v; }), on_recv(b, [&](int v) { got = v; }));
  EXPECT_EQ(r.index, 0u);
  EXPECT_EQ(r.status, status::ok);
  EXPECT_EQ(got, 1);
  r = sluice::pri_alt(on_recv(a, [&](int v) { got = v; }), on_recv(b, [&](int v) { got = v; }));
  EXPECT_EQ(r.index, 1u);
  EXPECT_EQ(got, 2);
}

TEST(PriAlt, BlocksUntilAClauseCanProceed) {
  channel<int> a, b;
  std::thread t([&] {
    std::this_thread::sleep_for(20ms);
    b.send(7);
  });
  int got = 0;
  auto r = sluice::pri_alt(on_recv(a, [&](int v) { got = v; }), on_recv(b, [&](int v) { got = v + 100; }));
  EXPECT_EQ(r.index, 1u);
  EXPECT_EQ(got, 107);
  t.join();
}

TEST(PriAlt, SendClauseRunsHandlerAfterCommit) {
  channel<std::string> c(1);
  bool ran = false;
  auto r = sluice::pri_alt(on_send(c, std::string("x"), [&] { ran = true; }));
  EXPECT_EQ(r.index, 0u);
  EXPECT_TRUE(ran);
  EXPECT_EQ(*c.recv(), "x");
}

TEST(PriAlt, SendValueMovedOnlyIfCommitted) {
  channel<std::unique_ptr<int>> full(1), ready(1);
  full.send(std::make_unique<int>(0));
  auto p = std::make_unique<int>(5);
  auto r = sluice::pri_alt(on_send(full, std::move(p), [] {}), on_send(ready, std::make_unique<int>(6), [] {}));
  EXPECT_EQ(r.index, 1u);
  ASSERT_TRUE(p);  // the clause that did not commit kept its value
  r = sluice::pri_alt(on_send(full, std::move(p), [] {}), otherwise([] {}));
  EXPECT_EQ(r.status, status::timeout);
  ASSERT_TRUE(p);
}

TEST(PriAlt, LvalueSendIsCopiedNeverMoved) {
  channel<std::string> c(1);
  std::string s = "keep";
  (void)sluice::pri_alt(on_send(c, s, [] {}));
  EXPECT_EQ(s, "keep");
  EXPECT_EQ(*c.recv(), "keep");
}

TEST(Guards, FalseGuardRemovesClause) {
  channel<int> a(1), b(1);
  a.send(1);
  b.send(2);
  auto r = sluice::pri_alt(on_recv(a, [](int) {}).when(false), on_recv(b, [](int) {}));
  EXPECT_EQ(r.index, 1u);
}

TEST(Guards, AllFalseRunsOtherwiseAtOnce) {
  channel<int> a;
  bool other = false;
  auto t0 = std::chrono::steady_clock::now();
  auto r = sluice::pri_alt(on_recv(a, [](int) {}).when(false), otherwise(1s, [&] { other = true; }));
  EXPECT_TRUE(other);
  EXPECT_EQ(r.index, 1u);
  EXPECT_EQ(r.status, status::timeout);
  EXPECT_LT(sluice_test::since(t0), 100ms);
}

TEST(Guards, NothingAtAllReturnsNposAtOnce) {
  channel<int> a;
  auto r = sluice::pri_alt(on_recv(a, [](int) {}).when(false));
  EXPECT_EQ(r.index, npos);
  EXPECT_EQ(sluice::pri_alt().index, npos);
  EXPECT_EQ(sluice::fair_alt().index, npos);
}

TEST(Otherwise, ZeroTimeoutWhenNothingReady) {
  channel<int> a, b(1);
  bool other = false;
  auto r = sluice::pri_alt(on_recv(a, [](int) {}), on_recv(b, [](int) {}), otherwise([&] { other = true; }));
  EXPECT_EQ(r.index, 2u);
  EXPECT_EQ(r.status, status::timeout);
  EXPECT_TRUE(other);
}

TEST(Otherwise, IndexCountsEveryArgumentWherever) {
  channel<int> a(1);
  a.send(1);
  auto r = sluice::pri_alt(otherwise([] {}), on_recv(a, [](int) {}));
  EXPECT_EQ(r.index, 1u);
  r = sluice::pri_alt(otherwise([] {}), on_recv(a, [](int) {}));
  EXPECT_EQ(r.index, 0u);
}

TEST(Otherwise, TimeoutIsAccurate) {
  channel<int> a;
  auto t0 = std::chrono::steady_clock::now();
  auto r = sluice::pri_alt(on_recv(a, [](int) {}), otherwise(50ms, [] {}));
  auto took = sluice_test::since(t0);
  EXPECT_EQ(r.status, status::timeout);
  EXPECT_GE(took, 50ms);
  EXPECT_LT(took, 150ms);
}

TEST(Closed, RecvClauseWithValueHandlerIsNotCalled) {
  channel<int> a(1);
  a.close();
  bool called = false;
  auto r = sluice::pri_alt(on_recv(a, [&](int) { called = true; }));
  EXPECT_EQ(r.index, 0u);
  EXPECT_EQ(r.status, status::closed);
  EXPECT_FALSE(called);
}

TEST(Closed, RecvClauseWithResultHandlerSeesClosed) {
  channel<int> a;
  status seen = status::ok;
  std::thread t([&] {
    std::this_thread::sleep_for(20ms);
    a.close();
  });
  auto r = sluice::pri_alt(on_recv(a, [&](sluice::recv_result<int> res) { seen = res.status(); }));
  t.join();
  EXPECT_EQ(r.status, status::closed);
  EXPECT_EQ(seen, status::closed);
}

TEST(Closed, BufferedItemsComeBeforeClosed) {
  channel<int> a(2);
  a.send(1);
  a.close();
  int got = 0;
  auto r = sluice::pri_alt(on_recv(a, [&](int v) { got = v; }));
  EXPECT_EQ(r.status, status::ok);
  EXPECT_EQ(got, 1);
  r = sluice::pri_alt(on_recv(a, [&](int v) { got = v; }));
  EXPECT_EQ(r.status, status::closed);
}

TEST(Closed, SendClauseKeepsValueAndSkipsHandler) {
  for (int k = 0; k < 2; ++k) {
    channel<std::unique_ptr<int>> c = k == 0 ? channel<std::unique_ptr<int>>() : channel<std::unique_ptr<int>>(1);
    c.close();
    auto p = std::make_unique<int>(1);
    bool called = false;
    auto r = sluice::pri_alt(on_send(c, std::move(p), [&] { called = true; }));
    EXPECT_EQ(r.status, status::closed);
    EXPECT_FALSE(called);
    ASSERT_TRUE(p);
  }
}

TEST(Closed, BlockedSendClauseWokenByClose) {
  channel<std::unique_ptr<int>> c;
  auto p = std::make_unique<int>(1);
  std::thread t([&] {
    std::this_thread::sleep_for(20ms);
    c.close();
  });
  auto r = sluice::pri_alt(on_send(c, std::move(p), [] {}));
  t.join();
  EXPECT_EQ(r.status, status::closed);
  ASSERT_TRUE(p);
}

TEST(Kinds, EveryChannelKindWorks) {
  for (auto k : {sluice_test::kind::rendezvous, sluice_test::kind::bounded1, sluice_test::kind::bounded64,
                 sluice_test::kind::unbounded}) {
    auto c = sluice_test::make<int>(k);
    const int n = 1000;
    std::thread t([&] {
      for (int i = 0; i < n; ++i) (void)sluice::pri_alt(on_send(c, i, [] {}));
      c.close();
    });
    long sum = 0;
    bool done = false;
    while (!done) {
      (void)sluice::fair_alt(on_recv(c, [&](sluice::recv_result<int> r) {
        if (r) sum += *r; else done = true;
      }));
    }
    t.join();
    EXPECT_EQ(sum, static_cast<long>(n) * (n - 1) / 2) << sluice_test::name(k);
  }
}

TEST(Kinds, LossyChannels) {
  channel<int> oldest(1, sluice::overflow::drop_oldest), newest(1, sluice::overflow::drop_newest);
  oldest.send(1);
  newest.send(1);
  auto r = sluice::pri_alt(on_send(newest, 2, [] {}), on_send(oldest, 2, [] {}));
  EXPECT_EQ(r.index, 1u);  // drop_oldest is always ready; drop_newest waits for room
  EXPECT_EQ(*oldest.recv(), 2);
  r = sluice::pri_alt(on_send(newest, 3, [] {}), otherwise([] {}));
  EXPECT_EQ(r.status, status::timeout);
}

TEST(Fairness, UniformAmongReadyClausesWithinGoBound) {
  // Go's TestSelectFairness: with k always-ready clauses, each count must be within 10
  // standard deviations of trials/k.
  constexpr int k = 4;
  const int trials = 10000;
  std::vector<channel<int>> cs;
  for (int i = 0; i < k; ++i) {
    cs.emplace_back(trials + 1);
    for (int j = 0; j < trials; ++j) cs.back().send(j);
  }
  int counts[k] = {};
  for (int t = 0; t < trials; ++t) {
    auto r = sluice::fair_alt(on_recv(cs[0], [](int) {}), on_recv(cs[1], [](int) {}), on_recv(cs[2], [](int) {}),
                              on_recv(cs[3], [](int) {}));
    ++counts[r.index];
  }
  const double mean = double(trials) / k, sd = std::sqrt(trials * (1.0 / k) * (1 - 1.0 / k));
  for (int i = 0; i < k; ++i) EXPECT_LT(std::abs(counts[i] - mean), 10 * sd) << "clause " << i;
}

TEST(Fairness, PriAltIsNotFair) {
  channel<int> a(10), b(10);
  for (int i = 0; i < 10; ++i) {
    a.send(i);
    b.send(i);
  }
  for (int i = 0; i < 10; ++i) EXPECT_EQ(sluice::pri_alt(on_recv(a, [](int) {}), on_recv(b, [](int) {})).index, 0u);
}

TEST(Alternation, DynamicClauses) {
  std::vector<channel<int>> cs;
  for (int i = 0; i < 8; ++i) cs.emplace_back(1);
  alternation alt;
  int got = -1;
  for (int i = 0; i < 8; ++i) EXPECT_EQ(alt.add(on_recv(cs[i], [&, i](int) { got = i; })), static_cast<std::size_t>(i));
  EXPECT_EQ(alt.add(otherwise([&] { got = 100; })), 8u);
  EXPECT_THROW(alt.add(otherwise([] {})), std::logic_error);
  cs[5].send(1);
  auto r = alt.pri();
  EXPECT_EQ(r.index, 5u);
  EXPECT_EQ(got, 5);
  r = alt.fair();  // a second round over the same clauses
  EXPECT_EQ(r.index, 8u);
  EXPECT_EQ(r.status, status::timeout);
  EXPECT_EQ(got, 100);
}

TEST(Alternation, OwnsRvalueSendValuesAndChannels) {
  alternation alt;
  channel<std::string>* raw;
  {
    channel<std::string> c(1);
    alt.add(on_send(c, std::string("owned"), [] {}));
    raw = nullptr;
    (void)raw;
  }  // the alternation keeps the channel alive; the temporary string was moved in
  auto r = alt.pri();
  EXPECT_EQ(r.status, status::ok);
}

TEST(Alternation, LargeClauseCount) {
  const int k = 1024;
  std::vector<channel<int>> cs;
  for (int i = 0; i < k; ++i) cs.emplace_back(1);
  alternation alt;
  int got = -1;
  for (int i = 0; i < k; ++i) alt.add(on_recv(cs[i], [&, i](int) { got = i; }));
  std::thread t([&] {
    std::this_thread::sleep_for(10ms);
    cs[k - 1].send(1);
  });
  auto r = alt.fair();
  t.join();
  EXPECT_EQ(r.index, static_cast<std::size_t>(k - 1));
  EXPECT_EQ(got, k - 1);
}

TEST(Alternation, GuardedClausesAreSkipped) {
  channel<int> a(1), b(1);
  a.send(1);
  b.send(2);
  alternation alt;
  alt.add(on_recv(a, [](int) {}).when(false));
  alt.add(on_recv(b, [](int) {}));
  EXPECT_EQ(alt.pri().index, 1u);
}

TEST(Handlers, NullaryRecvHandler) {
  channel<int> a(1);
  a.send(1);
  bool ran = false;
  auto r = sluice::pri_alt(on_recv(a, [&] { ran = true; }));
  EXPECT_EQ(r.status, status::ok);
  EXPECT_TRUE(ran);
}

TEST(Handlers, ExceptionPropagatesAfterCommit) {
  channel<int> a(1);
  a.send(1);
  EXPECT_THROW((void)sluice::pri_alt(on_recv(a, [](int) { throw std::runtime_error("boom"); })), std::runtime_error);
  EXPECT_EQ(a.size(), 0u);  // the receive happened
}

TEST(Handlers, ValueHandlerFormsAllWork) {
  channel<std::string> a(4);
  for (int i = 0; i < 4; ++i) a.send(std::string("v") + std::to_string(i));
  std::string got;
  (void)sluice::pri_alt(on_recv(a, [&](std::string v) { got += v; }));
  (void)sluice::pri_alt(on_recv(a, [&](const std::string& v) { got += v; }));
  (void)sluice::pri_alt(on_recv(a, [&](std::string&& v) { got += v; }));
  (void)sluice::pri_alt(on_recv(a, [&](std::string& v) { got += v; }));
  EXPECT_EQ(got, "v0v1v2v3");
}

// on_recv(ch) without a handler receives and drops the value (Go's `case <-ch:`).
TEST(Alt, OnRecvWithoutAHandlerDropsTheValue) {
  sluice::channel<int> a(2);
  ASSERT_EQ(a.send(7), sluice::status::ok);
  auto r = sluice::pri_alt(sluice::on_recv(a), sluice::otherwise([] {}));
  EXPECT_EQ(r.index, 0u);
  EXPECT_EQ(r.status, sluice::status::ok);
  EXPECT_EQ(a.size(), 0u);
  a.close();
  r = sluice::fair_alt(sluice::on_recv(a));
  EXPECT_EQ(r.index, 0u);
  EXPECT_EQ(r.status, sluice::status::closed);
  sluice::alternation alt;
  sluice::channel<int> b(1);
  alt.add(sluice::on_recv(b));
  ASSERT_EQ(b.send(1), sluice::status::ok);
  EXPECT_EQ(alt.pri().index, 0u);
  EXPECT_EQ(b.size(), 0u);
}
