// Timeouts too long to represent (sluice/internal/deadline.hpp and every call that takes a
// timeout). Regression tests for issue 9, point 4: a duration or time point past what
// steady_clock's nanoseconds can hold overflowed in duration_cast (undefined behaviour; in
// practice the call returned at once). Every such timeout now saturates to "never".
//
// How a test tells "waited" from "returned at once": a helper thread acts (closes the
// channel, sends the message) after k_act; the call must come back because of that, with
// that status, and no sooner than k_min_wait.
#include <sluice/channel.hpp>
#include <sluice/coroutine.hpp>
#include <sluice/internal/deadline.hpp>
#include <sluice/mp.hpp>
#include <sluice/timer.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <thread>

#include "test_util.hpp"

using namespace std::chrono_literals;
using sluice::status;
using sluice_test::kind;
using std::chrono::duration;
using std::chrono::hours;
using std::chrono::nanoseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;
using std::chrono::system_clock;
using std::chrono::time_point;

namespace {

constexpr auto k_act = 80ms;       // when the helper thread acts
constexpr auto k_min_wait = 60ms;  // a call back sooner than this did not wait for it
constexpr hours k_300_years{24 * 365 * 300};  // 9.46e18 ns: past nanoseconds::max()
constexpr double k_inf = std::numeric_limits<double>::infinity();

const kind k_kinds[] = {kind::rendezvous, kind::bounded1, kind::bounded64, kind::unbounded};

// Runs `act` on another thread after `delay`; joins when it goes out of scope.
class act_later {
 public:
  template <class F>
  act_later(std::chrono::milliseconds delay, F act) : t_([delay, act]() mutable {
      std::this_thread::sleep_for(delay);
      act();
    }) {}
  ~act_later() { t_.join(); }

 private:
  std::thread t_;
};

// Fill `ch` so that a send blocks (a rendezvous channel needs nothing).
void fill(sluice::channel<int>& ch, kind k) {
  long n = k == kind::bounded1 ? 1 : k == kind::bounded64 ? 64 : 0;
  for (long i = 0; i < n; ++i) ASSERT_EQ(ch.try_send(1), status::ok);
}

// recv_for(timeout) on an empty channel of each kind waits until another thread closes it.
template <class D>
void expect_recv_for_waits(D timeout, const char* what) {
  for (kind k : k_kinds) {
    auto ch = sluice_test::make<int>(k);
    auto t0 = steady_clock::now();
    act_later closer(k_act, [&ch] { ch.close(); });
    auto r = ch.recv_for(timeout);
    EXPECT_EQ(r.status(), status::closed) << what << " on " << sluice_test::name(k);
    EXPECT_GE(sluice_test::since(t0), k_min_wait) << what << " on " << sluice_test::name(k);
  }
}

// send_for(timeout) on a full channel of each kind waits until another thread closes it
// (an unbounded channel is never full: the send succeeds at once).
template <class D>
void expect_send_for_waits(D timeout, const char* what) {
  for (kind k : k_kinds) {
    auto ch = sluice_test::make<int>(k);
    if (k == kind::unbounded) {
      EXPECT_EQ(ch.send_for(7, timeout), status::ok) << what;
      continue;
    }
    fill(ch, k);
    auto t0 = steady_clock::now();
    act_later closer(k_act, [&ch] { ch.close(); });
    EXPECT_EQ(ch.send_for(7, timeout), status::closed) << what << " on " << sluice_test::name(k);
    EXPECT_GE(sluice_test::since(t0), k_min_wait) << what << " on " << sluice_test::name(k);
  }
}

template <class TP>
void expect_recv_until_waits(TP deadline, const char* what) {
  for (kind k : k_kinds) {
    auto ch = sluice_test::make<int>(k);
    auto t0 = steady_clock::now();
    act_later closer(k_act, [&ch] { ch.close(); });
    auto r = ch.recv_until(deadline);
    EXPECT_EQ(r.status(), status::closed) << what << " on " << sluice_test::name(k);
    EXPECT_GE(sluice_test::since(t0), k_min_wait) << what << " on " << sluice_test::name(k);
  }
}

template <class TP>
void expect_send_until_waits(TP deadline, const char* what) {
  for (kind k : k_kinds) {
    if (k == kind::unbounded) continue;
    auto ch = sluice_test::make<int>(k);
    fill(ch, k);
    auto t0 = steady_clock::now();
    act_later closer(k_act, [&ch] { ch.close(); });
    EXPECT_EQ(ch.send_until(7, deadline), status::closed) << what << " on " << sluice_test::name(k);
    EXPECT_GE(sluice_test::since(t0), k_min_wait) << what << " on " << sluice_test::name(k);
  }
}

// A time point long past (of any clock) times out at once instead of blocking. The helper
// closes the channel after 1 s only to bound the test if it does block.
template <class TP>
void expect_recv_until_times_out_at_once(TP deadline, const char* what) {
  auto ch = sluice::channel<int>(1);
  sluice::channel<int> returned(1);
  std::thread bound([&] {
    if (returned.recv_for(1000ms).status() == status::timeout) ch.close();
  });
  auto t0 = steady_clock::now();
  auto r = ch.recv_until(deadline);
  auto waited = sluice_test::since(t0);
  returned.send(1);
  bound.join();
  EXPECT_EQ(r.status(), status::timeout) << what;
  EXPECT_LT(waited, 500ms) << what;
}

// Far-off steady_clock and system_clock time points, some in coarse units.
const auto k_steady_hours_far = time_point<steady_clock, hours>(hours::max() / 2);
const auto k_steady_hours_max = time_point<steady_clock, hours>::max();
const auto k_steady_double_far = time_point<steady_clock, duration<double>>(duration<double>(1e30));
const auto k_system_hours_far = time_point<system_clock, hours>(k_300_years + hours(24 * 365 * 100));
const auto k_system_seconds_max = time_point<system_clock, seconds>::max();
const auto k_system_max = system_clock::time_point::max();

}  // namespace

TEST(Deadline, SaturatingNsConvertsExactlyWithinRange) {
  using sluice::internal::saturating_ns;
  static_assert(saturating_ns(nanoseconds(5)) == nanoseconds(5));
  static_assert(saturating_ns(-1500ms) == nanoseconds(-1500000000));
  static_assert(saturating_ns(hours(2562047)) == hours(2562047));  // the largest whole hours
  static_assert(saturating_ns(std::chrono::microseconds::max() / 1000) ==
                std::chrono::microseconds::max() / 1000);
  static_assert(saturating_ns(duration<long long, std::pico>(-2999)) == nanoseconds(-2));  // toward zero
  static_assert(saturating_ns(duration<int, std::ratio<1, 3>>(4)) == nanoseconds(1333333333));
  static_assert(saturating_ns(duration<unsigned, std::milli>(7)) == 7ms);
  static_assert(saturating_ns(duration<double>(1.5)) == 1500ms);
  static_assert(saturating_ns(duration<float, std::milli>(-2.0f)) == -2ms);
  EXPECT_EQ(saturating_ns(nanoseconds::max()), nanoseconds::max());
  EXPECT_EQ(saturating_ns(nanoseconds::min()), nanoseconds::min());
}

TEST(Deadline, SaturatingNsClampsInsteadOfOverflowing) {
  using sluice::internal::saturating_ns;
  static_assert(saturating_ns(hours(2562048)) == nanoseconds::max());  // one hour too many
  static_assert(saturating_ns(-hours(2562048)) == nanoseconds::min());
  static_assert(saturating_ns(k_300_years) == nanoseconds::max());
  static_assert(saturating_ns(hours::max()) == nanoseconds::max());
  static_assert(saturating_ns(hours::min()) == nanoseconds::min());
  static_assert(saturating_ns(seconds::max()) == nanoseconds::max());
  static_assert(saturating_ns(duration<long long, std::ratio<1, 3>>::max()) == nanoseconds::max());
  static_assert(saturating_ns(duration<long long, std::ratio<1, 3>>::min()) == nanoseconds::min());
  static_assert(saturating_ns(duration<long long, std::ratio<7, 3>>::max()) == nanoseconds::max());
  static_assert(saturating_ns(duration<unsigned long long, std::nano>(~0ull)) == nanoseconds::max());
  static_assert(saturating_ns(duration<unsigned long long, std::pico>(~0ull)) ==
                nanoseconds(static_cast<long long>(~0ull / 1000)));
  static_assert(saturating_ns(duration<double>(1e30)) == nanoseconds::max());
  static_assert(saturating_ns(duration<double>(-1e30)) == nanoseconds::min());
  static_assert(saturating_ns(duration<double>(k_inf)) == nanoseconds::max());
  static_assert(saturating_ns(duration<double>(-k_inf)) == nanoseconds::min());
  static_assert(saturating_ns(duration<double, std::nano>(9.3e18)) == nanoseconds::max());
  static_assert(saturating_ns(duration<long double>(1e300L)) == nanoseconds::max());
  EXPECT_EQ(saturating_ns(duration<double>(std::numeric_limits<double>::quiet_NaN())), nanoseconds::zero());
  // Just inside and just outside the range, in a unit that does not divide it.
  constexpr long long max_ms = std::numeric_limits<long long>::max() / 1000000;
  static_assert(saturating_ns(std::chrono::milliseconds(max_ms)) == std::chrono::milliseconds(max_ms));
  static_assert(saturating_ns(std::chrono::milliseconds(max_ms + 1)) == nanoseconds::max());
}

TEST(Deadline, HugeDurationsAndFarTimePointsAreNever) {
  using sluice::internal::deadline;
  EXPECT_TRUE(deadline::after(k_300_years).is_never());
  EXPECT_TRUE(deadline::after(nanoseconds::max()).is_never());
  EXPECT_TRUE(deadline::after(hours::max()).is_never());
  EXPECT_TRUE(deadline::after(seconds::max()).is_never());
  EXPECT_TRUE(deadline::after(duration<double>(1e30)).is_never());
  EXPECT_TRUE(deadline::after(duration<double>(k_inf)).is_never());
  EXPECT_TRUE(deadline::after(duration<unsigned long long, std::nano>(~0ull - 1)).is_never());
  EXPECT_TRUE(deadline::at(k_steady_hours_far).is_never());
  EXPECT_TRUE(deadline::at(k_steady_hours_max).is_never());
  EXPECT_TRUE(deadline::at(k_steady_double_far).is_never());
  EXPECT_TRUE(deadline::at(k_system_hours_far).is_never());
  EXPECT_TRUE(deadline::at(k_system_seconds_max).is_never());
  EXPECT_TRUE(deadline::at(k_system_max).is_never());
}

TEST(Deadline, HugeNegativeDurationsAndLongPastTimePointsAreNow) {
  using sluice::internal::deadline;
  EXPECT_TRUE(deadline::after(-k_300_years).is_now());
  EXPECT_TRUE(deadline::after(hours::min()).is_now());
  EXPECT_TRUE(deadline::after(duration<double>(-k_inf)).is_now());
  EXPECT_TRUE(deadline::at(time_point<steady_clock, hours>::min()).is_now());
  EXPECT_TRUE(deadline::at(time_point<system_clock, hours>::min()).is_now());
  EXPECT_TRUE(deadline::at(system_clock::time_point::min()).is_now());
  EXPECT_TRUE(deadline::at(steady_clock::time_point::min()).is_now());
}

TEST(Deadline, OrdinaryDurationsAndTimePointsAreUnchanged) {
  using sluice::internal::deadline;
  auto t0 = steady_clock::now();
  deadline d = deadline::after(250ms);
  auto t1 = steady_clock::now();
  ASSERT_FALSE(d.is_never());
  ASSERT_FALSE(d.is_now());
  EXPECT_GE(d.when(), t0 + 250ms);
  EXPECT_LE(d.when(), t1 + 250ms);
  EXPECT_TRUE(deadline::after(0ms).is_now());
  EXPECT_TRUE(deadline::after(-1ns).is_now());
  EXPECT_EQ(deadline::at(t0 + 1h).when(), t0 + 1h);
  deadline s = deadline::at(system_clock::now() + 1h);
  EXPECT_GT(s.when(), t0 + 59min);
  EXPECT_LT(s.when(), steady_clock::now() + 61min);
}

TEST(Deadline, RecvForAHugeTimeoutWaitsOnEveryKind) {
  expect_recv_for_waits(k_300_years, "300 years");
  expect_recv_for_waits(nanoseconds::max(), "nanoseconds::max()");
  expect_recv_for_waits(hours::max(), "hours::max()");
  expect_recv_for_waits(duration<double>(1e30), "1e30 s as double");
  expect_recv_for_waits(duration<double>(k_inf), "infinite double");
  expect_recv_for_waits(duration<unsigned long long, std::nano>(~0ull - 1), "unsigned max - 1 ns");
}

TEST(Deadline, SendForAHugeTimeoutWaitsOnEveryKind) {
  expect_send_for_waits(k_300_years, "300 years");
  expect_send_for_waits(nanoseconds::max(), "nanoseconds::max()");
  expect_send_for_waits(hours::max(), "hours::max()");
  expect_send_for_waits(duration<double>(1e30), "1e30 s as double");
}

TEST(Deadline, RecvUntilAFarTimePointOfAnyClockWaits) {
  expect_recv_until_waits(k_steady_hours_far, "steady hours::max()/2");
  expect_recv_until_waits(k_steady_hours_max, "steady hours max");
  expect_recv_until_waits(k_steady_double_far, "steady 1e30 s as double");
  expect_recv_until_waits(k_system_hours_far, "system 400 years in hours");
  expect_recv_until_waits(k_system_seconds_max, "system seconds max");
  expect_recv_until_waits(k_system_max, "system max");
}

TEST(Deadline, SendUntilAFarTimePointOfAnyClockWaits) {
  expect_send_until_waits(k_steady_hours_far, "steady hours::max()/2");
  expect_send_until_waits(k_system_hours_far, "system 400 years in hours");
  expect_send_until_waits(k_system_seconds_max, "system seconds max");
}

TEST(Deadline, LongPastTimePointsOfAnyClockTimeOutAtOnce) {
  expect_recv_until_times_out_at_once(system_clock::time_point::min(), "system min");
  expect_recv_until_times_out_at_once(time_point<system_clock, hours>::min(), "system hours min");
  expect_recv_until_times_out_at_once(time_point<steady_clock, hours>::min(), "steady hours min");
  auto ch = sluice::channel<int>(1);
  EXPECT_EQ(ch.recv_for(hours::min()).status(), status::timeout);
  EXPECT_EQ(ch.recv_for(-k_300_years).status(), status::timeout);
}

TEST(Deadline, AfterAHugeDelayNeverFires) {
  EXPECT_EQ(sluice::after(nanoseconds::max()).recv_for(100ms).status(), status::timeout);
  EXPECT_EQ(sluice::after(k_300_years).recv_for(50ms).status(), status::timeout);
  EXPECT_EQ(sluice::after(hours::max()).recv_for(50ms).status(), status::timeout);
  EXPECT_EQ(sluice::after(duration<double>(1e30)).recv_for(50ms).status(), status::timeout);
  EXPECT_EQ(sluice::after_ns(nanoseconds::max() - 1ns).recv_for(50ms).status(), status::timeout);
  auto soon = sluice::after(10ms);  // the timer service still works after all that
  EXPECT_EQ(soon.recv_for(5s).status(), status::ok);
}

TEST(Deadline, TickWithAHugePeriodNeverTicks) {
  for (auto period : {nanoseconds::max(), nanoseconds::max() / 2 + 1ns}) {
    sluice::timer_channel t;
    ASSERT_NO_THROW(t = sluice::tick(period));
    EXPECT_EQ(t.recv_for(50ms).status(), status::timeout);
  }
  sluice::timer_channel t;
  ASSERT_NO_THROW(t = sluice::tick(k_300_years));
  EXPECT_EQ(t.recv_for(50ms).status(), status::timeout);
  ASSERT_NO_THROW(t = sluice::tick(hours::max()));
  EXPECT_EQ(t.recv_for(50ms).status(), status::timeout);
}

TEST(Deadline, MailboxGetWithAHugeTimeoutWaits) {
  using sluice::mp::mailbox;
  using sluice::mp::message;
  // The body reports what each get returned and how long it waited (in ms).
  sluice::channel<message> out(sluice::unbounded);
  auto p = sluice::mp::port_async([out](mailbox& mb) mutable {
    auto timed = [&](auto get) {
      auto t0 = steady_clock::now();
      auto m = get();
      long ms = std::chrono::duration_cast<std::chrono::milliseconds>(steady_clock::now() - t0).count();
      out.send(message::array({m ? *m : message("timeout"), ms}));
    };
    timed([&] { return mb.get("a", nanoseconds::max()); });
    timed([&] { return mb.get_cond([](const message& m) { return m[0] == "b"; }, nanoseconds::max()); });
    timed([&] { return mb.get("c", hours::max()); });
    timed([&] { return mb.get("d", k_300_years); });
  });
  for (const char* tag : {"a", "b", "c", "d"}) {
    std::this_thread::sleep_for(k_act);
    sluice::mp::snd(p, {tag, 1});
    auto r = out.recv_for(5s);
    ASSERT_TRUE(r) << tag;
    EXPECT_EQ((*r)[0], message::array({tag, 1})) << tag;
    EXPECT_GE((*r)[1].get<long>(), 40) << tag;
  }
}

TEST(Deadline, CoroutineRunWithAHugeBudgetRunsToCompletion) {
  auto body = [](sluice::coroutine_control& c) {
    for (int i = 0; i < 30; ++i) {
      std::this_thread::sleep_for(1ms);
      c.checkpoint();
    }
    return 7;
  };
  sluice::coroutine<int> a(body);
  EXPECT_TRUE(a.run(hours::max()));
  EXPECT_EQ(a.result(), 7);
  sluice::coroutine<int> b(body);
  EXPECT_TRUE(b.run(k_300_years));
  EXPECT_EQ(b.result(), 7);
  sluice::coroutine<int> c(body);
  EXPECT_TRUE(c.run(duration<double>(1e30)));
  EXPECT_EQ(c.result(), 7);
  sluice::coroutine<int> d(body);
  EXPECT_TRUE(d.run_until(k_steady_hours_far));
  EXPECT_EQ(d.result(), 7);
  sluice::coroutine<int> e(body);
  EXPECT_TRUE(e.run_until(k_system_hours_far));
  EXPECT_EQ(e.result(), 7);
}
