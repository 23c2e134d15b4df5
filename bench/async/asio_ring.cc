// The ring workload of asio_peer.cc: 10,000 coroutines, coroutine k receives the token on
// channel k and sends it, one more, on channel k+1 mod K (capacity 0). After N hops the
// token holds N and sits with coroutine N mod K, which closes every channel; the others'
// receives then complete with an error and they return.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>
#include <vector>

#include "asio_channel.hpp"

namespace asio_peer {
namespace {

using async_bench::stopwatch;
using asio::awaitable;
using asio::use_awaitable;

struct ring_state {
  std::vector<std::unique_ptr<channel>> ch;
  std::uint64_t hops = 0;
  int last = -1;  // who saw the final value
  stopwatch clock;
  double seconds = 0;
};

awaitable<void> ring_member(ring_state& r, int k) {
  channel& in = *r.ch[k];
  channel& out = *r.ch[(k + 1) % r.ch.size()];
  for (;;) {
    auto [ec, v] = co_await in.async_receive(asio::as_tuple(use_awaitable));
    if (ec) co_return;  // closed: the token stopped elsewhere
    if (v == r.hops) {
      r.seconds = r.clock.seconds();
      r.last = k;
      for (auto& c : r.ch) c->close();
      co_return;
    }
    co_await out.async_send(error_code{}, v + 1, use_awaitable);
  }
}

// Spawned after the members, so it runs once each of them waits on its channel.
awaitable<void> ring_start(ring_state& r) {
  r.clock.restart();
  co_await r.ch[0]->async_send(error_code{}, 0, use_awaitable);
}

}  // namespace

outcome ring(std::uint64_t n) {
  asio::io_context ctx(1);
  ring_state r;
  r.hops = n;
  for (int k = 0; k < ring_tasks; ++k) r.ch.push_back(std::make_unique<channel>(ctx, 0));
  for (int k = 0; k < ring_tasks; ++k) asio::co_spawn(ctx, ring_member(r, k), asio::detached);
  asio::co_spawn(ctx, ring_start(r), asio::detached);
  ctx.run();
  return {r.last == static_cast<int>(n % ring_tasks), r.seconds};
}

}  // namespace asio_peer
