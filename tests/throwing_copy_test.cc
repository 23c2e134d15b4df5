// Issue 9, point 1: a send whose copy (or conversion) throws, or runs slowly.
//
// The value is copied in the sender's thread before anything is committed, then moved in.
// So a throwing copy propagates to the caller of that send and leaves the channel as it was:
// later sends and receives work, try_recv does not block, the channel's destructor destroys
// exactly the values it holds, and a partner waiting on a rendezvous is not disturbed (it
// times out at its own deadline; no exception is thrown in its thread). A slow copy holds up
// nobody but its sender.
//
// Before the fix an lvalue send copied after claiming the slot or the partner: a throwing
// copy wedged a buffered channel for good (the reserved slot was never written, so every
// later receive, try_recv included, spun forever, and destroying the channel ran ~T on
// storage that held no value); on a rendezvous the claimed partner was never woken (its
// recv_for ignored its deadline), and a waiting sender's exception was thrown in the
// receiver's thread; a slow copy made try_recv (which never blocks) wait as long as the copy.
#include <sluice/alt.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>

#include "test_guard.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;
using sluice::channel;
using sluice::status;

namespace {

// --- The shared watchdog (test_guard.hpp): the unfixed library hangs, and a hung test must
// end the run with its name. Here it also reports the stage the test was at ("start" first).
struct watchdog : sluice_test::watchdog {
  watchdog() : sluice_test::watchdog(std::string("start")) {}
};
using sluice_test::die;
using sluice_test::ms_since;
using sluice_test::wait_until;

// --- The value sent.
struct copy_error : std::runtime_error {
  copy_error() : std::runtime_error("item: copy failed") {}
};
struct conversion_error : std::runtime_error {
  conversion_error() : std::runtime_error("wire -> item: conversion failed") {}
};

// What a converting send sends: converting a `fail` wire to an item throws.
struct wire {
  long v;
  bool fail;
};

// Copying a poisoned item throws; moving never throws (as the library requires) and carries
// the poison along. `live` counts constructed, not yet destroyed items; destroying storage
// that holds no item (what a wedged channel's destructor did) is caught by the magic word and
// counted in `bad_destroys` instead. The next copy after `slow_armed` is set sleeps 250 ms,
// with `in_slow_copy` set meanwhile.
struct item {
  static constexpr std::uint64_t alive_magic = 0x5afe5afe5afe5afeULL;
  static constexpr std::uint64_t dead_magic = 0xdeaddeaddeaddeadULL;
  static inline std::atomic<long> live{0};
  static inline std::atomic<long> bad_destroys{0};
  static inline std::atomic<bool> slow_armed{false};
  static inline std::atomic<bool> in_slow_copy{false};

  long v;
  bool poison;
  std::uint64_t magic = alive_magic;

  explicit item(long x, bool p = false) : v(x), poison(p) { live.fetch_add(1); }
  explicit item(const wire& w) : v(w.v), poison(false) {
    if (w.fail) throw conversion_error();
    live.fetch_add(1);
  }
  item(const item& o) : v(o.v), poison(false) {
    if (o.poison) throw copy_error();
    if (slow_armed.exchange(false)) {
      in_slow_copy.store(true);
      std::this_thread::sleep_for(250ms);
      in_slow_copy.store(false);
    }
    live.fetch_add(1);
  }
  item(item&& o) noexcept : v(o.v), poison(o.poison) { live.fetch_add(1); }
  item& operator=(const item&) = delete;
  ~item() {
    if (magic != alive_magic) {
      bad_destroys.fetch_add(1);
      return;
    }
    magic = dead_magic;
    live.fetch_sub(1);
  }
};
static_assert(std::is_nothrow_move_constructible_v<item>, "the library requires a noexcept move");

// --- Channel kinds and the ways to send.
enum class kind { rendezvous, bounded1, bounded64, unbounded, drop_oldest4, drop_newest4 };
std::string name(kind k) {
  switch (k) {
    case kind::rendezvous: return "rendezvous";
    case kind::bounded1: return "bounded1";
    case kind::bounded64: return "bounded64";
    case kind::unbounded: return "unbounded";
    case kind::drop_oldest4: return "drop_oldest4";
    case kind::drop_newest4: return "drop_newest4";
  }
  return "?";
}
channel<item> make(kind k) {
  switch (k) {
    case kind::rendezvous: return channel<item>();
    case kind::bounded1: return channel<item>(1);
    case kind::bounded64: return channel<item>(64);
    case kind::unbounded: return channel<item>(sluice::unbounded);
    case kind::drop_oldest4: return channel<item>(4, sluice::overflow::drop_oldest);
    case kind::drop_newest4: return channel<item>(4, sluice::overflow::drop_newest);
  }
  return channel<item>();
}

enum class op { send, try_send, send_for, pri_alt_on_send, alternation_on_send, converting_send, converting_on_send };
std::string name(op o) {
  switch (o) {
    case op::send: return "send(lvalue)";
    case op::try_send: return "try_send(lvalue)";
    case op::send_for: return "send_for(lvalue)";
    case op::pri_alt_on_send: return "pri_alt(on_send(lvalue))";
    case op::alternation_on_send: return "alternation.add(on_send(lvalue)).pri()";
    case op::converting_send: return "send(wire lvalue) on channel<item>";
    case op::converting_on_send: return "pri_alt(on_send(wire lvalue)) on channel<item>";
  }
  return "?";
}
bool converting(op o) { return o == op::converting_send || o == op::converting_on_send; }
constexpr op copying_ops[] = {op::send, op::try_send, op::send_for, op::pri_alt_on_send, op::alternation_on_send};
constexpr op converting_ops[] = {op::converting_send, op::converting_on_send};

// Send `v` (an lvalue: it is copied; for a converting op, a wire with v's value and poison).
status do_send(channel<item>& c, op o, const item& v) {
  switch (o) {
    case op::send: return c.send(v);
    case op::try_send: return c.try_send(v);
    case op::send_for: return c.send_for(v, 2s);
    case op::pri_alt_on_send: return sluice::pri_alt(sluice::on_send(c, v, [] {})).status;
    case op::alternation_on_send: {
      sluice::alternation a;
      a.add(sluice::on_send(c, v, [] {}));
      return a.pri().status;
    }
    case op::converting_send: {
      wire w{v.v, v.poison};
      return c.send(w);
    }
    case op::converting_on_send: {
      wire w{v.v, v.poison};
      return sluice::pri_alt(sluice::on_send(c, w, [] {})).status;
    }
  }
  return status::empty;
}

// Run a send of a poisoned value; it must throw the right error in this thread. Returns a
// description of what happened when it did not.
std::string failed_send_outcome(channel<item>& c, op o, const item& bad) {
  try {
    status s = do_send(c, o, bad);
    return "returned " + std::string(sluice::to_string(s)) + " instead of throwing";
  } catch (const copy_error&) {
    return converting(o) ? "threw copy_error, expected conversion_error" : "";
  } catch (const conversion_error&) {
    return converting(o) ? "" : "threw conversion_error, expected copy_error";
  } catch (...) {
    return "threw an unexpected exception";
  }
}

// A buffered channel: the failed send changes nothing; the channel keeps working.
void buffered_case(watchdog& wd, kind k, op o) {
  const std::string what = name(k) + ", " + name(o);
  SCOPED_TRACE(what);
  wd.stage(what);
  const long live0 = item::live.load(), bad0 = item::bad_destroys.load();
  {
    channel<item> c = make(k);
    // drop_oldest is full (the failed send must evict nothing); the others keep room.
    const long prefill = k == kind::drop_oldest4 ? 4 : k == kind::bounded1 ? 0 : 2;
    for (long i = 0; i < prefill; ++i) ASSERT_EQ(c.try_send(item(i)), status::ok);

    const item bad(-7, true);
    EXPECT_EQ(failed_send_outcome(c, o, bad), "");

    // Every buffered item is still there, in order; then nothing, at once.
    for (long i = 0; i < prefill; ++i) {
      wd.stage(what + ": try_recv of buffered item " + std::to_string(i) + " after the failed send");
      auto r = c.try_recv();
      ASSERT_TRUE(r.has_value()) << "buffered item " << i << " lost: " << sluice::to_string(r.status());
      EXPECT_EQ(r->v, i);
    }
    wd.stage(what + ": try_recv on the emptied channel after the failed send");
    auto t0 = std::chrono::steady_clock::now();
    auto r = c.try_recv();
    double ms = ms_since(t0);
    EXPECT_EQ(r.status(), status::empty);
    EXPECT_LT(ms, 50.0) << "try_recv blocked";

    // The same operation with a good value works, and the value arrives intact.
    wd.stage(what + ": a good send after the failed one");
    const item good(42);
    ASSERT_EQ(do_send(c, o, good), status::ok);
    auto g = c.try_recv();
    ASSERT_TRUE(g.has_value()) << sluice::to_string(g.status());
    EXPECT_EQ(g->v, 42);
    EXPECT_FALSE(g->poison);

    // Leave one value buffered: the channel's destructor must destroy it and nothing else.
    ASSERT_EQ(do_send(c, o, good), status::ok);
    EXPECT_EQ(item::live.load(), live0 + 4);  // bad, good, g, and the buffered one
  }
  EXPECT_EQ(item::live.load(), live0) << "the channel destroyed a different number of values than it held";
  EXPECT_EQ(item::bad_destroys.load(), bad0) << "the channel destroyed storage that held no value";
}

// A rendezvous with a receiver waiting (recv_for): the failed send throws in the sender's
// thread; the receiver times out at its deadline, untouched; then a good send reaches it.
void rendezvous_receiver_waiting_case(watchdog& wd, op o) {
  const std::string what = "rendezvous, receiver waiting, " + name(o);
  SCOPED_TRACE(what);
  wd.stage(what);
  const long live0 = item::live.load(), bad0 = item::bad_destroys.load();
  {
    channel<item> c;
    std::atomic<bool> started{false}, done{false};
    status got = status::ok;
    bool threw = false;
    double waited_ms = 0;
    std::thread rx([&] {
      started.store(true);
      auto t0 = std::chrono::steady_clock::now();
      try {
        got = c.recv_for(250ms).status();
      } catch (...) {
        threw = true;
      }
      waited_ms = ms_since(t0);
      done.store(true);
    });
    ASSERT_TRUE(wait_until([&] { return started.load(); }, 5000ms));
    std::this_thread::sleep_for(50ms);  // the receiver is now waiting in recv_for

    const item bad(-7, true);
    EXPECT_EQ(failed_send_outcome(c, o, bad), "");
    if (!wait_until([&] { return done.load(); }, 5000ms)) {
      die(what + ": the waiting receiver's recv_for(250ms) has not returned after 5 s: the failed send "
                 "claimed it and never woke it");
    }
    rx.join();
    EXPECT_FALSE(threw) << "an exception was thrown in the receiver's thread";
    EXPECT_EQ(got, status::timeout);
    EXPECT_LT(waited_ms, 250.0 + 1500.0) << "recv_for did not honour its deadline";

    // A good send of the same kind reaches the next receiver.
    wd.stage(what + ": a good send after the failed one");
    std::atomic<long> value{-1};
    std::thread rx2([&] {
      auto r = c.recv_for(5s);
      if (r) value.store(r->v);
      done.store(true);
    });
    const item good(42);
    status s = do_send(c, o, good);
    // try_send completes only with a receiver already waiting: retry (bounded) until then.
    for (int i = 0; o == op::try_send && s == status::full && i < 5000; ++i) {
      std::this_thread::sleep_for(1ms);
      s = do_send(c, o, good);
    }
    EXPECT_EQ(s, status::ok);
    rx2.join();
    EXPECT_EQ(value.load(), 42);
  }
  EXPECT_EQ(item::live.load(), live0);
  EXPECT_EQ(item::bad_destroys.load(), bad0);
}

// A rendezvous with the sender as the waiting side: its copy throws in its own thread, and
// a receiver arriving meanwhile sees no value and no exception.
void rendezvous_sender_waiting_case(watchdog& wd, op o) {
  const std::string what = "rendezvous, sender waiting, " + name(o);
  SCOPED_TRACE(what);
  wd.stage(what);
  const long live0 = item::live.load(), bad0 = item::bad_destroys.load();
  {
    channel<item> c;
    std::atomic<bool> started{false}, done{false};
    std::string outcome = "?";
    std::thread tx([&] {
      const item bad(-7, true);
      started.store(true);
      outcome = failed_send_outcome(c, o, bad);
      done.store(true);
    });
    ASSERT_TRUE(wait_until([&] { return started.load(); }, 5000ms));
    std::this_thread::sleep_for(50ms);  // the sender has thrown already, or waits for us

    bool receiver_threw = false;
    status got = status::empty;
    try {
      got = c.recv_for(250ms).status();
    } catch (...) {
      receiver_threw = true;
    }
    EXPECT_FALSE(receiver_threw) << "the sender's exception was thrown in the receiver's thread";
    if (!receiver_threw) {
      EXPECT_EQ(got, status::timeout) << "the receiver got something from a send whose copy threw";
    }
    if (!wait_until([&] { return done.load(); }, 5000ms)) {
      die(what + ": the sender has not returned after 5 s: its offer was claimed by a receiver whose "
                 "copy of its value threw, and nobody woke it");
    }
    tx.join();
    EXPECT_EQ(outcome, "") << "in the sender's thread";
  }
  EXPECT_EQ(item::live.load(), live0);
  EXPECT_EQ(item::bad_destroys.load(), bad0);
}

// Send a value whose copy takes 250 ms from another thread; while that copy runs, try_recv
// reports empty at once; then the value arrives.
void slow_copy_case(watchdog& wd, kind k, op o) {
  const std::string what = name(k) + ", " + name(o) + ", slow copy";
  SCOPED_TRACE(what);
  wd.stage(what);
  const long live0 = item::live.load(), bad0 = item::bad_destroys.load();
  {
    channel<item> c = make(k);
    std::atomic<bool> done{false};
    status sent = status::empty;
    const item v(7);
    item::slow_armed.store(true);
    std::thread tx([&] {
      sent = do_send(c, o, v);
      done.store(true);
    });
    bool in_copy = wait_until([] { return item::in_slow_copy.load(); }, 1000ms);
    bool received = false;
    if (!in_copy) {
      ADD_FAILURE() << "the sender did not copy its value in its own thread before publishing it";
    } else {
      auto t0 = std::chrono::steady_clock::now();
      auto r = c.try_recv();
      double ms = ms_since(t0);
      EXPECT_EQ(r.status(), status::empty) << "while the sender was still copying";
      EXPECT_LT(ms, 50.0) << "try_recv waited for the sender's copy";
      if (r) {
        received = true;
        EXPECT_EQ(r->v, 7);
      }
    }
    if (!received) {
      auto r = c.recv_for(5s);
      ASSERT_TRUE(r.has_value()) << sluice::to_string(r.status());
      EXPECT_EQ(r->v, 7);
    }
    if (!wait_until([&] { return done.load(); }, 5000ms)) die(what + ": the sender never returned");
    tx.join();
    EXPECT_EQ(sent, status::ok);
    item::slow_armed.store(false);
  }
  EXPECT_EQ(item::live.load(), live0);
  EXPECT_EQ(item::bad_destroys.load(), bad0);
}

// Issue 9, point 1. Before: the reserved slot of a bounded channel was never written, so the
// try_recv after the failed send spun forever (watchdog), and the destructor ran ~T on it.
TEST(ThrowingCopy, FailedSendLeavesBoundedChannelUsable) {
  watchdog wd;
  for (kind k : {kind::bounded1, kind::bounded64}) {
    for (op o : copying_ops) buffered_case(wd, k, o);
  }
}

// Issue 9, point 1. Before: as for bounded channels, on the unbounded list (a slot reserved
// and never written; the next receive waited for it forever).
TEST(ThrowingCopy, FailedSendLeavesUnboundedChannelUsable) {
  watchdog wd;
  for (op o : copying_ops) buffered_case(wd, kind::unbounded, o);
}

// Issue 9, points 1 and 3. Before: the send on the full drop_oldest channel evicted the
// oldest item, then reserved a slot and threw in the copy: item 0 was lost and the channel
// wedged. Now the copy comes first: nothing is evicted, nothing reserved.
TEST(ThrowingCopy, FailedSendOnFullDropOldestChannelEvictsNothing) {
  watchdog wd;
  for (op o : copying_ops) buffered_case(wd, kind::drop_oldest4, o);
}

// Issue 9, point 1. Before: as for bounded channels (drop_newest is a ring too).
TEST(ThrowingCopy, FailedSendLeavesDropNewestChannelUsable) {
  watchdog wd;
  for (op o : copying_ops) buffered_case(wd, kind::drop_newest4, o);
}

// Issue 9, point 1. Before: the send claimed the waiting receiver, then its copy threw; the
// receiver was never woken, and its recv_for(250ms) did not return at its deadline (never).
TEST(ThrowingCopy, FailedSendLeavesWaitingRendezvousReceiverAlone) {
  watchdog wd;
  for (op o : copying_ops) rendezvous_receiver_waiting_case(wd, o);
}

// Issue 9, point 1. Before: a sender waiting on a rendezvous had published a pointer to its
// value; the receiver that claimed it copied it, so the sender's copy_error was thrown in the
// receiver's thread, and the sender was never woken (hung; send_for ignored its deadline).
TEST(ThrowingCopy, FailedSendThrowsInSendersThreadNotReceivers) {
  watchdog wd;
  for (op o : {op::send, op::send_for, op::pri_alt_on_send, op::alternation_on_send}) {
    rendezvous_sender_waiting_case(wd, o);
  }
}

// Issue 9, point 1: a throwing conversion (channel<item> sent a wire). Passed before the fix
// too (the conversion already ran first, in the sender's thread); kept so that a reworked
// send path converts before it commits as well.
TEST(ThrowingCopy, ThrowingConversionLeavesEveryKindUsable) {
  watchdog wd;
  for (kind k : {kind::bounded1, kind::bounded64, kind::unbounded, kind::drop_oldest4, kind::drop_newest4}) {
    for (op o : converting_ops) buffered_case(wd, k, o);
  }
  for (op o : converting_ops) {
    rendezvous_receiver_waiting_case(wd, o);
    rendezvous_sender_waiting_case(wd, o);
  }
}

// Issue 9, point 1: a slow copy. Before: a buffered send reserved its slot, then copied for
// 250 ms; try_recv (which never blocks) spun on that slot until the copy was done and
// returned the value ~250 ms late. On a rendezvous the sender published a pointer to its
// value and the receiver did the copy: try_recv took 250 ms and the copy ran in its thread.
TEST(SlowCopy, TryRecvDoesNotWaitForASendersCopy) {
  watchdog wd;
  for (kind k : {kind::rendezvous, kind::bounded1, kind::bounded64, kind::unbounded, kind::drop_oldest4,
                 kind::drop_newest4}) {
    for (op o : copying_ops) {
      if (k == kind::rendezvous && o == op::try_send) continue;  // completes only with a receiver waiting
      slow_copy_case(wd, k, o);
    }
  }
}

}  // namespace
