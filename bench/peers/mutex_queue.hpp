// The baseline every channel is compared with: a bounded FIFO under one std::mutex with two
// condition variables (the textbook blocking queue).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>

namespace peers {

template <class T>
class mutex_queue {
 public:
  explicit mutex_queue(std::size_t capacity) : cap_(capacity ? capacity : 1) {}

  void push(T v) {
    std::unique_lock<std::mutex> lk(m_);
    not_full_.wait(lk, [&] { return q_.size() < cap_; });
    q_.push_back(std::move(v));
    lk.unlock();
    not_empty_.notify_one();
  }
  T pop() {
    std::unique_lock<std::mutex> lk(m_);
    not_empty_.wait(lk, [&] { return !q_.empty(); });
    T v = std::move(q_.front());
    q_.pop_front();
    lk.unlock();
    not_full_.notify_one();
    return v;
  }
  bool try_push(T v) {
    std::unique_lock<std::mutex> lk(m_);
    if (q_.size() >= cap_) return false;
    q_.push_back(std::move(v));
    lk.unlock();
    not_empty_.notify_one();
    return true;
  }
  bool try_pop(T& out) {
    std::unique_lock<std::mutex> lk(m_);
    if (q_.empty()) return false;
    out = std::move(q_.front());
    q_.pop_front();
    lk.unlock();
    not_full_.notify_one();
    return true;
  }

 private:
  const std::size_t cap_;
  std::mutex m_;
  std::condition_variable not_full_, not_empty_;
  std::deque<T> q_;
};

}  // namespace peers
