// sluice next to the channels and queues people use today, on crossbeam-channel's workload
// shapes. Prints one JSON object per line on stdout (progress on stderr); bench/report.py
// turns them, with the Go program's lines, into the table and the plot.
//
//   compare [--messages N] [--threads T] [--only W,...] [--impl I,...] [--caps C,...]
//           [--mode throughput|latency|oversub|floor|busy|list] [--slow-divisor K]
#include <linux/futex.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "compare/adapters.hpp"
#include "compare/workloads.hpp"

namespace compare {
namespace {

struct options {
  std::uint64_t messages = 5'000'000;
  int threads = 4;
  std::set<std::string> only, impls, caps;
  std::string mode = "throughput";
  // Peers whose cap0/cap1 runs block in the kernel for every message (mutex+condvar, TBB,
  // Boost.Fiber) take minutes at N = 5M; the quick run gives them N / slow_divisor
  // messages, and the report scales and marks those cells.
  std::uint64_t slow_divisor = 1;
};

std::set<std::string> split(const std::string& s) {
  std::set<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) {
    if (!item.empty()) out.insert(item);
  }
  return out;
}

bool wanted(const std::set<std::string>& filter, const std::string& x) { return filter.empty() || filter.count(x); }

// Context switches of this process so far: voluntary (blocked: a futex wait, a sleep) and
// involuntary (preempted, or a sched_yield that ran someone else).
struct switches {
  long voluntary = 0, involuntary = 0;
  static switches now() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return {ru.ru_nvcsw, ru.ru_nivcsw};
  }
};

// Runs one workload and reports it, with the context switches it caused per message.
template <class F>
void measure(const char* impl, const char* note, const std::string& workload, const char* capname, int threads,
             std::uint64_t n, F&& run) {
  switches s0 = switches::now();
  outcome o = run();
  switches s1 = switches::now();
  double per = static_cast<double>(std::max<std::uint64_t>(n, 1));
  std::printf("{\"impl\": \"%s\", \"note\": \"%s\", \"workload\": \"%s\", \"cap\": \"%s\", \"threads\": %d, "
              "\"messages\": %llu, \"seconds\": %.6f, \"vcsw_per_message\": %.4f, \"ivcsw_per_message\": %.4f, "
              "\"ok\": %s}\n",
              impl, note, workload.c_str(), capname, threads, static_cast<unsigned long long>(n), o.seconds,
              static_cast<double>(s1.voluntary - s0.voluntary) / per,
              static_cast<double>(s1.involuntary - s0.involuntary) / per, o.ok ? "true" : "false");
  std::fflush(stdout);
  std::fprintf(stderr, "  %-36s %-12s %-9s %8.3f s%s\n", impl, workload.c_str(), capname, o.seconds,
               o.ok ? "" : "  CHECKSUM FAILED");
}

const cap all_caps[] = {cap::zero, cap::one, cap::big, cap::unbounded};

template <class A>
void run_adapter(const options& opt) {
  if (!wanted(opt.impls, A::name)) return;
  using fn = outcome (*)(typename A::chan, std::uint64_t, int);
  const std::pair<const char*, fn> workloads[] = {
      {"seq", &seq<A>}, {"spsc", &spsc<A>}, {"mpsc", &mpsc<A>}, {"mpmc", &mpmc<A>}};
  for (auto& [wname, f] : workloads) {
    if (!wanted(opt.only, wname)) continue;
    for (cap c : all_caps) {
      if (!wanted(opt.caps, cap_name(c))) continue;
      if (std::string(wname) == "seq" && (c == cap::zero || c == cap::one)) continue;  // needs room for N
      if (std::string(A::name) == std::string(boost_spsc_adapter::name) && std::string(wname) != "spsc") continue;
      std::uint64_t n = opt.messages;
      bool slow = (c == cap::zero || c == cap::one) && std::string(A::name) != "sluice" &&
                  std::string(A::name) != boost_spsc_adapter::name;
      if (slow) n = std::max<std::uint64_t>(1000, n / opt.slow_divisor);
      auto ch = A::make(c, n);
      if (!ch) continue;
      measure(A::name, A::note, wname, cap_name(c), opt.threads, n, [&] { return f(*ch, n, opt.threads); });
    }
  }
}

void run_select(const options& opt) {
  if (!wanted(opt.impls, "sluice")) return;
  const std::pair<const char*, outcome (*)(cap, std::uint64_t, int)> workloads[] = {{"select_rx", &select_rx},
                                                                                  {"select_both", &select_both}};
  for (auto& [wname, f] : workloads) {
    if (!wanted(opt.only, wname)) continue;
    for (cap c : all_caps) {
      if (!wanted(opt.caps, cap_name(c))) continue;
      measure("sluice", "", wname, cap_name(c), opt.threads, opt.messages, [&] { return f(c, opt.messages, opt.threads); });
    }
  }
}

// --- Latency -------------------------------------------------------------------------------

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void emit_latency(const char* impl, const char* what, double ns) {
  std::printf("{\"impl\": \"%s\", \"workload\": \"%s\", \"cap\": \"-\", \"ns\": %.1f, \"ok\": true}\n", impl, what, ns);
  std::fflush(stdout);
  std::fprintf(stderr, "  %-36s %-28s %10.1f ns\n", impl, what, ns);
}

// Round trips per second between two threads, as a median of 5 batches.
template <class F>
double round_trip_ns(std::uint64_t rounds, F&& batch) {
  std::vector<double> samples;
  for (int i = 0; i < 5; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    batch(rounds);
    samples.push_back(seconds_since(t0) * 1e9 / static_cast<double>(rounds));
  }
  return median(samples);
}

// A spinning cache-line ping-pong for at most `rounds` round trips or about `limit`, whichever
// comes first (with busy neighbours a spinner that lost its core stalls its partner for a
// scheduler slice, and a fixed count could take minutes). Returns the round trips made.
std::uint64_t spin_floor_for(std::uint64_t rounds, std::chrono::nanoseconds limit) {
  constexpr std::uint64_t stop = ~std::uint64_t{0};
  alignas(128) std::atomic<std::uint64_t> ping{0};
  alignas(128) std::atomic<std::uint64_t> pong{0};
  std::thread echo([&] {
    for (std::uint64_t seen = 0;;) {
      std::uint64_t v;
      while ((v = ping.load(std::memory_order_acquire)) == seen) {}  // pairs with the main thread's release
      if (v == stop) return;
      pong.store(v, std::memory_order_release);  // pairs with the main thread's acquire
      seen = v;
    }
  });
  auto end = std::chrono::steady_clock::now() + limit;
  std::uint64_t i = 1;
  for (; i <= rounds; ++i) {
    ping.store(i, std::memory_order_release);             // pairs with echo's acquire
    while (pong.load(std::memory_order_acquire) != i) {}  // pairs with echo's release
    if (i % 1024 == 0 && std::chrono::steady_clock::now() > end) break;
  }
  ping.store(stop, std::memory_order_release);  // pairs with echo's acquire
  echo.join();
  return std::min(i, rounds);
}

void spin_floor(std::uint64_t rounds) { spin_floor_for(rounds, std::chrono::hours(1)); }

// The spin round trip as a median of 5 batches of at most `rounds`, each cut at 0.2 s.
double spin_round_trip_ns(std::uint64_t rounds) {
  std::vector<double> samples;
  for (int i = 0; i < 5; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    std::uint64_t done = spin_floor_for(rounds, std::chrono::milliseconds(200));
    samples.push_back(seconds_since(t0) * 1e9 / static_cast<double>(done));
  }
  return median(samples);
}

void sluice_ping_pong(std::size_t capacity, std::uint64_t rounds) {
  sluice::channel<std::uint64_t> ping(capacity), pong(capacity);
  std::thread echo([&] {
    for (std::uint64_t i = 0; i < rounds; ++i) pong.send(*ping.recv());
  });
  for (std::uint64_t i = 0; i < rounds; ++i) {
    ping.send(i);
    if (*pong.recv() != i) std::abort();
  }
  echo.join();
}

void futex_ping_pong(std::uint64_t rounds) {
  alignas(128) std::atomic<std::uint32_t> word{0};
  auto wait = [&](std::uint32_t v) {
    while (word.load(std::memory_order_acquire) == v) {  // pairs with the other side's release
      syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT_PRIVATE, v, nullptr, nullptr, 0);
    }
  };
  auto set = [&](std::uint32_t v) {
    word.store(v, std::memory_order_release);  // pairs with the acquire load in wait
    syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
  };
  std::thread echo([&] {
    for (std::uint64_t i = 0; i < rounds; ++i) {
      wait(0);
      set(0);
    }
  });
  for (std::uint64_t i = 0; i < rounds; ++i) {
    set(1);
    wait(1);
  }
  echo.join();
}

// Wake-up latency: the receiver has long since parked when the value is sent; measured from
// just before send to the receiver's return, median of `samples`.
double sluice_wake_ns(int samples) {
  sluice::channel<std::chrono::steady_clock::time_point> c;
  std::vector<double> out;
  std::thread rx([&] {
    for (int i = 0; i < samples; ++i) {
      auto sent = *c.recv();
      out.push_back(std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - sent).count());
    }
  });
  for (int i = 0; i < samples; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    c.send(std::chrono::steady_clock::now());
  }
  rx.join();
  return median(out);
}

double futex_wake_ns(int samples) {
  alignas(128) std::atomic<std::uint32_t> word{0};
  std::atomic<std::int64_t> stamp{0};
  std::vector<double> out;
  std::thread rx([&] {
    for (int i = 1; i <= samples; ++i) {
      while (word.load(std::memory_order_acquire) != static_cast<std::uint32_t>(i)) {  // pairs with the release store
        syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT_PRIVATE, i - 1, nullptr, nullptr, 0);
      }
      auto now = std::chrono::steady_clock::now().time_since_epoch().count();
      out.push_back(static_cast<double>(now - stamp.load(std::memory_order_relaxed)));  // ordered by word
    }
  });
  for (int i = 1; i <= samples; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    stamp.store(std::chrono::steady_clock::now().time_since_epoch().count(), std::memory_order_relaxed);  // published by word
    word.store(static_cast<std::uint32_t>(i), std::memory_order_release);  // pairs with the acquire load
    syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
  }
  rx.join();
  return median(out);
}

void run_latency(const options& opt) {
  const std::uint64_t rounds = std::max<std::uint64_t>(20000, opt.messages / 50);
  emit_latency("floor", "spin ping-pong round trip", round_trip_ns(rounds, spin_floor));
  emit_latency("sluice", "ping-pong round trip cap0", round_trip_ns(rounds, [](std::uint64_t r) { sluice_ping_pong(0, r); }));
  emit_latency("sluice", "ping-pong round trip cap1", round_trip_ns(rounds, [](std::uint64_t r) { sluice_ping_pong(1, r); }));
  emit_latency("floor", "futex ping-pong round trip", round_trip_ns(2000, futex_ping_pong));
  emit_latency("floor", "futex wake latency", futex_wake_ns(200));
  emit_latency("sluice", "parked receiver wake latency", sluice_wake_ns(200));
}

// --- Oversubscription: mpmc with 1, 4 and 8 threads per core ----------------------------

void run_oversub(const options& opt) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (cap c : {cap::zero, cap::one, cap::big}) {
    if (!wanted(opt.caps, cap_name(c))) continue;
    for (int per_core : {1, 4, 8}) {
      int t = std::max(1, per_core * cores / 2);  // t senders + t receivers = per_core * cores threads
      auto ch = sluice_adapter::make(c, opt.messages);
      std::string w = "mpmc_" + std::to_string(per_core) + "_per_core";
      measure("sluice", "", w, cap_name(c), t, opt.messages, [&] { return mpmc<sluice_adapter>(*ch, opt.messages, t); });
    }
  }
}

}  // namespace
}  // namespace compare

int main(int argc, char** argv) {
  using namespace compare;
  options opt;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "compare: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--messages") opt.messages = std::stoull(next());
    else if (a == "--threads") opt.threads = std::stoi(next());
    else if (a == "--only") opt.only = split(next());
    else if (a == "--impl") opt.impls = split(next());
    else if (a == "--caps") opt.caps = split(next());
    else if (a == "--mode") opt.mode = next();
    else if (a == "--slow-divisor") opt.slow_divisor = std::max<std::uint64_t>(1, std::stoull(next()));
    else {
      std::fprintf(stderr, "compare: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (opt.mode == "list") {  // one implementation name per line (tools/bench runs each in its own process)
    for (const char* name : {sluice_adapter::name, boost_queue_adapter::name, boost_spsc_adapter::name,
                             moodycamel_adapter::name, tbb_adapter::name, fiber_adapter::name, mutex_adapter::name}) {
      std::printf("%s\n", name);
    }
  } else if (opt.mode == "floor") {
    // The machine's cross-core round trip right now: on the shared development machines it
    // moves between ~120 and ~500 ns from one minute to the next, and every hand-off
    // between threads on different cores scales with it.
    emit_latency("floor", "cross-core round trip (throughput run)", spin_round_trip_ns(200000));
    // The kernel's floor for a thread hand-off when it has to block: two threads waking each
    // other with FUTEX_WAKE and sleeping with FUTEX_WAIT, one wake each way per round trip.
    emit_latency("floor", "futex round trip (throughput run)", round_trip_ns(2000, futex_ping_pong));
  } else if (opt.mode == "busy") {
    // A busy neighbour for tools/bench --load: one thread spinning until killed.
    std::atomic<std::uint64_t> spins{0};
    for (;;) spins.fetch_add(1, std::memory_order_relaxed);  // a counter nobody reads: just work
  } else if (opt.mode == "latency") {
    run_latency(opt);
  } else if (opt.mode == "oversub") {
    run_oversub(opt);
  } else {
    run_adapter<sluice_adapter>(opt);
    run_select(opt);
    run_adapter<boost_queue_adapter>(opt);
    run_adapter<boost_spsc_adapter>(opt);
    run_adapter<moodycamel_adapter>(opt);
    run_adapter<tbb_adapter>(opt);
    run_adapter<fiber_adapter>(opt);
    run_adapter<mutex_adapter>(opt);
  }
  return 0;
}
