// Adaptive spin phase shared by every parker backend (see parker.hpp).
#include <thread>

#include "sluice/internal/config.hpp"
#include "sluice/internal/parker.hpp"

namespace sluice::internal {
namespace {

constexpr unsigned min_spin = 16;     // pauses
constexpr unsigned max_spin = 16384;  // ~ the cost of a futex wake round trip on these VMs
constexpr unsigned yields = 2;        // then give the core away a few times before sleeping

thread_local unsigned spin_budget = 1024;

}  // namespace

bool spin_for(const std::atomic<std::uint32_t>& word, std::uint32_t target) noexcept {
  for (unsigned i = 0; i < spin_budget; ++i) {
    // Acquire pairs with the release exchange in unpark(): seeing the flag makes the
    // unparker's prior writes visible.
    if (word.load(std::memory_order_acquire) == target) {
      if (spin_budget < max_spin) spin_budget *= 2;
      return true;
    }
    cpu_relax();
  }
  for (unsigned i = 0; i < yields; ++i) {
    std::this_thread::yield();
    if (word.load(std::memory_order_acquire) == target) return true;  // pairs as above
  }
  if (spin_budget > min_spin) spin_budget /= 2;
  return false;
}

}  // namespace sluice::internal
