// Boost.Asio 1.81's experimental::concurrent_channel on the async benchmark's workloads
// (bench/async, issue 12): C++20 coroutines (asio::awaitable, use_awaitable) on an io_context
// run by one thread, the peer that sluice's Asio integration is measured against. One JSON
// line per cell (bench/async/peer.hpp), impl "asio-channel".
//
//   async_asio_peer [--only W,...] [--scale F] [--messages N] [--repeat K]
//
// Workloads: pingpong (a capacity-0 channel between two coroutines; one sends N values, the
// other receives them), pingpong_cb (the same with completion callbacks instead of
// coroutines), buffered (one coroutine sends then receives on a capacity-1 channel), ring
// (10,000 coroutines, a capacity-0 channel between neighbours, a token passed N hops) and
// fanin (10,000 producer coroutines, one consumer, capacity 1024). Asio posts every
// completion, also one that is ready at once, so each operation is a trip through the
// io_context's queue.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "asio_channel.hpp"

namespace asio_peer {
namespace {

using async_bench::stopwatch;
using async_bench::sum_below;
using asio::awaitable;
using asio::use_awaitable;

constexpr int fanin_producers = 10'000;
constexpr std::size_t fanin_capacity = 1024;

// Sends first, first + stride, ... below n.
awaitable<void> send_strided(channel& ch, std::uint64_t first, std::uint64_t stride, std::uint64_t n) {
  for (std::uint64_t i = first; i < n; i += stride) co_await ch.async_send(error_code{}, i, use_awaitable);
}

awaitable<void> receive_sum(channel& ch, std::uint64_t n, std::uint64_t& sum) {
  for (std::uint64_t i = 0; i < n; ++i) sum += co_await ch.async_receive(use_awaitable);
}

outcome pingpong(std::uint64_t n) {
  asio::io_context ctx(1);
  channel ch(ctx, 0);
  std::uint64_t sum = 0;
  asio::co_spawn(ctx, send_strided(ch, 0, 1, n), asio::detached);
  asio::co_spawn(ctx, receive_sum(ch, n, sum), asio::detached);
  stopwatch w;
  ctx.run();
  return {sum == sum_below(n), w.seconds()};
}

// The callback flavour: each completion handler starts the next operation.
struct callback_pair {
  channel ch;
  std::uint64_t n, sent = 0, got = 0, sum = 0;

  void send_next() {
    ch.async_send(error_code{}, sent, [this](error_code ec) {
      if (!ec && ++sent < n) send_next();
    });
  }
  void receive_next() {
    ch.async_receive([this](error_code ec, std::uint64_t v) {
      if (ec) return;
      sum += v;
      if (++got < n) receive_next();
    });
  }
};

outcome pingpong_callback(std::uint64_t n) {
  asio::io_context ctx(1);
  callback_pair p{channel(ctx, 0), n};
  p.send_next();
  p.receive_next();
  stopwatch w;
  ctx.run();
  return {p.got == n && p.sum == sum_below(n), w.seconds()};
}

awaitable<void> send_then_receive(channel& ch, std::uint64_t n, std::uint64_t& sum) {
  for (std::uint64_t i = 0; i < n; ++i) {
    co_await ch.async_send(error_code{}, i, use_awaitable);
    sum += co_await ch.async_receive(use_awaitable);
  }
}

outcome buffered(std::uint64_t n) {
  asio::io_context ctx(1);
  channel ch(ctx, 1);
  std::uint64_t sum = 0;
  asio::co_spawn(ctx, send_then_receive(ch, n, sum), asio::detached);
  stopwatch w;
  ctx.run();
  return {sum == sum_below(n), w.seconds()};
}

outcome fanin(std::uint64_t n) {
  asio::io_context ctx(1);
  channel ch(ctx, fanin_capacity);
  std::uint64_t sum = 0;
  stopwatch w;  // spawning the producers is part of the work, as in the Go peer
  for (int j = 0; j < fanin_producers; ++j) asio::co_spawn(ctx, send_strided(ch, j, fanin_producers, n), asio::detached);
  asio::co_spawn(ctx, receive_sum(ch, n, sum), asio::detached);
  ctx.run();
  return {sum == sum_below(n), w.seconds()};
}

}  // namespace
}  // namespace asio_peer

int main(int argc, char** argv) {
  using async_bench::cell;
  using namespace asio_peer;
  const std::uint64_t million = 1'000'000;
  std::vector<cell> cells = {
      {"pingpong", "cap0", "one-thread io_context, use_awaitable; one coroutine sends N values, the other receives; per message", 2, million, pingpong},
      {"pingpong_cb", "cap0", "as pingpong with completion callbacks instead of coroutines; per message", 2, million, pingpong_callback},
      {"buffered", "cap1", "one coroutine sends then receives on a cap-1 channel, use_awaitable; per pair", 1, 10 * million, buffered},
      {"ring", "cap0", "token passed N hops round 10,000 coroutines; starting them not timed; per hop", ring_tasks, million, ring},
      {"fanin", "cap1024", "10,000 producer coroutines, one consumer, channel capacity 1024; spawning timed; per message", fanin_producers + 1, 10 * million, fanin},
  };
  return async_bench::run_cells("asio-channel", cells, async_bench::parse(argc, argv, "async_asio_peer"));
}
