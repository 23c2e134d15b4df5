// Shared by the node benchmark programs (bench/node): the result lines, the peer process
// (this binary run again with --peer ...), bounded waits and the latency summary.
#pragma once

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace nodebench {

using clock = std::chrono::steady_clock;

inline double secs_since(clock::time_point t0) {
  return std::chrono::duration<double>(clock::now() - t0).count();
}

// One result: {"system": ..., "metric": ..., "value": ..., "unit": ..., "n": ..., "ok": ...}.
// `extra` is more JSON members (", \"k\": v"), or "".
inline void emit(const std::string& system, const std::string& metric, double value, const char* unit, long n,
                 bool ok, const std::string& extra = "") {
  std::printf("{\"system\": \"%s\", \"metric\": \"%s\", \"value\": %.6g, \"unit\": \"%s\", \"n\": %ld, \"ok\": %s%s}\n",
              system.c_str(), metric.c_str(), value, unit, n, ok ? "true" : "false", extra.c_str());
  std::fflush(stdout);
}

// The peers alive now, SIGKILLed when this process fails or runs out of time (a stopped
// peer would otherwise stay stopped forever).
inline pid_t live[8];
inline void forget(pid_t pid) {
  for (auto& p : live) if (p == pid) p = 0;
}
inline void kill_live() {  // async-signal-safe
  for (auto p : live) if (p > 0) ::kill(p, SIGKILL);
}

// A benchmark that did not move what it should: say so on stderr and as a result line, exit 1.
[[noreturn]] inline void fail(const std::string& system, const std::string& what) {
  std::fprintf(stderr, "%s: FAILED: %s\n", system.c_str(), what.c_str());
  std::string text;  // as a JSON string
  for (char c : what) {
    if (c == '"' || c == '\\') text += '\\';
    text += (c == '\n' ? ' ' : c);
  }
  std::printf("{\"system\": \"%s\", \"metric\": \"error\", \"error\": \"%s\", \"ok\": false}\n", system.c_str(),
              text.c_str());
  std::fflush(stdout);
  kill_live();
  std::_Exit(1);  // peers end on their own (alarm), and threads may be blocked
}

// Median and 99th percentile of round trips, in microseconds.
struct summary {
  double median_us, p99_us;
};
inline summary summarize(std::vector<double> us) {
  std::sort(us.begin(), us.end());
  auto at = [&](double q) { return us[std::min(us.size() - 1, static_cast<std::size_t>(q * static_cast<double>(us.size())))]; };
  return {at(0.5), at(0.99)};
}

// The peer: this binary again, with the given arguments after --peer.
struct peer_process {
  pid_t pid = -1;
  explicit peer_process(std::vector<std::string> args) {
    std::string self = "/proc/self/exe";
    std::vector<char*> argv{self.data(), const_cast<char*>("--peer")};
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv.data(), environ) != 0) pid = -1;
    for (auto& p : live) {
      if (pid > 0 && p == 0) {
        p = pid;
        break;
      }
    }
  }
  // SIGKILL (a stopped process dies too) and reap, bounded.
  void kill9() {
    if (pid <= 0) return;
    ::kill(pid, SIGKILL);
    for (int i = 0; i < 500; ++i) {  // 5 s at most
      if (waitpid(pid, nullptr, WNOHANG) == pid) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    forget(pid);
    pid = -1;
  }
  ~peer_process() { kill9(); }
  peer_process(const peer_process&) = delete;
  peer_process& operator=(const peer_process&) = delete;
};

// Polls pred every ms until it holds or `limit` passes.
template <class P>
bool wait_until(P pred, std::chrono::milliseconds limit) {
  auto until = clock::now() + limit;
  while (clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return pred();
}

// Every process here ends by itself: a peer (or a main whose peer hangs) is ended by SIGALRM.
// A main that runs out of time kills its peers first.
inline void deadline(unsigned seconds) {
  signal(SIGALRM, [](int) {
    kill_live();
    static const char msg[] = "nodebench: out of time\n";
    [[maybe_unused]] auto r = write(2, msg, sizeof msg - 1);
    _exit(3);
  });
  alarm(seconds);
}

}  // namespace nodebench
