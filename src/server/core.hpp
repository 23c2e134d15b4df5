// run_server's private parts (see server.cc for the Invariants).
#pragma once

#include "sluice/server.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>

namespace sluice::detail {

// A system call failed in a way that only a bug can cause.
[[noreturn]] inline void die(const char* what, int err) {
  std::fprintf(stderr, "sluice::run_server: %s failed unexpectedly (errno %d); aborting\n", what, err);
  std::abort();
}

std::string describe(std::exception_ptr e);  // what() or "unknown exception"
void report(const server_options& opt, const std::string& peer, std::exception_ptr e) noexcept;

enum class cut_reason : int { none = 0, timeout = 1, stopping = 2 };

using clock = std::chrono::steady_clock;

// One connection: shared by its thread, the server's registry and, briefly, whoever shuts
// it down (so the stream outlives every shutdown() call on it).
struct connection_state {
  std::shared_ptr<stream> io;
  std::string peer;
  const server_options* opt = nullptr;
  std::optional<std::chrono::milliseconds> timeout;
  std::atomic<int> cut{0};  // a cut_reason, set once
  std::stop_source stop;

  // The server's, under server_core::m_.
  std::thread thread;  // handed to the reaper by whichever of acceptor and thread is second
  bool done = false;
  bool has_deadline = false;
  std::multimap<clock::time_point, std::shared_ptr<connection_state>>::iterator deadline;

  // The handler's thread only.
  std::vector<std::unique_ptr<std::stop_callback<std::function<void()>>>> callbacks;
  std::vector<std::thread> spawned;
  std::vector<std::shared_ptr<void>> kept;

  // Shut the connection down, once (any thread, no lock held).
  void cut_off(cut_reason why) noexcept;
  // Throws the shutdown's exception if there was one.
  void check() const;
  std::size_t read(void* p, std::size_t n);
  void write_all(const char* p, std::size_t n);
};

class server_core {
 public:
  // Listens (throws what the listen hook throws) and starts the watchdog.
  server_core(std::uint16_t port, connection_handler handler, std::optional<std::chrono::milliseconds> timeout,
              server_options opt);
  ~server_core();
  std::uint16_t port() const { return port_; }
  // Accepts until stop (or the listener ends), then closes the listener, drains and joins.
  void serve(std::stop_token stop);
  void wait_done();  // until serve has returned
  std::size_t active() const;
  std::uint64_t accepted() const { return accepted_.load(); }
  std::uint64_t refused() const { return refused_.load(); }

 private:
  void admit(std::unique_ptr<stream> s);
  void run_connection(const std::shared_ptr<connection_state>& st);
  void finished(const std::shared_ptr<connection_state>& st);
  void watchdog();
  void drain();
  void stop_watchdog();

  connection_handler handler_;
  std::optional<std::chrono::milliseconds> timeout_;
  server_options opt_;
  std::unique_ptr<listener> listener_;
  std::uint16_t port_ = 0;

  mutable std::mutex m_;
  std::condition_variable cv_;  // live_, finished_, deadlines_, quit_, done_ changed
  std::set<std::shared_ptr<connection_state>> live_;
  std::multimap<clock::time_point, std::shared_ptr<connection_state>> deadlines_;
  std::vector<std::thread> finished_;  // to join
  bool quit_ = false;
  bool done_ = false;
  std::thread watchdog_;

  std::atomic<std::uint64_t> accepted_{0}, refused_{0};
};

}  // namespace sluice::detail
