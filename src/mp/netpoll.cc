// The io token and its fallback poller (see netpoll.hpp for the invariants).
#include "netpoll.hpp"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>

#include <sched.h>

#include "runtime.hpp"

namespace sluice::mp::detail {

namespace {

using namespace std::chrono_literals;

constexpr auto worker_limit = 50ms;    // a worker (or the fallback) in epoll comes back this often
// The fallback's look at the token: every tick_min while workers come and go, backing off to
// tick_max while one holds it (an idle node). Go's sysmon backs off to 10 ms the same way.
// Waking a sleeping worker to take the token whenever one leaves it to run a port (Go's wakep)
// was measured instead: round trip 37.5 -> 51-62 us, p99 95 -> 320-370 us on 2 cores.
constexpr auto tick_min = 1ms, tick_max = 10ms;
// How long a worker that has the token looks at the sockets without sleeping. Erlang's
// schedulers busy-wait the same way before they sleep (+sbwt), and Go's idle Ms spin: a
// thread asleep in epoll on a core that has gone idle costs the sender a cross-core wake-up
// (on these VMs an idle vCPU halts), which was a third of a round trip. Measured on 2 cores,
// 3 alternating runs each: after a 1M-message burst has spread the threads over both cores,
// RT 28-37 -> 22 us (p99 81-89 -> 76-78) at 15, 30 and 60 us alike; fresh processes, whose
// pollers the kernel keeps on one core, 28-30 -> 32-34 us (the price). With a spinning
// neighbour process: 36 -> 32 us. Each look yields the core, so a spinner never keeps its
// peer (in this or another process) off it; without the yield, 72-155 us.
constexpr auto spin_for = 15us;

std::atomic<poller*> the_poller{nullptr};
std::atomic<std::uint64_t> token{0};        // even: free; odd: held (see the invariants)
std::atomic<bool> fallback_holds{false};    // the fallback thread holds the token
std::atomic<bool> wanted{false};            // a worker found the fallback holding it
std::atomic<bool> interrupt_sent{false};    // a no-op is on its way to the poller: no second one

bool acquire(std::uint64_t& e) {
  e = token.load(std::memory_order_relaxed);  // a hint only: the CAS below decides
  if (e & 1) return false;
  // The last holder's io state is visible here.
  return token.compare_exchange_strong(e, e + 1, std::memory_order_acquire,  // pairs with release()'s store
                                       std::memory_order_relaxed);          // failed: nothing read through it
}

void release(std::uint64_t e) {
  token.store(e + 2, std::memory_order_release);  // pairs with acquire()'s CAS in the next holder
}

// Token held: handlers ready now, or run-queue work (a push also interrupts, which makes a
// handler ready), ends the spin; after spin_for, one wait in epoll.
void spin_then_poll(poller* p, bool (*work_waiting)(void*), void* ctx) {
  const auto until = std::chrono::steady_clock::now() + spin_for;
  do {
    if (p->poll_ready() || work_waiting(ctx)) return;
    sched_yield();
  } while (std::chrono::steady_clock::now() < until);
  p->poll_one(worker_limit);
}

}  // namespace

void set_poller(poller* p) {
  the_poller.store(p, std::memory_order_release);  // pairs with the acquire loads below: p is built
}

bool worker_poll(bool may_poll, bool (*work_waiting)(void*), void* ctx) {
  poller* p = the_poller.load(std::memory_order_acquire);  // pairs with set_poller's store
  if (!p || !may_poll) return false;
  std::uint64_t e;
  if (!acquire(e)) {
    // seq_cst, with the fallback's seq_cst store of fallback_holds and load of wanted: either
    // it sees `wanted` after its poll, or we see that it no longer holds the token. The
    // interrupt ends its poll now rather than at the limit.
    if (fallback_holds.load()) {
      wanted.store(true);
      p->interrupt();
    }
    return false;
  }
  // Dekker with push(): it publishes its item, fences, then reads the token; we took the
  // token, fence, then look at the queue. One of us sees the other: either push interrupts
  // our poll, or we see its item here and leave the token.
  std::atomic_thread_fence(std::memory_order_seq_cst);  // pairs with the fence in interrupt_poll
  if (work_waiting(ctx)) {
    release(e);
    return false;
  }
  spin_then_poll(p, work_waiting, ctx);
  interrupt_sent.store(false, std::memory_order_relaxed);  // a hint: at worst one extra no-op
  release(e);
  return true;
}

void interrupt_poll() {
  std::atomic_thread_fence(std::memory_order_seq_cst);  // pairs with the fence in worker_poll (see there)
  // seq_cst loads: the token's odd value and fallback_holds are read in the order the holder
  // wrote them, so a worker's hold is not mistaken for the fallback's.
  if (!(token.load() & 1) || fallback_holds.load()) return;
  if (interrupt_sent.exchange(true, std::memory_order_relaxed)) return;  // a hint: see worker_poll
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
    while (!wanted.load()) p->poll_one(worker_limit);  // a worker that asks interrupts it
    fallback_holds.store(false);
    release(e);
    post([] {});  // wake a worker parked on the run queue: it takes the token
    seen = e + 2;
    tick = tick_min;
  }
}

}  // namespace sluice::mp::detail
