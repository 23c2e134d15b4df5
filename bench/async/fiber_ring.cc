// The ring workload of fiber_peer.cc: 10,000 fibers,
// fiber k pops the token from channel k and pushes it, one more, on channel k+1 mod K
// (unbuffered). After N hops the token holds N and sits with fiber N mod K, which closes
// every channel; the others' pops then fail and they return.
#include <memory>
#include <vector>

#include "fiber_channel.hpp"

namespace fiber_peer {
namespace {

using async_bench::stopwatch;

struct ring_state {
  std::vector<std::unique_ptr<unbuffered>> ch;
  std::uint64_t hops = 0;
  int last = -1;  // who saw the final value
  stopwatch clock;
  double seconds = 0;
};

void ring_member(ring_state& r, int k) {
  unbuffered& in = *r.ch[k];
  unbuffered& out = *r.ch[(k + 1) % r.ch.size()];
  std::uint64_t v = 0;
  while (in.pop(v) == fibers::channel_op_status::success) {
    if (v == r.hops) {
      r.seconds = r.clock.seconds();
      r.last = k;
      for (auto& c : r.ch) c->close();
      return;
    }
    out.push(v + 1);
  }
}

}  // namespace

outcome ring(std::uint64_t n) {
  ring_state r;
  r.hops = n;
  for (int k = 0; k < many; ++k) r.ch.push_back(std::make_unique<unbuffered>());
  std::vector<fibers::fiber> members;
  members.reserve(many);
  for (int k = 0; k < many; ++k) members.push_back(launch([&r, k] { ring_member(r, k); }));
  boost::this_fiber::yield();  // round robin: every member runs and waits on its channel first
  r.clock.restart();
  r.ch[0]->push(0);
  for (auto& f : members) f.join();
  return {r.last == static_cast<int>(n % many), r.seconds};
}

}  // namespace fiber_peer
