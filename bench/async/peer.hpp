// The command line and the output line shared by bench/async's C++ peers (Boost.Asio
// channels, Boost.Fiber). Each peer is a list of cells (a workload at one capacity); every
// cell moves N messages, checks what it moved (a count and a checksum, or the token's final
// value) and prints one JSON line, the format bench/async/run.py reads and the Go peer prints:
//
//   {"impl": I, "note": ..., "workload": W, "cap": C, "tasks": K, "procs": 1, "messages": N,
//    "seconds": S, "ns_per_op": X, "ok": true}
//
// Options: --only W,...  --scale F (times each workload's default N)  --messages N (N for every
// cell)  --repeat K (each cell K times). Single-threaded peers: "procs" is always 1.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace async_bench {

struct options {
  std::set<std::string> only;
  double scale = 1;
  std::uint64_t messages = 0;  // 0: each cell's default
  int repeat = 1;
};

// What one run of a cell reports: whether its check passed, and the seconds of its timed part.
struct outcome {
  bool ok = false;
  double seconds = 0;
};

struct cell {
  const char* workload;
  const char* cap;
  const char* note;
  int tasks;
  std::uint64_t default_n;
  std::function<outcome(std::uint64_t n)> run;
};

// Seconds since construction (or the last restart), on the steady clock.
class stopwatch {
 public:
  void restart() { start_ = clock::now(); }
  double seconds() const { return std::chrono::duration<double>(clock::now() - start_).count(); }

 private:
  using clock = std::chrono::steady_clock;
  clock::time_point start_ = clock::now();
};

inline std::uint64_t sum_below(std::uint64_t n) { return n * (n - 1) / 2; }

inline std::set<std::string> split(const std::string& s) {
  std::set<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) {
    if (!item.empty()) out.insert(item);
  }
  return out;
}

inline options parse(int argc, char** argv, const char* prog) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "%s: %s: unknown or without a value\n", prog, a.c_str());
      std::exit(2);
    }
    std::string v = argv[++i];
    if (a == "--only") o.only = split(v);
    else if (a == "--scale") o.scale = std::strtod(v.c_str(), nullptr);
    else if (a == "--messages") o.messages = std::strtoull(v.c_str(), nullptr, 10);
    else if (a == "--repeat") o.repeat = std::atoi(v.c_str());
    else {
      std::fprintf(stderr, "%s: unknown option %s\n", prog, a.c_str());
      std::exit(2);
    }
  }
  return o;
}

inline std::uint64_t count(const cell& c, const options& o) {
  if (o.messages > 0) return o.messages;
  auto n = static_cast<std::uint64_t>(static_cast<double>(c.default_n) * o.scale);
  return n < 2 ? 2 : n;
}

inline void print_line(const char* impl, const cell& c, std::uint64_t n, outcome r) {
  double ns = r.seconds * 1e9 / static_cast<double>(n);
  std::printf("{\"impl\": \"%s\", \"note\": \"%s\", \"workload\": \"%s\", \"cap\": \"%s\", \"tasks\": %d, "
              "\"procs\": 1, \"messages\": %llu, \"seconds\": %.6f, \"ns_per_op\": %.2f, \"ok\": %s}\n",
              impl, c.note, c.workload, c.cap, c.tasks, static_cast<unsigned long long>(n), r.seconds, ns,
              r.ok ? "true" : "false");
  std::fflush(stdout);
  std::fprintf(stderr, "  %s %-11s %-8s %9.1f ns/op%s\n", impl, c.workload, c.cap, ns,
               r.ok ? "" : "  CHECK FAILED");
}

// Runs the wanted cells, each o.repeat times; the exit status: 1 when a check failed.
inline int run_cells(const char* impl, const std::vector<cell>& cells, const options& o) {
  int status = 0;
  for (const cell& c : cells) {
    if (!o.only.empty() && !o.only.count(c.workload)) continue;
    for (int r = 0; r < o.repeat; ++r) {
      std::uint64_t n = count(c, o);
      outcome out = c.run(n);
      print_line(impl, c, n, out);
      if (!out.ok) status = 1;
    }
  }
  return status;
}

}  // namespace async_bench
