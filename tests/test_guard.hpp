// Guards and timing helpers shared by sluice's concurrency tests (GoogleTest only):
//   - watchdog: a thread that ends the run with _Exit(1) and the running test's name when a
//     test is still going after watchdog_limit (30 s; 120 s under a sanitizer), so a hung
//     test names itself instead of stalling CI; optionally with the stage it had reached;
//   - die(why): print "FATAL: why" and _Exit(1) (for threads that cannot ASSERT);
//   - ms_since(t0), wait_until(pred, limit): timing and polling;
//   - usable_cpus(), pin_to(cpu), two_cpus: put two racing threads on two different CPUs
//     (Linux; elsewhere, or with a single CPU, nothing is pinned);
//   - jitter(n): a short busy wait of n pause steps.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#if defined(__linux__)
#include <pthread.h>
#include <sched.h>
#include <unistd.h>
#endif

namespace sluice_test {

// --- A watchdog: a hung test ends the run with its name instead of stalling CI.
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
inline constexpr std::chrono::seconds watchdog_limit{120};
#else
inline constexpr std::chrono::seconds watchdog_limit{30};
#endif

// Started by constructing it at the top of a test; stopped by its destructor. Given a stage
// (at construction or by stage()), a hang also prints the stage the test was at.
class watchdog {
 public:
  watchdog() : watchdog(std::nullopt) {}
  explicit watchdog(std::optional<std::string> initial_stage)
      : stage_(std::move(initial_stage)), name_(current_test()), thread_([this] { watch(); }) {}
  ~watchdog() {
    {
      std::lock_guard<std::mutex> g(m_);
      done_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  watchdog(const watchdog&) = delete;
  watchdog& operator=(const watchdog&) = delete;
  // What the test is doing now, printed if it hangs.
  void stage(std::string s) {
    std::lock_guard<std::mutex> g(m_);
    stage_ = std::move(s);
  }

 private:
  static std::string current_test() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    return info ? std::string(info->test_suite_name()) + "." + info->name() : "?";
  }
  void watch() {
    std::unique_lock<std::mutex> l(m_);
    if (!cv_.wait_for(l, watchdog_limit, [this] { return done_; })) {
      if (stage_) {
        std::fprintf(stderr, "\nWATCHDOG: %s hung (still running after %llds) at: %s\n", name_.c_str(),
                     static_cast<long long>(watchdog_limit.count()), stage_->c_str());
      } else {
        std::fprintf(stderr, "\nWATCHDOG: %s hung (still running after %llds)\n", name_.c_str(),
                     static_cast<long long>(watchdog_limit.count()));
      }
      std::fflush(stderr);
      std::_Exit(1);
    }
  }
  std::mutex m_;
  std::condition_variable cv_;
  bool done_ = false;
  std::optional<std::string> stage_;
  std::string name_;
  std::thread thread_;
};

[[noreturn]] inline void die(const std::string& why) {
  std::fprintf(stderr, "\nFATAL: %s\n", why.c_str());
  std::fflush(stderr);
  std::_Exit(1);
}

inline double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// Poll `p` until it holds or `limit` passes.
template <class P>
bool wait_until(P p, std::chrono::milliseconds limit) {
  auto t0 = std::chrono::steady_clock::now();
  while (!p()) {
    if (std::chrono::steady_clock::now() - t0 > limit) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  return true;
}

// --- Two hot threads on two cores. A race between two threads can only happen while both
// run at once; on a busy 2-core machine the scheduler often keeps them on one core. So the
// race tests put the main thread and the worker on two different CPUs of those this process
// may use (Linux; elsewhere, or with a single CPU, nothing is pinned). The main thread gets
// its old CPU set back at the end of the test.
inline std::vector<int> usable_cpus() {
  std::vector<int> cpus;
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
    }
  }
#endif
  return cpus;
}

// Pin the calling thread to `cpu` (no-op for -1).
inline void pin_to(int cpu) {
#if defined(__linux__)
  if (cpu < 0) return;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  (void)pthread_setaffinity_np(pthread_self(), sizeof one, &one);
#else
  (void)cpu;
#endif
}

class two_cpus {
 public:
  two_cpus() {
#if defined(__linux__)
    std::vector<int> cpus = usable_cpus();
    if (cpus.size() < 2) return;
    saved_ = sched_getaffinity(0, sizeof old_, &old_) == 0;
    // Spread concurrent test processes over the CPUs: start at one chosen by the process id.
    const std::size_t first = static_cast<std::size_t>(getpid()) % cpus.size();
    main_cpu_ = cpus[first];
    worker_cpu_ = cpus[(first + 1) % cpus.size()];
    pin_to(main_cpu_);
#endif
  }
  ~two_cpus() {
#if defined(__linux__)
    if (saved_) (void)pthread_setaffinity_np(pthread_self(), sizeof old_, &old_);
#endif
  }
  two_cpus(const two_cpus&) = delete;
  two_cpus& operator=(const two_cpus&) = delete;
  // For the worker thread to call first.
  void pin_worker() const { pin_to(worker_cpu_); }

 private:
  int main_cpu_ = -1, worker_cpu_ = -1;
#if defined(__linux__)
  cpu_set_t old_;
  bool saved_ = false;
#endif
};

// A short busy wait of `n` pause steps (to move one thread's action across another's window).
inline void jitter(unsigned n) {
  for (unsigned i = 0; i < n; ++i) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#else
    std::atomic_signal_fence(std::memory_order_seq_cst);
#endif
  }
}

}  // namespace sluice_test
