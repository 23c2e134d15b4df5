// The Boost.Fiber peer's shared names (bench/async/fiber_peer.cc, fiber_ring.cc): the channel
// types carrying one uint64_t, and launch, which starts a fiber on a 16 KiB stack.
#pragma once

#include <boost/fiber/all.hpp>
#include <cstdint>
#include <utility>

#include "peer.hpp"

namespace fiber_peer {

namespace fibers = boost::fibers;
using async_bench::outcome;
using unbuffered = fibers::unbuffered_channel<std::uint64_t>;
using buffered_ch = fibers::buffered_channel<std::uint64_t>;

constexpr int many = 10'000;  // fibers in the ring, producers in fanin
constexpr std::size_t stack_bytes = 16 * 1024;

template <typename F>
fibers::fiber launch(F&& f) {
  return fibers::fiber(std::allocator_arg, fibers::fixedsize_stack(stack_bytes), std::forward<F>(f));
}

// ring (fiber_ring.cc): a token passed n hops round `many` fibers.
outcome ring(std::uint64_t n);

}  // namespace fiber_peer
