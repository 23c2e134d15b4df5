// Portable mutex + condition_variable backend of the parker (see sluice/internal/parker.hpp).
#include "sluice/internal/parker.hpp"

namespace sluice::internal {

bool condvar_parker::park(const deadline& d) noexcept {
  if (spin_for(word_, 1)) {
    // The unparker may still hold m_ (it notifies under the lock); wait for it to let go so
    // the owner can destroy the parker as soon as park() returns.
    std::lock_guard<std::mutex> g(m_);
    return true;
  }
  std::unique_lock<std::mutex> lk(m_);
  // Relaxed under m_: unpark() stores while holding m_, so the mutex orders it.
  auto notified = [this] { return word_.load(std::memory_order_relaxed) == 1; };
  if (d.is_never()) {
    cv_.wait(lk, notified);
    return true;
  }
  return cv_.wait_until(lk, d.when(), notified);
}

void condvar_parker::unpark() noexcept {
  // Notify under the parker's own mutex: the owner cannot return from park() (and destroy
  // this parker) until we unlock. This is the parker's private lock, not a channel lock.
  std::lock_guard<std::mutex> g(m_);
  word_.store(1, std::memory_order_release);  // pairs with the acquire loads in spin_for()
  cv_.notify_one();
}

}  // namespace sluice::internal
