// One subscriber's callbacks, in order, one at a time (private header of the node layer).
//
// db_mon and mon_nodes callbacks run on the port scheduler's threads, not on the io thread
// that sees the changes. Posted one task per change, two changes could run at once on two
// workers, or the later first, and a watcher that keeps the latest contents kept a stale
// one (seen: Node.TheDirectoryListsRegistrationsAndRoutesBetweenNodesThatNeverMet failed 1
// run in 25-40). A serial_calls queues a subscriber's calls; one drain task at a time runs
// them in the order they were pushed, like an Asio strand.
//
// Invariants:
//   - At most one drain runs per queue: `draining_` is set by the push that found it clear,
//     which alone starts a drain, and cleared by that drain, under m_, when it finds the
//     queue empty. So calls run in push order and never overlap.
//   - No call runs under m_, and a drain is started (posted) after m_ is released.
//   - A call that throws ends its drain with draining_ cleared (the exception goes on), so
//     the next push starts a new drain: the queue never jams.
#pragma once

#include <deque>
#include <functional>
#include <mutex>
#include <utility>

namespace sluice::mp::net {

class serial_calls {
 public:
  // Queues f; true when the caller must start a drain (post a task that calls drain()).
  bool push(std::function<void()> f) {
    std::lock_guard<std::mutex> g(m_);
    calls_.push_back(std::move(f));
    return !std::exchange(draining_, true);
  }

  // Runs the queued calls, in order, until none is left.
  void drain() {
    for (;;) {
      std::function<void()> f;
      {
        std::lock_guard<std::mutex> g(m_);
        if (calls_.empty()) {
          draining_ = false;
          return;
        }
        f = std::move(calls_.front());
        calls_.pop_front();
      }
      try {
        f();
      } catch (...) {
        std::lock_guard<std::mutex> g(m_);
        draining_ = false;  // what is queued waits for the next push's drain
        throw;
      }
    }
  }

 private:
  std::mutex m_;  // guards calls_ and draining_; never held while a call runs
  std::deque<std::function<void()>> calls_;
  bool draining_ = false;
};

}  // namespace sluice::mp::net
