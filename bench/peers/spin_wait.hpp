// Blocking wrappers for queues that have no blocking API (boost::lockfree, ...): retry with
// a few pause spins, then sched_yield. Stated in the output wherever it is used.
#pragma once

#include <thread>

#include "sluice/internal/config.hpp"

namespace peers {

template <class F>
void spin_then_yield(F&& attempt) {
  for (unsigned i = 0;; ++i) {
    if (attempt()) return;
    if (i < 64) {
      sluice::internal::spin_pause();
    } else {
      std::this_thread::yield();
    }
  }
}

}  // namespace peers
