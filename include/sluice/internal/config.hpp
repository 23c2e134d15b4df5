// sluice/internal/config.hpp - platform constants and the CPU relax hint.
// Not API: namespace sluice::internal.
#pragma once

#include <cstddef>

namespace sluice::internal {

// Destructive interference size. 64 bytes on x86-64; 128 keeps adjacent-line prefetch
// (Intel's spatial prefetcher pulls pairs of lines) from coupling head and tail.
inline constexpr std::size_t cache_line = 128;

// One iteration of a spin-wait: tells the core we are spinning (x86 `pause`, ARM `yield`).
inline void spin_pause() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
  asm volatile("yield" ::: "memory");
#endif
}

}  // namespace sluice::internal
