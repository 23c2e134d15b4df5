// sluice/internal/backoff.hpp - bounded exponential backoff for retry loops.
//
// After crossbeam-utils' Backoff: `spin()` for a lost CAS (short pause bursts), `snooze()`
// while waiting for another thread's progress (pauses, then sched_yield so that on an
// oversubscribed machine the thread we wait for gets the core). Waiting for an event that
// may take long is spin.hpp's job (time-calibrated, then park); this is for short retries.
#pragma once

#include <cstdint>
#include <thread>

#include "sluice/internal/config.hpp"

namespace sluice::internal {

class backoff {
 public:
  static constexpr unsigned spin_limit = 6;    // 2^6 pauses per burst at most
  static constexpr unsigned yield_limit = 10;  // then up to 4 yields

  void spin() noexcept {
    for (unsigned i = 0; i < (1u << (step_ < spin_limit ? step_ : spin_limit)); ++i) spin_pause();
    if (step_ <= spin_limit) ++step_;
  }

  // As spin(), but a random number of pauses up to the burst spin() would make (`r` random
  // bits): two threads backing off from each other do not stay in step.
  void spin_random(std::uint64_t r) noexcept {
    unsigned burst = 1u << (step_ < spin_limit ? step_ : spin_limit);
    for (unsigned i = 0, n = static_cast<unsigned>(r >> 32) % burst + 1; i < n; ++i) spin_pause();
    if (step_ <= spin_limit) ++step_;
  }

  void snooze() noexcept {
    if (step_ <= spin_limit) {
      for (unsigned i = 0; i < (1u << step_); ++i) spin_pause();
    } else {
      std::this_thread::yield();
    }
    if (step_ <= yield_limit) ++step_;
  }

  void reset() noexcept { step_ = 0; }

 private:
  unsigned step_ = 0;
};

}  // namespace sluice::internal
