// The Asio peer's shared names (bench/async/asio_peer.cc, asio_ring.cc): the channel type, a
// capacity-0 or capacity-N experimental::concurrent_channel carrying one uint64_t, and the
// workloads, each run on its own io_context by one thread.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <cstdint>

#include "peer.hpp"

namespace asio_peer {

namespace asio = boost::asio;
using async_bench::outcome;
using error_code = boost::system::error_code;
using channel = asio::experimental::concurrent_channel<void(error_code, std::uint64_t)>;

constexpr int ring_tasks = 10'000;

// ring (asio_ring.cc): a token passed n hops round ring_tasks coroutines.
outcome ring(std::uint64_t n);

}  // namespace asio_peer
