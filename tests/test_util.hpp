// Helpers shared by sluice's tests.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include <sluice/channel.hpp>

namespace sluice_test {

// Stress sizes scale with SLUICE_STRESS_SCALE (default 1; the sanitizer runs use less).
inline double scale() {
  static const double s = [] {
    const char* e = std::getenv("SLUICE_STRESS_SCALE");
    double v = e ? std::atof(e) : 1.0;
    return v > 0 ? v : 1.0;
  }();
  return s;
}
inline long scaled(long n) {
  long v = static_cast<long>(static_cast<double>(n) * scale());
  return v < 1 ? 1 : v;
}

// A value that counts its live instances, so tests can prove each one is destroyed exactly
// once (a double destroy drives `live` negative and trips `alive`).
struct tracked {
  static inline std::atomic<long> live{0};
  long v;
  bool alive = true;
  explicit tracked(long x) : v(x) { live.fetch_add(1, std::memory_order_relaxed); }  // a counter
  tracked(const tracked& o) : v(o.v) { live.fetch_add(1, std::memory_order_relaxed); }  // a counter
  tracked(tracked&& o) noexcept : v(o.v) {
    o.v = -1;
    live.fetch_add(1, std::memory_order_relaxed);  // a counter
  }
  tracked& operator=(const tracked&) = delete;
  ~tracked() {
    if (!alive) std::abort();  // destroyed twice
    alive = false;
    live.fetch_sub(1, std::memory_order_relaxed);  // a counter
  }
};

// The channel kinds every generic test runs over.
enum class kind { rendezvous, bounded1, bounded64, unbounded };
inline std::string name(kind k) {
  switch (k) {
    case kind::rendezvous: return "rendezvous";
    case kind::bounded1: return "bounded1";
    case kind::bounded64: return "bounded64";
    case kind::unbounded: return "unbounded";
  }
  return "?";
}
template <class T>
sluice::channel<T> make(kind k) {
  switch (k) {
    case kind::rendezvous: return sluice::channel<T>();
    case kind::bounded1: return sluice::channel<T>(1);
    case kind::bounded64: return sluice::channel<T>(64);
    case kind::unbounded: return sluice::channel<T>(sluice::unbounded);
  }
  return sluice::channel<T>();
}

// Take `count` values from a lock-free buffer (ring or list) with try_pop, yielding while it
// is empty; `take(value)` gets each one.
template <class Buffer, class V, class Take>
void pop_n(Buffer& buf, long count, Take take) {
  std::optional<V> out;
  for (long got = 0; got < count;) {
    if (buf.try_pop(out) == sluice::status::ok) {
      take(*out);
      out.reset();
      ++got;
    } else {
      std::this_thread::yield();
    }
  }
}

inline auto since(std::chrono::steady_clock::time_point t0) { return std::chrono::steady_clock::now() - t0; }

}  // namespace sluice_test
