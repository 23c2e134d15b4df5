// Issue 9, point 3: drop_oldest channels evict only while the ring is still full, and a send
// that does not return ok evicts nothing.
//
// Before the fix a drop_oldest send that found the ring full evicted with an ordinary pop:
// (a) if a receiver made room in between, an item was destroyed although the new one would
// have fit; (b) if close() came between the eviction and the retried push, the send returned
// closed after destroying a buffered item.
//
// After the fix there is also `channel<T>::send(U&& value, std::optional<T>& evicted)`: on a
// drop_oldest channel the evicted oldest item is moved into `evicted` instead of being
// destroyed; `evicted` stays empty when nothing was evicted, and on other channel kinds.
#include <sluice/channel.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <concepts>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "test_guard.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;
using sluice::channel;
using sluice::overflow;
using sluice::status;

namespace {

using sluice_test::die;
using sluice_test::jitter;
using sluice_test::watchdog;

// --- A value that notices its own eviction.
//
// A drop_oldest send evicts in the sending thread. The producer sets `being_sent` (a
// thread_local) to the value it is sending; a value that still owns its payload (not moved
// from) and is destroyed while its thread's `being_sent` is set is being evicted by that
// send: it is counted, and checked against (being_sent - capacity). With `slow_eviction`
// set, such a destruction also takes ~20 us (yielding), which held the unfixed send between
// its eviction and its retried push.
thread_local long being_sent = -1;
thread_local bool slow_eviction = false;

struct probe {
  static inline std::atomic<long> live{0};
  static inline std::atomic<long> evictions{0};
  static inline std::atomic<long> wrong_evictions{0};
  static inline std::atomic<long> capacity{0};  // of the channel under test
  static inline std::atomic<long> first_wrong_sent{-1}, first_wrong_evicted{-1};

  long v;
  bool owns = true;

  explicit probe(long x) : v(x) { live.fetch_add(1, std::memory_order_relaxed); }  // a counter
  probe(probe&& o) noexcept : v(o.v), owns(o.owns) {
    o.owns = false;
    live.fetch_add(1, std::memory_order_relaxed);  // a counter
  }
  probe(const probe&) = delete;
  probe& operator=(const probe&) = delete;
  ~probe() {
    if (owns && being_sent >= 0) {
      evictions.fetch_add(1, std::memory_order_relaxed);  // a counter
      if (v != being_sent - capacity.load(std::memory_order_relaxed)) {  // a flag/counter: ordered by the rounds' own synchronisation
        if (wrong_evictions.fetch_add(1, std::memory_order_relaxed) == 0) {  // a counter
          first_wrong_sent.store(being_sent);
          first_wrong_evicted.store(v);
        }
      }
      if (slow_eviction) {  // yields: a thread sharing our core gets to run meanwhile
        auto t0 = std::chrono::steady_clock::now();
        while (std::chrono::steady_clock::now() - t0 < 20us) std::this_thread::yield();
      }
    }
    live.fetch_sub(1, std::memory_order_relaxed);  // a counter
  }
};
static_assert(std::is_nothrow_move_constructible_v<probe>);

void reset_probe(long capacity) {
  probe::evictions = 0;
  probe::wrong_evictions = 0;
  probe::first_wrong_sent = -1;
  probe::first_wrong_evicted = -1;
  probe::capacity = capacity;
}

// One producer sends 0..m-1 on a capacity-`cap` drop_oldest channel while one consumer
// receives. Every value is received once or evicted once; an eviction happens only on a
// full ring, which then holds the `cap` values before the one being sent.
void evict_only_while_full(long cap, long m) {
  SCOPED_TRACE("capacity " + std::to_string(cap));
  reset_probe(cap);
  const long live0 = probe::live.load();
  long received = 0, out_of_order = 0;
  {
    channel<probe> c(static_cast<std::size_t>(cap), overflow::drop_oldest);
    std::atomic<bool> consuming{false};
    std::thread consumer([&] {  // hot: polls with try_recv, so that it often pops just as a send finds the ring full
      consuming.store(true);
      long last = -1;
      for (unsigned idle = 0;;) {
        auto r = c.try_recv();
        if (r.status() == status::closed) break;
        if (!r) {
          if (++idle % 64 == 0) std::this_thread::yield();
          continue;
        }
        idle = 0;
        if (r->v <= last) ++out_of_order;
        last = r->v;
        ++received;
      }
    });
    while (!consuming.load()) std::this_thread::yield();
    for (long i = 0; i < m; ++i) {
      probe v(i);
      being_sent = i;
      status s = c.send(std::move(v));
      being_sent = -1;
      if (s != status::ok) die("drop_oldest send returned " + std::string(sluice::to_string(s)));
    }
    c.close();
    consumer.join();
  }
  EXPECT_EQ(probe::wrong_evictions.load(), 0)
      << "an eviction that did not find the ring full: sending " << probe::first_wrong_sent.load() << " evicted "
      << probe::first_wrong_evicted.load() << " (the oldest of a full ring would be "
      << probe::first_wrong_sent.load() - cap << ")";
  EXPECT_EQ(received + probe::evictions.load(), m) << "values neither received nor evicted";
  EXPECT_EQ(out_of_order, 0);
  EXPECT_EQ(probe::live.load(), live0);
  std::printf("[ info ] capacity %ld: %ld sent, %ld evicted\n", cap, m, probe::evictions.load());
}

// Issue 9, point 3 (a). Before: a send that saw the ring full popped the oldest item even
// when the consumer had just made room, so the evicted value was newer than (sent - C):
// here tens to hundreds of such evictions per run, at capacity 1 or 2.
TEST(DropOldest, EvictsOnlyWhileTheRingIsStillFull) {
  watchdog wd;
  const long m = sluice_test::scaled(100000);
  for (long cap : {1L, 2L, 4L}) evict_only_while_full(cap, m);
}

// Issue 9, point 3 (b). A hot thread sends one value on a full drop_oldest channel (capacity
// C, holding 0..C-1) while the main thread closes it, round after round. If the send returned
// closed, nothing was evicted: 0..C-1 are all received, then closed. If it returned ok,
// exactly item 0 was evicted: 1..C-1 and the new value C are received. The evicted value's
// destructor takes ~20 us, which kept the unfixed send between its eviction and its retried
// push. Before: the send returned closed in most rounds after having destroyed item 0.
TEST(DropOldest, SendThatReturnsClosedEvictsNothing) {
  watchdog wd;
  const long rounds = sluice_test::scaled(4000);
  channel<probe>* cur = nullptr;
  std::atomic<long> round{0};     // main -> sender: round r's channel is *cur (release)
  std::atomic<long> sending{0};   // sender -> main: round r's send is about to start
  std::atomic<long> finished{0};  // sender -> main: round r's send returned (release)
  std::atomic<bool> stop{false};
  std::atomic<long> cap_now{1};
  status sent = status::empty;
  long evicted_in_send = 0;

  std::thread sender([&] {
    for (long r = 1;; ++r) {
      for (unsigned spins = 0; round.load(std::memory_order_acquire) != r; ++spins) {  // pairs with main's release
        if (stop.load(std::memory_order_relaxed)) return;  // a flag/counter: ordered by the rounds' own synchronisation
        if (spins >= 200) std::this_thread::yield();
      }
      const long cap = cap_now.load(std::memory_order_relaxed);  // a flag/counter: ordered by the rounds' own synchronisation
      long before = probe::evictions.load();
      probe v(cap);  // outlives the send: if it is not sent, it is not destroyed inside it
      slow_eviction = true;
      being_sent = cap;  // evicting anything but item 0 is wrong
      sending.store(r);
      sent = cur->send(std::move(v));
      being_sent = -1;
      slow_eviction = false;
      evicted_in_send = probe::evictions.load() - before;
      finished.store(r, std::memory_order_release);  // pairs with main's acquire
    }
  });

  long closed_rounds = 0, ok_rounds = 0, bad_rounds = 0;
  std::string first_bad;
  const long live0 = probe::live.load();
  const auto t_end = std::chrono::steady_clock::now() + 10s;
  long r = 1;
  for (; r <= rounds && std::chrono::steady_clock::now() < t_end; ++r) {
    const long cap = r % 2 ? 1 : 4;
    cap_now.store(cap, std::memory_order_relaxed);  // a flag/counter: ordered by the rounds' own synchronisation
    reset_probe(cap);
    channel<probe> c(static_cast<std::size_t>(cap), overflow::drop_oldest);
    for (long i = 0; i < cap; ++i) ASSERT_EQ(c.try_send(probe(i)), status::ok);
    cur = &c;
    round.store(r, std::memory_order_release);  // pairs with the sender's acquire
    // Close while the send runs: in most rounds wait until it starts (yielding, in case both
    // threads share a core), then 0 to ~20 us more; in every fourth round close at once
    // (mostly before the send: it must then report closed).
    auto t0 = std::chrono::steady_clock::now();
    if (r % 4 != 0) {
      for (unsigned n = 0; sending.load() != r; ++n) {
        if (n >= 200) std::this_thread::yield();
        if ((n & 1023) == 0 && std::chrono::steady_clock::now() - t0 > 5s) die("the sender never started");
      }
      jitter(static_cast<unsigned>((r * 13) % 128) * 8);
    } else {
      jitter(static_cast<unsigned>((r * 13) % 32));
    }
    c.close();
    for (unsigned n = 0; finished.load(std::memory_order_acquire) != r; ++n) {  // pairs with the sender's release
      if (n >= 200) std::this_thread::yield();
      if ((n & 1023) == 0 && std::chrono::steady_clock::now() - t0 > 5s) die("the drop_oldest send never returned");
    }
    std::vector<long> got;
    for (int k = 0; k <= cap + 1; ++k) {
      auto x = c.try_recv();
      if (!x) {
        if (x.status() != status::closed) ADD_FAILURE() << "drained channel reported " << sluice::to_string(x.status());
        break;
      }
      got.push_back(x->v);
    }
    std::vector<long> want;
    if (sent == status::closed) {
      ++closed_rounds;
      for (long i = 0; i < cap; ++i) want.push_back(i);
    } else if (sent == status::ok) {
      ++ok_rounds;
      for (long i = 1; i <= cap; ++i) want.push_back(i);
    }
    const long want_evicted = sent == status::ok ? 1 : 0;
    if (got != want || evicted_in_send != want_evicted || probe::wrong_evictions.load() != 0) {
      ++bad_rounds;
      if (first_bad.empty()) {
        first_bad = "round " + std::to_string(r) + " (capacity " + std::to_string(cap) + "): send returned " +
                    sluice::to_string(sent) + ", evicted " + std::to_string(evicted_in_send) + ", received [";
        for (long v : got) first_bad += std::to_string(v) + " ";
        first_bad += "]";
      }
    }
  }
  stop.store(true);
  sender.join();
  EXPECT_EQ(bad_rounds, 0) << first_bad;
  EXPECT_EQ(probe::live.load(), live0);
  std::printf("[ info ] %ld rounds: send returned closed %ld, ok %ld\n", r - 1, closed_rounds, ok_rounds);
}

// --- The evicting send, `channel<T>::send(U&& value, std::optional<T>& evicted)`.
//
// It does not exist before the fix; these tests are templates over T so that this file
// still compiles there, and fail saying the overload is missing.
template <class T>
concept has_evicting_send = requires(channel<T>& c, T&& v, std::optional<T>& e) {
  { c.send(std::move(v), e) } -> std::same_as<status>;
};

template <class T>
void evicting_send_hands_back_the_oldest() {
  if constexpr (!has_evicting_send<T>) {
    FAIL() << "channel<T>::send(U&&, std::optional<T>&) is missing";
  } else {
    const long m = sluice_test::scaled(100000);
    for (long cap : {1L, 4L}) {
      SCOPED_TRACE("capacity " + std::to_string(cap));
      const long live0 = T::live.load();
      reset_probe(cap);  // nothing may be destroyed by eviction: any counted one is wrong
      long received = 0, handed_back = 0, wrong = 0, out_of_order = 0;
      std::string first_wrong;
      {
        channel<T> c(static_cast<std::size_t>(cap), overflow::drop_oldest);
        std::thread consumer([&] {
          long last = -1;
          for (;;) {
            auto r = c.recv();
            if (!r) break;
            if (r->v <= last) ++out_of_order;
            last = r->v;
            ++received;
          }
        });
        for (long i = 0; i < m; ++i) {
          std::optional<T> evicted;
          T v(i);
          being_sent = i;
          status s = c.send(std::move(v), evicted);
          being_sent = -1;
          if (s != status::ok) die("drop_oldest send returned " + std::string(sluice::to_string(s)));
          if (evicted) {
            ++handed_back;
            if (evicted->v != i - cap && wrong++ == 0) {
              first_wrong = "sending " + std::to_string(i) + " evicted " + std::to_string(evicted->v);
            }
          }
        }
        c.close();
        consumer.join();
      }
      EXPECT_EQ(wrong, 0) << first_wrong << " (the oldest of a full ring would be sent - " << cap << ")";
      EXPECT_EQ(probe::evictions.load(), 0) << "evicted values were destroyed instead of handed back";
      EXPECT_EQ(received + handed_back, m);
      EXPECT_EQ(out_of_order, 0);
      EXPECT_EQ(T::live.load(), live0);
    }
  }
}

template <class T>
void evicting_send_semantics() {
  if constexpr (!has_evicting_send<T>) {
    FAIL() << "channel<T>::send(U&&, std::optional<T>&) is missing";
  } else {
    {  // drop_oldest: empty until the ring is full, then the oldest; lvalues are copied
      channel<T> c(2, overflow::drop_oldest);
      std::optional<T> ev;
      EXPECT_EQ(c.send(T(0), ev), status::ok);
      EXPECT_FALSE(ev.has_value());
      const T one(1);
      EXPECT_EQ(c.send(one, ev), status::ok);
      EXPECT_FALSE(ev.has_value());
      EXPECT_EQ(c.send(T(2), ev), status::ok);
      ASSERT_TRUE(ev.has_value());
      EXPECT_EQ(ev->v, 0);
      ev.reset();
      EXPECT_EQ(c.send(one, ev), status::ok);
      ASSERT_TRUE(ev.has_value());
      EXPECT_EQ(ev->v, 1);
      EXPECT_EQ(one.v, 1);
      EXPECT_EQ(c.recv()->v, 2);
      EXPECT_EQ(c.recv()->v, 1);
      // Closed: nothing evicted, the buffered items stay.
      ev.reset();
      EXPECT_EQ(c.send(T(3), ev), status::ok);
      EXPECT_EQ(c.send(T(4), ev), status::ok);
      c.close();
      EXPECT_EQ(c.send(T(5), ev), status::closed);
      EXPECT_FALSE(ev.has_value());
      EXPECT_EQ(c.recv()->v, 3);
      EXPECT_EQ(c.recv()->v, 4);
      EXPECT_EQ(c.recv().status(), status::closed);
    }
    {  // drop_newest: never evicts; a full send returns full
      channel<T> c(1, overflow::drop_newest);
      std::optional<T> ev;
      EXPECT_EQ(c.send(T(0), ev), status::ok);
      EXPECT_EQ(c.send(T(1), ev), status::full);
      EXPECT_FALSE(ev.has_value());
      EXPECT_EQ(c.recv()->v, 0);
    }
    {  // block, unbounded: never evict
      channel<T> b(2), u(sluice::unbounded);
      std::optional<T> ev;
      EXPECT_EQ(b.send(T(0), ev), status::ok);
      EXPECT_EQ(b.send(T(1), ev), status::ok);
      EXPECT_EQ(u.send(T(0), ev), status::ok);
      EXPECT_FALSE(ev.has_value());
      EXPECT_EQ(b.recv()->v, 0);
      EXPECT_EQ(u.recv()->v, 0);
    }
    {  // rendezvous: a waiting receiver takes it; nothing evicted
      channel<T> z;
      long got = -1;
      std::thread rx([&] { got = z.recv()->v; });
      std::optional<T> ev;
      EXPECT_EQ(z.send(T(7), ev), status::ok);
      rx.join();
      EXPECT_EQ(got, 7);
      EXPECT_FALSE(ev.has_value());
    }
  }
}

// A copyable value with a live count, for the evicting-send semantics.
struct counted {
  static inline std::atomic<long> live{0};
  long v;
  explicit counted(long x) : v(x) { live.fetch_add(1); }
  counted(const counted& o) : v(o.v) { live.fetch_add(1); }
  counted(counted&& o) noexcept : v(o.v) { live.fetch_add(1); }
  ~counted() { live.fetch_sub(1); }
};

// Issue 9, point 3, the new API (does not exist before the fix: these fail there with
// "missing"). Under a concurrent consumer every value handed back in `evicted` is exactly
// (value being sent - C); none is destroyed by eviction.
TEST(DropOldest, EvictingSendHandsBackExactlyTheOldest) {
  watchdog wd;
  evicting_send_hands_back_the_oldest<probe>();
}

// Issue 9, point 3, the new API: `evicted` is filled only by a drop_oldest send that found
// the ring full; it stays empty on a closed channel and on every other kind.
TEST(DropOldest, EvictingSendFillsEvictedOnlyWhenItEvicts) {
  watchdog wd;
  const long live0 = counted::live.load();
  evicting_send_semantics<counted>();
  EXPECT_EQ(counted::live.load(), live0);
}

}  // namespace
