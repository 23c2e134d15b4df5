// Each channel or queue under comparison, behind one small interface:
//   using chan = ...;                       a shared handle (copied into each thread)
//   static std::optional<chan> make(cap)    nullopt when it cannot express that capacity
//   static void send(chan&, std::uint64_t)  blocking
//   static std::uint64_t recv(chan&)        blocking
//   static constexpr const char* name, note ("" or how blocking was added)
#pragma once

#include <boost/fiber/buffered_channel.hpp>
#include <boost/fiber/unbuffered_channel.hpp>
#include <boost/lockfree/queue.hpp>
#include <boost/lockfree/spsc_queue.hpp>
#include <concurrentqueue/blockingconcurrentqueue.h>
#include <sluice/channel.hpp>
#include <tbb/concurrent_queue.h>

#include <bit>
#include <cstdint>
#include <memory>
#include <optional>

#include "peers/mutex_queue.hpp"
#include "peers/spin_wait.hpp"
#include "compare/sluice_adapter.hpp"

namespace compare {

struct mutex_adapter {
  static constexpr const char* name = "mutex+condvar";
  static constexpr const char* note = "";
  using chan = std::shared_ptr<peers::mutex_queue<std::uint64_t>>;
  static std::optional<chan> make(cap c, std::size_t n) {
    switch (c) {
      case cap::zero: return std::nullopt;
      case cap::one: return std::make_shared<peers::mutex_queue<std::uint64_t>>(1);
      case cap::big: return std::make_shared<peers::mutex_queue<std::uint64_t>>(n);
      case cap::unbounded: return std::make_shared<peers::mutex_queue<std::uint64_t>>(SIZE_MAX);
    }
    return std::nullopt;
  }
  static void send(chan& c, std::uint64_t v) { c->push(v); }
  static std::uint64_t recv(chan& c) { return c->pop(); }
};

// send/recv for the boost::lockfree queues, which have only try-push and try-pop.
template <class Q>
struct spin_then_yield_ops {
  using chan = std::shared_ptr<Q>;
  static void send(chan& c, std::uint64_t v) { peers::spin_then_yield([&] { return c->push(v); }); }
  static std::uint64_t recv(chan& c) {
    std::uint64_t v = 0;
    peers::spin_then_yield([&] { return c->pop(v); });
    return v;
  }
};

struct boost_queue_adapter : spin_then_yield_ops<boost::lockfree::queue<std::uint64_t>> {
  static constexpr const char* name = "boost::lockfree::queue";
  static constexpr const char* note = "spin-then-yield";
  using q = boost::lockfree::queue<std::uint64_t>;
  using chan = std::shared_ptr<q>;
  static std::optional<chan> make(cap c, std::size_t n) {
    if (c == cap::big) return std::make_shared<q>(n);           // preallocated nodes, grows if needed
    if (c == cap::unbounded) return std::make_shared<q>(1024);  // grows on demand
    return std::nullopt;
  }
};

struct boost_spsc_adapter : spin_then_yield_ops<boost::lockfree::spsc_queue<std::uint64_t>> {
  static constexpr const char* name = "boost::lockfree::spsc_queue";
  static constexpr const char* note = "spin-then-yield; spsc only";
  using q = boost::lockfree::spsc_queue<std::uint64_t>;
  using chan = std::shared_ptr<q>;
  static std::optional<chan> make(cap c, std::size_t n) {
    if (c == cap::one) return std::make_shared<q>(1);
    if (c == cap::big) return std::make_shared<q>(n);
    return std::nullopt;
  }
};

struct moodycamel_adapter {
  static constexpr const char* name = "moodycamel::BlockingConcurrentQueue";
  static constexpr const char* note = "";
  using q = moodycamel::BlockingConcurrentQueue<std::uint64_t>;
  using chan = std::shared_ptr<q>;
  static std::optional<chan> make(cap c, std::size_t n) {
    if (c == cap::big) return std::make_shared<q>(n);
    if (c == cap::unbounded) return std::make_shared<q>();
    return std::nullopt;
  }
  static void send(chan& c, std::uint64_t v) { c->enqueue(v); }
  static std::uint64_t recv(chan& c) {
    std::uint64_t v = 0;
    c->wait_dequeue(v);
    return v;
  }
};

struct tbb_adapter {
  static constexpr const char* name = "tbb::concurrent_bounded_queue";
  static constexpr const char* note = "";
  using q = tbb::concurrent_bounded_queue<std::uint64_t>;
  using chan = std::shared_ptr<q>;
  static std::optional<chan> make(cap c, std::size_t n) {
    if (c == cap::zero) return std::nullopt;
    auto p = std::make_shared<q>();
    if (c == cap::one) p->set_capacity(1);
    if (c == cap::big) p->set_capacity(static_cast<std::ptrdiff_t>(n));
    return p;
  }
  static void send(chan& c, std::uint64_t v) { c->push(v); }
  static std::uint64_t recv(chan& c) {
    std::uint64_t v = 0;
    c->pop(v);
    return v;
  }
};

// Boost.Fiber channels used from plain threads (each thread's main fiber blocks).
// buffered_channel needs a power-of-two capacity of at least 2: cap 1 is not expressible.
struct fiber_adapter {
  static constexpr const char* name = "boost::fibers channel";
  static constexpr const char* note = "capN rounded up to a power of two";
  struct chan {
    std::shared_ptr<boost::fibers::buffered_channel<std::uint64_t>> b;
    std::shared_ptr<boost::fibers::unbuffered_channel<std::uint64_t>> u;
  };
  static std::optional<chan> make(cap c, std::size_t n) {
    if (c == cap::zero) return chan{nullptr, std::make_shared<boost::fibers::unbuffered_channel<std::uint64_t>>()};
    if (c == cap::big)
      return chan{std::make_shared<boost::fibers::buffered_channel<std::uint64_t>>(std::bit_ceil(n < 2 ? 2 : n)), nullptr};
    return std::nullopt;
  }
  static void send(chan& c, std::uint64_t v) {
    if (c.b) c.b->push(v); else c.u->push(v);
  }
  static std::uint64_t recv(chan& c) {
    std::uint64_t v = 0;
    if (c.b) c.b->pop(v); else c.u->pop(v);
    return v;
  }
};

}  // namespace compare
