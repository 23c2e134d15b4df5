// sluice/internal/async_op.hpp - an awaited channel operation: the claim protocol without a
// parked thread.
//
// An async_op is one alternation (a single send or receive is an alternation of one clause)
// whose owner is not a thread but a suspended coroutine or an Asio completion handler. It runs
// the same phases as run_alt (src/alt.cc): try every clause, publish one offer per clause,
// decide by the one CAS on the waiter's state word. Where run_alt parks, an async_op returns;
// the events that would have unparked the thread (a counterpart's claim, the deadline, a
// cancellation) "kick" it, and whoever kicks an idle op runs its next step on their own thread.
// src/async.cc has the protocol and its Invariants.
//
// The hand-off queue (Go's runnext, trampolined): a thread that completes an awaited operation
// runs the owner's continuation itself, right after its own current step, never nested inside
// another continuation. Chains of coroutines handing values to each other on one thread thus
// run one after another in a loop, with a constant stack depth even where the compiler does
// not turn symmetric transfer into a tail call (GCC at -O0).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "sluice/internal/alt_engine.hpp"
#include "sluice/internal/backoff.hpp"
#include "sluice/internal/deadline.hpp"
#include "sluice/internal/handoff.hpp"
#include "sluice/internal/waiter.hpp"

namespace sluice::internal {

class async_op;

// A deadline's timer, embedded in its op (no allocation): queued on the async timer thread
// (src/async_timer.cc), which kicks the op when it is due. Fields guarded by that queue's lock.
struct async_timer {
  std::chrono::steady_clock::time_point due{};
  std::size_t heap_index = 0;
  int state = 0;  // idle, queued, firing (async_timer.cc)
  async_op* op = nullptr;
};
// Queue t (idle) to kick t->op at t->due.
void arm_async_timer(async_timer* t);
// Take t off the queue; if it is firing on another thread, wait until that fire is over.
// Afterwards the timer thread never touches t again.
void disarm_async_timer(async_timer* t) noexcept;
// The timer thread's call when t is due: kicks t->op.
void fire_async_timer(async_timer* t) noexcept;

class async_op {
 public:
  async_op() = default;
  async_op(const async_op&) = delete;
  async_op& operator=(const async_op&) = delete;

  // Before start(): the clauses (n >= 0, all enabled), scratch arrays of n elements owned by
  // the derived object, fair or priority order, and the deadline (never: no otherwise).
  // The op belongs to its caller from here until start() returns.
  void setup(clause_ref* refs, offer* offers, std::uint32_t* order, std::size_t n, bool fair,
             const deadline& d) noexcept;

  // Run until the operation is done or must wait. True: done now, pick() is the outcome and
  // complete() is never called. False: complete() will be called exactly once, later, on the
  // thread that finishes the operation (a counterpart's, the timer's, or a cancelling one).
  // Must not be called again for the same op. `tried`: the caller has just tried every clause.
  bool start(bool tried = false);

  // The first look of start(), on its own: try every clause whose channel looks ready, without
  // publishing anything. True: done now (pick() is the outcome; do not call start()). False:
  // call start(true) next. Lets an owner skip what only a waiting op needs (Asio's work count).
  bool try_ready();

  // After setup(), before start(): the owner promises that cancel() will not be called (no
  // stop token, no cancellation slot). With no deadline either, a claim is then the op's only
  // event, so a kick may take an idle op without a locked instruction (src/async.cc, kick).
  // Written here, before anything that could kick exists, and never again: kicks read it.
  void no_cancel() noexcept { claims_only_ = d_.is_never(); }

  // Give up unless a clause has already committed; any thread, any time from setup() until
  // the op completes (the caller keeps it from racing the op's destruction), idempotent. A cancelled op completes with {SIZE_MAX, cancelled}.
  void cancel() noexcept;

  // The owner gives the op up before it finished (a coroutine destroyed while suspended):
  // withdraw its offers, disarm its timer. A no-op once done or if never started (inline:
  // every awaiter's destructor asks, and most ops completed without starting).
  void abandon() noexcept {
    if (started_ && !finished_) abandon_started();
  }

  // The outcome; valid once start() returned true or complete() was called.
  const alt_pick& pick() const noexcept { return pick_; }

 protected:
  ~async_op();
  // The operation finished after start() returned false. The op may be destroyed from here on.
  virtual void complete() noexcept = 0;

 private:
  friend void fire_async_timer(async_timer* t) noexcept;
  static void on_unpark(void* self) noexcept;
  void abandon_started() noexcept;
  void kick(std::uint32_t events) noexcept;
  // A step ends done, waiting (drive releases `running` with its CAS), or let go: a
  // rendezvous released `running` under its lock as it linked the one offer (on_linked_alone).
  enum class step_end : std::uint8_t { done, wait, let_go };
  enum class published : std::uint8_t { none, out, let_go };
  static void on_linked_alone(void* self) noexcept;
  bool drive(bool starting) noexcept;
  void drive_kicked() noexcept;
  step_end step() noexcept;
  published publish() noexcept;
  void withdraw(std::uint32_t claimed) noexcept;  // every offer but the claimed clause's
  step_end done(alt_pick p) noexcept;
  void arm_timer();
  void disarm_timer() noexcept;
  void clear_unparked() noexcept;

  static constexpr std::uint32_t idle = 0, running = 1, kicked = 2;

  waiter w_;
  // running: someone drives; kicked: drive again; plus the event bits of src/async.cc.
  std::atomic<std::uint32_t> ctl_{idle};
  clause_ref* refs_ = nullptr;
  offer* offers_ = nullptr;
  std::uint32_t* order_ = nullptr;
  std::size_t n_ = 0;
  std::size_t published_ = 0;
  bool saw_ready_ = false;
  bool looked_ = false;    // start() just tried every clause: the first step skips its look
  bool started_ = false;   // setup() ran
  bool finished_ = false;  // done, or abandoned
  deadline d_ = deadline::never();
  backoff contention_;
  alt_pick pick_{static_cast<std::size_t>(-1), status::empty};
  async_timer timer_;
  bool armed_ = false;
  bool claims_only_ = false;  // no timer, no cancellation: see no_cancel() and kick
  bool* let_go_ = nullptr;    // publish()'s local flag, set by on_linked_alone
};

}  // namespace sluice::internal
