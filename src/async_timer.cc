// The deadlines of awaited operations: one thread, one min-heap of timers embedded in their
// operations (no allocation per timed wait), with removal when an operation finishes first.
//
// Invariants:
//   - `m_` guards the heap and every queued timer's fields. A timer is `queued` exactly while
//     it is in the heap (heap_index is its position), `firing` while the timer thread runs its
//     kick outside the lock, `idle` otherwise.
//   - Disarming a queued timer removes it at once, so finished operations leave nothing
//     behind (a loop of short timed waits does not pile up timers). Disarming a firing timer
//     waits until the fire is over, except on the firing thread itself (the kick finished the
//     operation inline): that disarm marks the timer idle and tells the timer thread, through
//     `tl_firing`, not to touch it again, since its op may be destroyed as soon as it returns.
//   - The timer thread is woken (after the lock is released) only when a new timer is due
//     before the time it sleeps toward. It is never joined: it lives as long as the process.
#include <condition_variable>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "sluice/internal/async_op.hpp"

namespace sluice::internal {
namespace {

using clock = std::chrono::steady_clock;
constexpr int idle = 0, queued = 1, firing = 2;

thread_local async_timer* tl_firing = nullptr;

class timer_queue {
 public:
  static timer_queue& get() {
    static timer_queue* q = new timer_queue;  // never destroyed: its thread may run until exit
    return *q;
  }

  void arm(async_timer* t) {
    bool wake;
    {
      std::lock_guard<std::mutex> g(m_);
      t->state = queued;
      t->heap_index = heap_.size();
      heap_.push_back(t);
      up(t->heap_index);
      wake = heap_.front() == t && t->due < sleeping_until_;
      if (wake) sleeping_until_ = t->due;
    }
    if (wake) cv_.notify_one();
  }

  void disarm(async_timer* t) noexcept {
    std::unique_lock<std::mutex> lk(m_);
    if (t->state == queued) {
      remove(t->heap_index);
      t->state = idle;
    } else if (t->state == firing) {
      if (tl_firing == t) {
        t->state = idle;
        tl_firing = nullptr;  // the fire must not touch t after its kick returns
      } else {
        fired_.wait(lk, [t] { return t->state != firing; });
      }
    }
  }

 private:
  timer_queue() { std::thread([this] { run(); }).detach(); }

  void run() {
    std::unique_lock<std::mutex> lk(m_);
    for (;;) {
      if (heap_.empty()) {
        sleeping_until_ = clock::time_point::max();
        cv_.wait(lk);
        continue;
      }
      async_timer* t = heap_.front();
      if (t->due > clock::now()) {
        // A copy: wait_until reads its time point after unlocking, when t may be disarmed and gone.
        const clock::time_point due = t->due;
        sleeping_until_ = due;
        cv_.wait_until(lk, due);
        continue;
      }
      sleeping_until_ = clock::time_point::min();  // awake: arm() need not wake us
      remove(0);
      t->state = firing;
      lk.unlock();
      tl_firing = t;
      fire_async_timer(t);
      bool touch = tl_firing == t;  // false: the op finished inside the kick and may be gone
      tl_firing = nullptr;
      lk.lock();
      if (touch) {
        t->state = idle;
        lk.unlock();
        fired_.notify_all();  // outside the lock
        lk.lock();
      }
    }
  }

  // Binary heap on due time, with each timer's position kept in heap_index.
  bool earlier(std::size_t a, std::size_t b) const noexcept { return heap_[a]->due < heap_[b]->due; }
  void swap_at(std::size_t a, std::size_t b) noexcept {
    std::swap(heap_[a], heap_[b]);
    heap_[a]->heap_index = a;
    heap_[b]->heap_index = b;
  }
  void up(std::size_t i) noexcept {
    while (i > 0 && earlier(i, (i - 1) / 2)) {
      swap_at(i, (i - 1) / 2);
      i = (i - 1) / 2;
    }
  }
  void down(std::size_t i) noexcept {
    for (;;) {
      std::size_t l = 2 * i + 1, r = l + 1, m = i;
      if (l < heap_.size() && earlier(l, m)) m = l;
      if (r < heap_.size() && earlier(r, m)) m = r;
      if (m == i) return;
      swap_at(i, m);
      i = m;
    }
  }
  void remove(std::size_t i) noexcept {
    std::size_t last = heap_.size() - 1;
    if (i != last) swap_at(i, last);
    heap_.pop_back();
    if (i < heap_.size()) {
      up(i);
      down(i);
    }
  }

  std::mutex m_;
  std::condition_variable cv_;     // the timer thread sleeps here
  std::condition_variable fired_;  // disarm waits here for a fire on another thread
  std::vector<async_timer*> heap_;
  clock::time_point sleeping_until_ = clock::time_point::max();
};

}  // namespace

void arm_async_timer(async_timer* t) { timer_queue::get().arm(t); }
void disarm_async_timer(async_timer* t) noexcept { timer_queue::get().disarm(t); }

}  // namespace sluice::internal
