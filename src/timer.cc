// The process-wide timer service behind sluice::after and sluice::tick.
//
// Invariants:
//   - One thread owns a min-heap of pending timers; other threads hand it new timers through
//     an unbounded channel, so the heap needs no lock. The thread blocks in recv_until on
//     that channel with the earliest due time as deadline: all waiting goes through the
//     parker like any other sluice operation.
//   - The heap holds weak references: a timer channel that no handle keeps alive is dropped
//     at its next due time.
//   - A fire never blocks: try_send into a capacity-1 channel (a full tick channel drops the
//     tick; an after channel is fired once).
//   - A callback timer (internal::call_after) runs its function on the timer thread: callers
//     pass functions that only hand work elsewhere (the port scheduler), never block.
//   - Due times saturate: one past what steady_clock can represent is never, and a timer
//     that is due never is not put on the heap at all (nor back on it after a tick).
#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <queue>
#include <stdexcept>
#include <thread>
#include <vector>

#include "sluice/timer.hpp"

namespace sluice {
namespace {

using clock = std::chrono::steady_clock;
using tp_chan = internal::chan<clock::time_point>;

// t + d for d >= 0, or time_point::max() (never) when that does not fit in the clock.
clock::time_point later(clock::time_point t, std::chrono::nanoseconds d) noexcept {
  if (d >= clock::time_point::max() - t) return clock::time_point::max();
  return t + d;
}

struct timer {
  clock::time_point due;
  std::chrono::nanoseconds period;  // zero: fire once
  std::weak_ptr<tp_chan> target;
  std::function<void()> callback;   // instead of a channel: internal::call_after
  bool operator>(const timer& o) const noexcept { return due > o.due; }
};

class timer_service {
 public:
  static timer_service& get() {
    static timer_service s;
    return s;
  }

  void add(timer t) {
    internal::source<timer> src = internal::source<timer>::moving(t);
    internal::core_of(requests_)->send(src, internal::deadline::never());
  }

  ~timer_service() {
    requests_.close();
    if (thread_.joinable()) thread_.join();
  }

 private:
  timer_service() : requests_(unbounded), thread_([this] { run(); }) {}

  void run() {
    std::priority_queue<timer, std::vector<timer>, std::greater<>> heap;
    internal::chan<timer>* reqs = internal::core_of(requests_);
    for (;;) {
      internal::deadline d = heap.empty() ? internal::deadline::never() : internal::deadline::at(heap.top().due);
      std::optional<timer> t;
      status s = reqs->recv(t, d);
      if (s == status::ok) {
        heap.push(std::move(*t));
        continue;
      }
      if (s == status::closed) return;
      fire_due(heap);
    }
  }

  static void fire_due(std::priority_queue<timer, std::vector<timer>, std::greater<>>& heap) {
    clock::time_point now = clock::now();
    while (!heap.empty() && heap.top().due <= now) {
      timer t = heap.top();
      heap.pop();
      if (t.callback) {
        t.callback();  // short and non-blocking by contract (call_after)
        continue;
      }
      std::shared_ptr<tp_chan> ch = t.target.lock();
      if (!ch) continue;
      clock::time_point v = t.due;
      ch->send(internal::source<clock::time_point>::moving(v), internal::deadline::now());
      if (t.period.count() > 0) {
        while (t.due <= now) t.due = later(t.due, t.period);  // skip ticks we are late for (as Go does)
        if (t.due != clock::time_point::max()) heap.push(std::move(t));
      }
    }
  }

  channel<timer> requests_;
  std::thread thread_;
};

timer_channel make(std::chrono::nanoseconds delay, std::chrono::nanoseconds period) {
  timer_channel ch(1, overflow::drop_newest);
  clock::time_point due = later(clock::now(), std::max(delay, std::chrono::nanoseconds::zero()));
  if (due == clock::time_point::max()) return ch;  // never fires: nothing to schedule
  timer_service::get().add(timer{due, period, internal::channel_access::share(ch), {}});
  return ch;
}

}  // namespace

timer_channel after_ns(std::chrono::nanoseconds d) { return make(d, std::chrono::nanoseconds::zero()); }

void internal::call_after(std::chrono::nanoseconds d, std::function<void()> f) {
  clock::time_point due = later(clock::now(), std::max(d, std::chrono::nanoseconds::zero()));
  if (due == clock::time_point::max()) return;  // never
  timer_service::get().add(timer{due, std::chrono::nanoseconds::zero(), {}, std::move(f)});
}

timer_channel tick_ns(std::chrono::nanoseconds period) {
  if (period.count() <= 0) throw std::invalid_argument("sluice::tick: period must be positive");
  return make(period, period);
}

}  // namespace sluice
