// Test helper: a port that collects the messages reaching it, with bounded waits.
#pragma once

#include <sluice/mp.hpp>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <vector>

namespace sluice_test {

struct inbox {
  std::mutex m;
  std::condition_variable cv;
  std::vector<sluice::mp::message> got;  // read after wait_for, or under m
  sluice::mp::port_id port = sluice::mp::port([this](const sluice::mp::message& msg) {
    std::lock_guard<std::mutex> g(m);
    got.push_back(msg);
    cv.notify_all();
  });
  // True once n messages arrived, false after `limit`.
  bool wait_for(std::size_t n, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    std::unique_lock<std::mutex> g(m);
    return cv.wait_for(g, limit, [&] { return got.size() >= n; });
  }
  // Ends the port, so that nothing arriving later reaches a destroyed inbox.
  ~inbox() { sluice::mp::kil(port); }
  std::size_t count() {
    std::lock_guard<std::mutex> g(m);
    return got.size();
  }
};

}  // namespace sluice_test
