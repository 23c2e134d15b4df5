// Issue 9, point 7: a non-blocking alternation is linearizable.
//
// An alternation that runs otherwise (or reports timeout) had, at one single moment during
// the call, no enabled clause ready, as Go's select and crossbeam-channel's Select guarantee:
// it never misses a value that a try_recv on one of its channels would have taken at that
// moment. Before the fix, with otherwise(f) or an expired deadline, the alternation looked at
// each clause once, skipping those whose lock-free hint said "not ready", and gave up: with
// two channels that were never both empty it could look at the first before a value arrived
// there and at the second after the value there had been taken, and run otherwise.
//
// Written anew after Go's runtime tests TestNonblockSelectRace and TestNonblockSelectRace2
// (runtime/chan_test.go) and crossbeam-channel's linearizable_try, linearizable_timeout and
// linearizable_default (tests/select.rs): two hot threads in lockstep, round after round.
#include <sluice/alt.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "test_guard.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;
using sluice::channel;
using sluice::status;

namespace {

using sluice_test::die;
using sluice_test::jitter;
using sluice_test::two_cpus;
using sluice_test::watchdog;

// Wait until `flag` holds `want` (or `stop` is set: false). Spins, then yields: the machine
// may have fewer free cores than threads.
bool await_round(const std::atomic<long>& flag, long want, const std::atomic<bool>* stop) {
  auto t0 = std::chrono::steady_clock::now();
  for (unsigned spins = 0; flag.load(std::memory_order_acquire) != want; ++spins) {  // pairs with lockstep's releases
    if (stop && stop->load(std::memory_order_relaxed)) return false;  // a flag/counter: ordered by the rounds' own synchronisation
    if (spins < 256) continue;
    std::this_thread::yield();
    if (!stop && (spins & 1023) == 0 && std::chrono::steady_clock::now() - t0 > 5s) {
      die("a round did not finish within 5 s");
    }
  }
  return true;
}

// At least this many rounds make a run count (the tests check it).
constexpr long min_lockstep_rounds = 300;

// Two threads in lockstep, round after round (at most `rounds`, at most `budget` once
// min_lockstep_rounds ran): the main
// thread runs setup(r); then the worker runs work(r) while the main thread runs race(r); when
// both are done the main thread runs check(r). The worker is started once, and stays hot;
// the two run on two different CPUs where they can.
// Returns the number of rounds run.
template <class Setup, class Work, class Race, class Check>
long lockstep(long rounds, std::chrono::seconds budget, Setup setup, Work work, Race race, Check check) {
  std::atomic<long> go{0}, done{0};
  std::atomic<bool> stop{false};
  two_cpus cpus;
  std::thread worker([&] {
    cpus.pin_worker();
    for (long r = 1; await_round(go, r, &stop); ++r) {
      work(r);
      done.store(r, std::memory_order_release);  // pairs with the main thread's acquire
    }
  });
  // The budget ends the run, unless fewer than min_rounds ran by then (a machine crowded
  // with other work: rounds then take milliseconds); those still run, within 2.5 budgets
  // (two runs per test stay inside the watchdog's 30 s).
  const auto t0 = std::chrono::steady_clock::now(), t_end = t0 + budget, t_hard = t0 + budget * 5 / 2;
  const long min_rounds = std::min(rounds, min_lockstep_rounds);
  long r = 1;
  auto more = [&] {
    auto now = std::chrono::steady_clock::now();
    return r <= rounds && (now < t_end || (r <= min_rounds && now < t_hard));
  };
  for (; more(); ++r) {
    setup(r);
    go.store(r, std::memory_order_release);  // pairs with the worker's acquire
    race(r);
    await_round(done, r, nullptr);
    check(r);
  }
  stop.store(true);
  worker.join();
  return r - 1;
}

// How a non-blocking alternation gives up: otherwise(f), otherwise(0ns, f), otherwise(1us, f).
enum class give_up { otherwise, zero_timeout, short_timeout };
std::string name(give_up g) {
  switch (g) {
    case give_up::otherwise: return "otherwise(f)";
    case give_up::zero_timeout: return "otherwise(0ns, f)";
    case give_up::short_timeout: return "otherwise(1us, f)";
  }
  return "?";
}

// Run `f(otherwise clause)` with the otherwise clause of kind `g`.
template <class F, class Other>
sluice::alt_result with_give_up(give_up g, Other on_other, F f) {
  switch (g) {
    case give_up::otherwise: return f(sluice::otherwise(on_other));
    case give_up::zero_timeout: return f(sluice::otherwise(0ns, on_other));
    case give_up::short_timeout: return f(sluice::otherwise(1us, on_other));
  }
  return {sluice::npos, status::empty};
}

// The forms of the alternation over (c1, c2): fair_alt, pri_alt in both orders, pri_alt
// with six idle receive clauses between c2 and c1 (a wider window between the looks at the
// two), and a sluice::alternation built once (fair()).
enum class form { fair, pri_c1_first, pri_c2_first, pri_c2_idle_c1, dynamic };
constexpr int n_forms = 5;
std::string name(form f) {
  switch (f) {
    case form::fair: return "fair_alt(c1, c2)";
    case form::pri_c1_first: return "pri_alt(c1, c2)";
    case form::pri_c2_first: return "pri_alt(c2, c1)";
    case form::pri_c2_idle_c1: return "pri_alt(c2, 6 idle, c1)";
    case form::dynamic: return "alternation{c1, c2}.fair()";
  }
  return "?";
}

// Run the alternation of form `f` (not dynamic) over x (c1) and y (c2) with `other`.
template <class H, class Other>
sluice::alt_result run_form(form f, channel<int>& x, channel<int>& y, channel<int> (&idle)[6], H on_value,
                            Other& other) {
  using sluice::on_recv;
  auto i = [](int) {};
  switch (f) {
    case form::fair: return sluice::fair_alt(on_recv(x, on_value), on_recv(y, on_value), other);
    case form::pri_c1_first: return sluice::pri_alt(on_recv(x, on_value), on_recv(y, on_value), other);
    case form::pri_c2_first: return sluice::pri_alt(on_recv(y, on_value), on_recv(x, on_value), other);
    default:
      return sluice::pri_alt(on_recv(y, on_value), on_recv(idle[0], i), on_recv(idle[1], i), on_recv(idle[2], i),
                             on_recv(idle[3], i), on_recv(idle[4], i), on_recv(idle[5], i), on_recv(x, on_value),
                             other);
  }
}

struct tally {
  long rounds = 0;
  long gave_up[n_forms] = {};
  std::string first;
  long total() const {
    long t = 0;
    for (long g : gave_up) t += g;
    return t;
  }
  void record(long r, form f, const std::string& what) {
    ++gave_up[static_cast<int>(f)];
    if (first.empty()) first = "round " + std::to_string(r) + ", " + name(f) + ": " + what;
  }
  std::string summary() const {
    std::string s;
    for (int i = 0; i < n_forms; ++i) s += name(static_cast<form>(i)) + ": " + std::to_string(gave_up[i]) + "  ";
    return s + "(first: " + first + ")";
  }
};

// Go's TestNonblockSelectRace, crossbeam's linearizable_try/_timeout/_default. Each round
// c1 holds one value and c2 is empty. The worker runs a non-blocking alternation receiving
// from c1 or c2; meanwhile the main thread sends on c2 and then try_recv()s c1. At every
// moment one of the two holds a value until the alternation takes one, so it must never
// give up.
tally nonblock_select_race(bool unbounded, give_up g, long rounds) {
  channel<int> c1 = unbounded ? channel<int>(sluice::unbounded) : channel<int>(1);
  channel<int> c2 = unbounded ? channel<int>(sluice::unbounded) : channel<int>(1);
  channel<int> idle[6] = {channel<int>(1), channel<int>(1), channel<int>(1),
                          channel<int>(1), channel<int>(1), channel<int>(1)};  // nobody sends on these
  tally t;
  sluice::alt_result result{};
  bool gave_up = false;
  int taken = 0;
  form f = form::fair;
  auto on_value = [&](int v) { taken = v; };
  auto on_other = [&] { gave_up = true; };
  sluice::alternation dyn;
  dyn.add(sluice::on_recv(c1, on_value));
  dyn.add(sluice::on_recv(c2, on_value));
  switch (g) {
    case give_up::otherwise: dyn.add(sluice::otherwise(on_other)); break;
    case give_up::zero_timeout: dyn.add(sluice::otherwise(0ns, on_other)); break;
    case give_up::short_timeout: dyn.add(sluice::otherwise(1us, on_other)); break;
  }

  t.rounds = lockstep(
      rounds, 5s,
      [&](long r) {  // setup: c1 holds one value, c2 is empty
        f = static_cast<form>(r % n_forms);
        gave_up = false;
        taken = 0;
        if (c1.try_send(1) != status::ok) die("c1 was not empty at the start of a round");
      },
      [&](long) {  // the worker: one non-blocking alternation
        if (f == form::dynamic) {
          result = dyn.fair();
        } else {
          result = with_give_up(g, on_other, [&](auto other) { return run_form(f, c1, c2, idle, on_value, other); });
        }
      },
      [&](long r) {  // the main thread: a value into c2, then take c1's (the delay sweeps the worker's call)
        jitter(15 + static_cast<unsigned>((r * 7) % 61));
        if (c2.send(2) != status::ok) die("send on c2 failed");
        (void)c1.try_recv();
      },
      [&](long r) {  // both done: check, and empty both channels for the next round
        if (gave_up || result.status == status::timeout) {
          t.record(r, f, "gave up (" + name(g) + ") although c1 or c2 held a value throughout");
        } else if (result.status != status::ok || taken == 0) {
          t.record(r, f, "returned " + std::string(sluice::to_string(result.status)));
        }
        (void)c1.try_recv();
        (void)c2.try_recv();
        if (c1.size() != 0 || c2.size() != 0) die("a channel was not drained");
      });
  return t;
}

void run_nonblock_select_race(give_up g) {
  const long rounds = sluice_test::scaled(20000);
  for (bool unbounded : {false, true}) {
    tally t = nonblock_select_race(unbounded, g, rounds);
    EXPECT_EQ(t.total(), 0) << (unbounded ? "unbounded" : "capacity 1") << ", " << name(g) << ": gave up in "
                            << t.total() << " of " << t.rounds << " rounds; " << t.summary();
    EXPECT_GE(t.rounds, std::min(rounds, min_lockstep_rounds)) << "too few rounds in the time allowed";
    std::printf("[ info ] %s, %s: %ld rounds, gave up %ld times\n", unbounded ? "unbounded" : "capacity 1",
                name(g).c_str(), t.rounds, t.total());
  }
}

// Issue 9, point 7 (Go: TestNonblockSelectRace; crossbeam: linearizable_try, _default).
// Before: otherwise ran while c1 or c2 held a value, in every form that can look at c2
// before c1 (never in pri_alt(c1, c2)): here tens to a few thousand times in 120000 rounds.
TEST(AltLinearizable, OtherwiseNeverRunsWhileAClauseIsReady) {
  watchdog wd;
  run_nonblock_select_race(give_up::otherwise);
}

// Issue 9, point 7 (crossbeam: linearizable_timeout with a zero timeout). Before: as above.
TEST(AltLinearizable, ZeroTimeoutNeverReportsTimeoutWhileAClauseIsReady) {
  watchdog wd;
  run_nonblock_select_race(give_up::zero_timeout);
}

// Issue 9, point 7 (crossbeam: linearizable_timeout). A 1 us timeout expires during the
// race; the last look before reporting timeout must be linearizable too.
TEST(AltLinearizable, ShortTimeoutNeverExpiresWhileAClauseIsReady) {
  watchdog wd;
  run_nonblock_select_race(give_up::short_timeout);
}

// Issue 9, point 7 (Go: TestNonblockSelectRace2). As above, but the main thread closes a
// fresh c2 instead of sending on it: a receive on a closed channel is ready (it reports
// closed), so otherwise must never run either.
TEST(AltLinearizable, CloseRaceNeverRunsOtherwise) {
  watchdog wd;
  const long rounds = sluice_test::scaled(20000);
  for (bool unbounded : {false, true}) {
    channel<int> c1 = unbounded ? channel<int>(sluice::unbounded) : channel<int>(1);
    channel<int> c2;
    channel<int> idle[6] = {channel<int>(1), channel<int>(1), channel<int>(1),
                            channel<int>(1), channel<int>(1), channel<int>(1)};  // nobody sends on these
    tally t;
    sluice::alt_result result{};
    bool gave_up = false;
    form f = form::fair;
    give_up g = give_up::otherwise;
    auto on_value = [](sluice::recv_result<int>) {};
    auto on_other = [&] { gave_up = true; };
    t.rounds = lockstep(
        rounds, 5s,
        [&](long r) {
          f = static_cast<form>(r % 4);  // all but the dynamic form (c2 is new each round)
          g = static_cast<give_up>((r / 4) % 2);
          gave_up = false;
          c2 = unbounded ? channel<int>(sluice::unbounded) : channel<int>(1);
          if (c1.try_send(1) != status::ok) die("c1 was not empty at the start of a round");
        },
        [&](long) {
          channel<int> x = c1, y = c2;
          result = with_give_up(g, on_other, [&](auto other) { return run_form(f, x, y, idle, on_value, other); });
        },
        [&](long r) {
          jitter(15 + static_cast<unsigned>((r * 7) % 61));
          c2.close();
          (void)c1.try_recv();
        },
        [&](long r) {
          if (gave_up || result.status == status::timeout) {
            t.record(r, f, "gave up (" + name(g) + ") although c1 held a value or c2 was closed throughout");
          }
          (void)c1.try_recv();
        });
    EXPECT_EQ(t.total(), 0) << (unbounded ? "unbounded" : "capacity 1") << ": gave up in " << t.total() << " of "
                            << t.rounds << " rounds; " << t.summary();
    EXPECT_GE(t.rounds, std::min(rounds, min_lockstep_rounds)) << "too few rounds in the time allowed";
    std::printf("[ info ] %s: %ld rounds, gave up %ld times\n", unbounded ? "unbounded" : "capacity 1", t.rounds,
                t.total());
  }
}

// A value whose moves take ~1 us in threads that set `slow_moves`: a background send then
// stays in flight (its slot reserved, not yet written) long enough to be seen.
thread_local bool slow_moves = false;
struct busy_value {
  long v;
  explicit busy_value(long x) : v(x) {}
  busy_value(const busy_value& o) = default;
  busy_value(busy_value&& o) noexcept : v(o.v) {
    if (!slow_moves) return;
    auto t0 = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - t0 < 1us) {
    }
  }
};

// Issue 9, point 7: "own send, then alternate". Two background threads each loop send-then-
// receive on channel c (their moves are slow: their sends stay in flight ~1 us), so every
// thread, ours included, has at most one value of its own in c, and c holds a value that is
// written and not yet taken whenever some thread is between its send and its receive. The
// main thread sends (ok) and then runs an alternation receiving from c with otherwise
// (fair_alt with otherwise(f) and otherwise(1us, f), pri_alt with otherwise(0ns, f)): c
// holds at least one value throughout, so otherwise must never run, even when the value at
// the head of c is still being written (the alternation must then wait for it, as a try_recv
// would, since it is not the only one). Before: the alternation skipped c when its hint said
// not ready (the head slot still being written by a background send, or a stale hint) and
// ran otherwise, up to thousands of times in 150000 rounds at capacity 4.
TEST(AltLinearizable, OwnSendThenAltNeverRunsOtherwise) {
  watchdog wd;
  const long rounds = sluice_test::scaled(50000);
  for (bool unbounded : {false, true}) {
    channel<busy_value> c = unbounded ? channel<busy_value>(sluice::unbounded) : channel<busy_value>(4);  // never full
    std::atomic<bool> stop{false};
    std::vector<std::thread> background;
    for (int k = 0; k < 2; ++k) {
      background.emplace_back([&, k] {
        slow_moves = true;
        for (long i = 0; !stop.load(std::memory_order_relaxed); ++i) {  // a flag/counter: ordered by the rounds' own synchronisation
          if (c.send(busy_value(k * 1000000000L + i)) != status::ok) die("a background send failed");
          if (!c.recv()) die("a background receive failed");
        }
      });
    }
    long gave_up = 0, done = 0;
    std::string first;
    const auto t_end = std::chrono::steady_clock::now() + 5s;
    for (long r = 0; r < rounds && std::chrono::steady_clock::now() < t_end; ++r, ++done) {
      if (c.send(busy_value(-r)) != status::ok) die("the main thread's send failed");
      bool other = false, got = false;
      auto on_value = [&](const busy_value&) { got = true; };
      auto on_other = [&] { other = true; };
      sluice::alt_result res;
      switch (r % 3) {
        case 0: res = sluice::fair_alt(sluice::on_recv(c, on_value), sluice::otherwise(on_other)); break;
        case 1: res = sluice::pri_alt(sluice::on_recv(c, on_value), sluice::otherwise(0ns, on_other)); break;
        default: res = sluice::fair_alt(sluice::on_recv(c, on_value), sluice::otherwise(1us, on_other)); break;
      }
      if (other || !got) {
        ++gave_up;
        if (first.empty()) {
          first = "round " + std::to_string(r) + ": alternation returned {" + std::to_string(res.index) + ", " +
                  sluice::to_string(res.status) + "}";
        }
        // Take our value back some other way, so that the accounting stays exact.
        if (!c.recv_for(5s)) die("the main thread's value was lost");
      }
    }
    stop.store(true);
    for (auto& t : background) t.join();
    EXPECT_EQ(gave_up, 0) << (unbounded ? "unbounded" : "capacity 4") << ": otherwise ran in " << gave_up << " of "
                          << done << " rounds although the channel held our value; " << first;
    EXPECT_GE(done, std::min(rounds, 1000L)) << "too few rounds in the time allowed";
    std::printf("[ info ] %s: %ld rounds, otherwise ran %ld times\n", unbounded ? "unbounded" : "capacity 4", done,
                gave_up);
  }
}

}  // namespace
