// Test helper: a port that collects the messages reaching it, with bounded waits.
#pragma once

#include <sluice/mp.hpp>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

namespace sluice_test {

struct inbox {
  // Shared with the port's handler: kil does not wait for a handler that is running, so what
  // it touches must outlive the inbox until the port's worker lets the handler go.
  struct state {
    std::mutex m;
    std::condition_variable cv;
    std::vector<sluice::mp::message> got;
  };
  std::shared_ptr<state> s = std::make_shared<state>();
  std::mutex& m = s->m;
  std::condition_variable& cv = s->cv;
  std::vector<sluice::mp::message>& got = s->got;  // read after wait_for, or under m
  sluice::mp::port_id port = sluice::mp::port([st = s](const sluice::mp::message& msg) {
    std::lock_guard<std::mutex> g(st->m);
    st->got.push_back(msg);
    st->cv.notify_all();
  });
  inbox() = default;
  inbox(const inbox&) = delete;
  inbox& operator=(const inbox&) = delete;
  // True once n messages arrived, false after `limit`.
  bool wait_for(std::size_t n, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    std::unique_lock<std::mutex> g(m);
    return cv.wait_for(g, limit, [&] { return got.size() >= n; });
  }
  // Ends the port; a handler still running keeps the state alive.
  ~inbox() { sluice::mp::kil(port); }
  std::size_t count() {
    std::lock_guard<std::mutex> g(m);
    return got.size();
  }
};

}  // namespace sluice_test
