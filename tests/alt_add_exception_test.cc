// Issue 9, point 6 (b): alternation::add is exception-safe.
//
// A failed add (here: std::bad_alloc from the N-th allocation inside it) leaves the
// alternation exactly as it was: size() unchanged, pri() and fair() run over the clauses
// added before (the failed clause never runs), and the next add gets the next index.
//
// Before the fix add counted the clause first and then allocated the clause holder and grew
// four vectors one after another: a bad_alloc part way left size() one too high, vectors of
// different lengths (the next run wrote past the end of the shorter ones) or a reference to
// the destroyed holder (the next run used freed memory, and could even perform the failed
// clause). Run it under AddressSanitizer to see the out-of-bounds and use-after-free.
#include <sluice/alt.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <new>
#include <string>

namespace {
// When positive, counts this thread's allocations down; the one that brings it to zero
// throws std::bad_alloc.
thread_local long fail_countdown = 0;
}  // namespace

void* operator new(std::size_t n) {
  if (fail_countdown > 0 && --fail_countdown == 0) throw std::bad_alloc();
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

using sluice::channel;
using sluice::status;

enum class added { on_recv, on_send_rvalue, otherwise };
std::string name(added a) {
  switch (a) {
    case added::on_recv: return "add(on_recv)";
    case added::on_send_rvalue: return "add(on_send(rvalue))";
    case added::otherwise: return "add(otherwise)";
  }
  return "?";
}

// One attempt: an alternation with `pre` clauses (on_recv(a) first, then send clauses on a
// full channel and receive clauses on an empty one: never ready), plus an otherwise unless
// the otherwise is what is being added; then `what` is added with its N-th allocation
// failing. Returns false once N exceeds the allocations the add makes (it succeeded).
bool attempt(added what, int pre, long n) {
  SCOPED_TRACE(name(what) + " after " + std::to_string(pre) + " clauses, allocation " + std::to_string(n) + " fails");
  channel<int> a(4), full(1), idle(1), b(4), s(4), late(4);
  EXPECT_EQ(full.try_send(0), status::ok);  // a send clause on it is never ready
  EXPECT_EQ(b.try_send(77), status::ok);    // the failed receive clause would be ready...
  // ...and so would the failed send clause (s has room).
  int got_a = -1, got_b = -1, got_late = -1;
  bool sent_s = false, other_ran = false, idle_ran = false;

  sluice::alternation alt;
  for (int k = 0; k < pre; ++k) {
    if (k == 0) {
      alt.add(sluice::on_recv(a, [&](int v) { got_a = v; }));
    } else if (k % 2) {
      alt.add(sluice::on_send(full, k, [&] { idle_ran = true; }));
    } else {
      alt.add(sluice::on_recv(idle, [&](int) { idle_ran = true; }));
    }
  }
  const bool with_otherwise = what != added::otherwise;
  std::size_t other_index = sluice::npos;
  if (with_otherwise) other_index = alt.add(sluice::otherwise([&] { other_ran = true; }));
  const std::size_t size0 = alt.size();

  bool threw = false;
  std::size_t index = sluice::npos;
  fail_countdown = n;
  try {
    switch (what) {
      case added::on_recv: index = alt.add(sluice::on_recv(b, [&](int v) { got_b = v; })); break;
      case added::on_send_rvalue: index = alt.add(sluice::on_send(s, 99, [&] { sent_s = true; })); break;
      case added::otherwise: index = alt.add(sluice::otherwise([&] { other_ran = true; })); break;
    }
  } catch (const std::bad_alloc&) {
    threw = true;
  }
  fail_countdown = 0;
  if (!threw) {
    EXPECT_EQ(index, size0);
    EXPECT_EQ(alt.size(), size0 + 1);
    return false;
  }

  // Nothing was added.
  EXPECT_EQ(alt.size(), size0) << "a failed add changed size()";

  // fair() over the clauses added before: with `a` ready it must pick clause 0 (never the
  // failed clause, whose channel is ready too).
  if (pre > 0) {
    for (int round = 0; round < 8; ++round) {
      EXPECT_EQ(a.try_send(round), status::ok);
      got_a = -1;
      sluice::alt_result r = alt.fair();
      EXPECT_EQ(r.index, 0u) << "fair() round " << round;
      EXPECT_EQ(r.status, status::ok);
      EXPECT_EQ(got_a, round);
      if (r.index != 0) (void)a.try_recv();
    }
    EXPECT_EQ(a.try_send(100), status::ok);
    sluice::alt_result r = alt.pri();
    EXPECT_EQ(r.index, 0u);
    EXPECT_EQ(r.status, status::ok);
    EXPECT_EQ(got_a, 100);
  }
  // Nothing ready among the clauses added before: otherwise runs.
  if (with_otherwise) {
    other_ran = false;
    sluice::alt_result r = alt.pri();
    EXPECT_EQ(r.index, other_index);
    EXPECT_EQ(r.status, status::timeout);
    EXPECT_TRUE(other_ran);
    other_ran = false;
    r = alt.fair();
    EXPECT_EQ(r.index, other_index);
    EXPECT_EQ(r.status, status::timeout);
    EXPECT_TRUE(other_ran);
  }
  // The failed clause never ran: b still holds its item, s got nothing.
  EXPECT_EQ(got_b, -1);
  EXPECT_FALSE(sent_s);
  EXPECT_EQ(b.size(), 1u);
  EXPECT_EQ(s.size(), 0u);
  EXPECT_FALSE(idle_ran);

  // The next add works and gets the next index.
  EXPECT_EQ(late.try_send(5), status::ok);
  std::size_t late_index = alt.add(sluice::on_recv(late, [&](int v) { got_late = v; }));
  EXPECT_EQ(late_index, size0);
  EXPECT_EQ(alt.size(), size0 + 1);
  sluice::alt_result r = alt.pri();
  EXPECT_EQ(r.index, size0);
  EXPECT_EQ(r.status, status::ok);
  EXPECT_EQ(got_late, 5);
  return true;
}

void run_all(added what) {
  for (int pre : {0, 1, 2, 3, 4, 8}) {
    if (what == added::otherwise && pre == 0) continue;  // nothing to run then
    long n = 1;
    for (; n <= 16 && attempt(what, pre, n); ++n) {
    }
    EXPECT_LE(n, 16) << name(what) << " after " << pre << " clauses: still failing at allocation 16";
    EXPECT_GE(n, 2) << name(what) << ": the first allocation did not fail";
  }
}

// Issue 9, point 6 (b). Before: size() grew although the add threw; a bad_alloc from the
// clause vectors left a clause reference to the freed holder (fair() could pick it: use
// after free, and it took b's item) or vectors of different lengths (out of bounds).
TEST(AltAddException, FailedAddOfReceiveClauseLeavesAlternationAsItWas) { run_all(added::on_recv); }

// Issue 9, point 6 (b): as above, for a send clause that owns its (rvalue) value.
TEST(AltAddException, FailedAddOfSendClauseLeavesAlternationAsItWas) { run_all(added::on_send_rvalue); }

// Issue 9, point 6 (b): as above, for otherwise. Before: size() grew and every later index
// was one too high.
TEST(AltAddException, FailedAddOfOtherwiseLeavesAlternationAsItWas) { run_all(added::otherwise); }

}  // namespace
