// Boost.Fiber 1.81 on the async benchmark's workloads (bench/async, issue 12): fibers on one
// thread (the default round_robin scheduler) passing values through
// boost::fibers::unbuffered_channel and buffered_channel. One JSON line per cell
// (bench/async/peer.hpp), impl "boost-fiber".
//
//   async_fiber_peer [--only W,...] [--scale F] [--messages N] [--repeat K]
//
// Workloads: pingpong (an unbuffered channel; one fiber sends N values, the other receives
// them), buffered (one fiber pushes then pops on buffered_channel(2), which holds one value),
// ring (10,000 fibers, an unbuffered channel between neighbours, a token passed N hops) and
// fanin (10,000 producer fibers, one consumer, buffered_channel(1024): 1023 slots, as
// Boost.Fiber keeps one free). Fibers get 16 KiB stacks (fixedsize_stack), so 10,000 of
// them take 160 MiB.
#include <vector>

#include "fiber_channel.hpp"

namespace fiber_peer {
namespace {

using async_bench::stopwatch;
using async_bench::sum_below;

// Pops n values and adds them up; false if the channel closed first.
template <typename Channel>
bool pop_sum(Channel& ch, std::uint64_t n, std::uint64_t& sum) {
  std::uint64_t v = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    if (ch.pop(v) != fibers::channel_op_status::success) return false;
    sum += v;
  }
  return true;
}

outcome pingpong(std::uint64_t n) {
  unbuffered ch;
  std::uint64_t sum = 0;
  stopwatch w;
  fibers::fiber sender = launch([&] {
    for (std::uint64_t i = 0; i < n; ++i) ch.push(i);
  });
  bool ok = pop_sum(ch, n, sum);
  double s = w.seconds();
  sender.join();
  return {ok && sum == sum_below(n), s};
}

outcome buffered(std::uint64_t n) {
  buffered_ch ch(2);
  std::uint64_t sum = 0, v = 0;
  stopwatch w;
  for (std::uint64_t i = 0; i < n; ++i) {
    ch.push(i);
    ch.pop(v);
    sum += v;
  }
  return {sum == sum_below(n), w.seconds()};
}

// Producer j pushes j, j + many, ... below n; this fiber pops and adds up all n.
outcome fanin(std::uint64_t n) {
  buffered_ch ch(1024);
  std::uint64_t sum = 0;
  stopwatch w;  // starting the producers is part of the work, as in the Go peer
  std::vector<fibers::fiber> producers;
  producers.reserve(many);
  for (int j = 0; j < many; ++j) {
    producers.push_back(launch([&ch, j, n] {
      for (std::uint64_t i = j; i < n; i += many) ch.push(i);
    }));
  }
  bool ok = pop_sum(ch, n, sum);
  double s = w.seconds();
  for (auto& f : producers) f.join();
  return {ok && sum == sum_below(n), s};
}

}  // namespace
}  // namespace fiber_peer

int main(int argc, char** argv) {
  using async_bench::cell;
  using namespace fiber_peer;
  const std::uint64_t million = 1'000'000;
  std::vector<cell> cells = {
      {"pingpong", "cap0", "one thread; one fiber pushes N values on an unbuffered_channel, the other pops; per message", 2, million, pingpong},
      {"buffered", "cap1", "one fiber pushes then pops on buffered_channel(2) (one slot); per pair", 1, 10 * million, buffered},
      {"ring", "cap0", "token passed N hops round 10,000 fibers (unbuffered_channel); starting them not timed; per hop", many, million, ring},
      {"fanin", "cap1023", "10,000 producer fibers, one consumer, buffered_channel(1024) (1023 slots); spawning timed; per message", many + 1, 10 * million, fanin},
  };
  return async_bench::run_cells("boost-fiber", cells, async_bench::parse(argc, argv, "async_fiber_peer"));
}
