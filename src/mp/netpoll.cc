// The io token and its fallback poller (see netpoll.hpp for the invariants).
#include "netpoll.hpp"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>

#include "runtime.hpp"

namespace sluice::mp::detail {

namespace {

using namespace std::chrono_literals;

constexpr auto worker_limit = 50ms;    // a worker in epoll comes back at least this often
constexpr auto fallback_slice = 1ms;   // the fallback's poll, between looks at `wanted`
constexpr auto tick_min = 1ms, tick_max = 16ms;  // the fallback's look at the token

std::atomic<poller*> the_poller{nullptr};
std::atomic<std::uint64_t> token{0};        // even: free; odd: held (see the invariants)
std::atomic<bool> fallback_holds{false};    // the fallback thread holds the token
std::atomic<bool> wanted{false};            // a worker found the fallback holding it

bool acquire(std::uint64_t& e) {
  e = token.load(std::memory_order_relaxed);  // a hint only: the CAS below decides
  if (e & 1) return false;
  // acquire: pairs with release()'s store, so the last holder's io state is visible here.
  return token.compare_exchange_strong(e, e + 1, std::memory_order_acquire, std::memory_order_relaxed);
}

void release(std::uint64_t e) {
  token.store(e + 2, std::memory_order_release);  // pairs with acquire()'s CAS in the next holder
}

}  // namespace

void set_poller(poller* p) {
  the_poller.store(p, std::memory_order_release);  // pairs with the acquire loads below: p is built
}

bool worker_poll(bool may_poll) {
  poller* p = the_poller.load(std::memory_order_acquire);  // pairs with set_poller's store
  if (!p || !may_poll) return false;
  std::uint64_t e;
  if (!acquire(e)) {
    // seq_cst, with the fallback's seq_cst store of fallback_holds and load of wanted: either
    // it sees `wanted` after its slice, or we see that it no longer holds the token.
    if (fallback_holds.load()) wanted.store(true);
    return false;
  }
  p->poll_one(worker_limit);
  release(e);
  return true;
}

void interrupt_poll() {
  // Both loads are hints: a wrong guess costs one needless wake-up of epoll, or leaves the
  // work to the worker's poll limit (see the invariants). Relaxed: nothing is read through them.
  if (!(token.load(std::memory_order_relaxed) & 1) || fallback_holds.load(std::memory_order_relaxed)) return;
  if (poller* p = the_poller.load(std::memory_order_acquire)) p->interrupt();  // pairs with set_poller's store
}

void fallback_poll_loop() {
  auto tick = tick_min;
  std::uint64_t seen = token.load(std::memory_order_relaxed);  // compared only: no data rides on it
  for (;;) {
    std::this_thread::sleep_for(tick);
    std::uint64_t now = token.load(std::memory_order_relaxed);  // likewise; acquire() decides
    if (now != seen || (now & 1)) {  // a worker polls, or polled during the tick
      tick = (now & 1) ? std::min(tick * 2, tick_max) : tick_min;
      seen = now;
      continue;
    }
    std::uint64_t e;
    if (!acquire(e)) {
      seen = token.load(std::memory_order_relaxed);  // compared only
      continue;
    }
    // Every worker is busy (or asleep on the run queue since before the last release): poll
    // until one asks for the token back.
    wanted.store(false);  // before fallback_holds: a worker that sees us holding can ask
    fallback_holds.store(true);
    poller* p = the_poller.load(std::memory_order_acquire);  // pairs with set_poller's store
    while (!wanted.load()) p->poll_one(fallback_slice);
    fallback_holds.store(false);
    release(e);
    post([] {});  // wake a worker parked on the run queue: it takes the token
    seen = e + 2;
    tick = tick_min;
  }
}

}  // namespace sluice::mp::detail
