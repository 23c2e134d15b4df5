// The network's event loop, run by the port scheduler's idle workers (private header).
//
// Go's scheduler polls the network from the thread that will run what the network readied,
// so a message that arrives costs one wake-up (the socket's), not two (the socket's, then the
// worker's). Here the same: a worker with nothing to run polls the node's io_context and then
// runs the port that the io handler made runnable, itself (Go's runnext). Measured on the
// 2-core machine: the extra wake-up cost 15-25 us on each side of a round trip.
//
// Invariants:
//   - The io token: at most one thread at a time runs io handlers (every "io thread only"
//     state of the node layer relies on this). `token` is even when free, odd when held; an
//     acquire and a release each add one, so a holder's writes happen before the next
//     holder's reads (release store, acquire CAS) and an even value unchanged across an
//     interval proves that nobody polled during it.
//   - A worker polls only when the run queue is empty, the token is free and it is not the
//     only worker (so a port made runnable by a thread, not by the network, always finds a
//     worker that is not asleep in epoll); it releases the token before running any port,
//     so a handler that blocks never holds up the sockets.
//   - A port made runnable while no worker sleeps on the run queue interrupts a worker that
//     waits in epoll (interrupt_poll, at most one no-op in flight); a worker that has just
//     taken the token looks at the run queue once more (fences on both sides), so it cannot
//     start a poll past work pushed meanwhile. The miss left is a counted sleeper that takes
//     other work just then, bounded by the 50 ms poll limit.
//   - A worker that takes the token first looks without sleeping (poll_ready, yielding the
//     core between looks) for up to spin_for, then waits in epoll. Only workers spin, never
//     the fallback (it polls because workers are busy, and would take their core).
//   - The fallback thread (the node's own) takes the token only after it has been free for a
//     whole tick (1 ms; up to 10 ms after a worker held it a while): a worker that runs a
//     long handler while the others sleep leaves the sockets unwatched for at most about
//     11 ms (Go leaves them to sysmon the same way, up to 10 ms). It hands the token back as soon as a worker asks (the ask
//     interrupts its poll), and wakes that worker through the run queue.
#pragma once

#include <chrono>

namespace sluice::mp::detail {

struct poller {
  virtual ~poller() = default;
  // Runs at most one ready io handler, waiting up to `limit` for one. Token holder only.
  virtual void poll_one(std::chrono::milliseconds limit) = 0;
  // Runs at most one io handler that is ready now, without waiting: true if it ran one. Token holder only.
  virtual bool poll_ready() = 0;
  // Makes a poll_one that is waiting (on any thread) return soon. Any thread.
  virtual void interrupt() = 0;
};

void set_poller(poller* p);  // once, by configure, before fallback_poll_loop; never unset

// A worker whose run queue is empty: polls (true) when a poller is installed, the token is
// free, `may_poll` (more than one worker) and, once it holds the token, work_waiting(ctx) is
// still false; false: park on the run queue.
bool worker_poll(bool may_poll, bool (*work_waiting)(void*), void* ctx);

// The run queue got work (already published) that no sleeping worker may take: if a worker
// is waiting in poll_one, make it return and look at the run queue.
void interrupt_poll();

// The node's own thread: watches the token, polls when no worker has for a while. Never returns.
[[noreturn]] void fallback_poll_loop();

}  // namespace sluice::mp::detail
