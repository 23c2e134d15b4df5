// Awaited operations: the claim protocol of src/alt.cc driven by events instead of a parked
// thread (sluice/internal/async_op.hpp), and the per-thread hand-off queue.
//
// Invariants (the claim-protocol ones of waiter.hpp and alt.cc hold unchanged; these add the
// driving):
//   - One driver at a time. `ctl_` holds `running` while some thread runs the op's steps; only
//     that thread reads or writes the op's fields (published offers, pick, timer). It is taken
//     by setup() (the owner drives start()), or by a kick that finds the op idle. A driver that
//     must wait releases `running` with a CAS that fails if a kick arrived meanwhile; then it
//     consumes the kick and steps again. So no event is lost and no two threads drive.
//   - Events are bits set in `ctl_` by one RMW, which is the event source's last touch of the
//     op unless it finds the op idle and becomes its driver: a counterpart's claim sets
//     `unparked` (from the waiter's wake hook, after it moved the value: the same moment a
//     thread would be unparked), a cancellation sets `cancelled`.
//   - A claims-only op (no deadline, no cancellation: no_cancel()) has one event source per
//     round, the claimer that won its waiter's state word. Finding it idle, that claimer
//     takes it with a plain store instead of a CAS (no one else can write ctl_ until it
//     releases it), and its driver clears `unparked` with a plain store once every offer
//     is withdrawn (the round's one kick has landed; the next round is not published yet).
//     With one clause, on a rendezvous, the driver lets go of `running` with a store inside
//     the channel's lock, as the channel links the offer and finds no counterpart
//     (on_linked_alone): no claimer can reach the offer before the unlock. The driver then
//     returns without touching the op (publish, step and drive see a local flag).
//     The deadline's timer kicks without a bit (the driver reads the clock); disarming takes
//     the timer off its queue or waits out a fire in progress, so a timer never touches a
//     finished op.
//   - A step decides exactly as run_alt does: with offers out it gives up only by winning the
//     abort CAS (after a ready clause, the deadline or a cancellation); a lost abort means a
//     claim is in flight, whose `unparked` kick follows. A claim on a rendezvous is the whole
//     operation; on a buffered channel it invites a retry, which may lose and publish again.
//   - Once done, `running` stays set forever: later kicks only set bits. complete() runs once,
//     for an op whose start() returned false, after every offer was withdrawn and the timer
//     disarmed; it may destroy the op.
//   - Hand-offs: a continuation queued while a drain runs goes after the current one, never
//     inside it. In a native frame the latest one waits in a LIFO slot and runs next (Go's
//     runnext), displacing the one there to the FIFO's tail; at most lifo_slot_limit run
//     from the slot in a row while the FIFO holds any, so none waits forever. Drains nest
//     only through handoff_frame (an Asio completion posted to its executor): the outer
//     frame's queue waits, untouched, until the inner one is empty, and an Asio completion
//     queues only into a frame of its own executor's context, so it runs inside that
//     executor's run() call.
//   - Batches: a close()'s wakes and a kicked op's drive run as one hand-off batch, so no
//     continuation runs while they are on the stack (one could destroy an op this thread has
//     claimed but not yet kicked, or is driving). What a batch hands off runs after it, in
//     the order handed off. A queued native continuation whose coroutine is destroyed first
//     is taken off its thread's queues (handoff_withdraw), every frame set aside included.
#include <cassert>
#include <thread>

#include "sluice/internal/async_op.hpp"

namespace sluice::internal {

// ---- The hand-off queue ----------------------------------------------------------------

namespace {

struct handoff_queue {
  handoff_node* head = nullptr;
  handoff_node* tail = nullptr;
  bool active = false;
  unsigned admitted = 0;  // nodes this frame has run or queued: a burst of wakes counts at once
  unsigned handoffs = 0;  // of which resumed another task (a hand-off, not an op done at once)
  bool spent = false;     // a completion was refused for the budget: refuse the rest (no overtaking)
  const void* tag = nullptr;  // the frame's executor context (nullptr: native / run_handoffs)
  handoff_node* slot = nullptr;  // native frames: the latest hand-off, run next (LIFO slot)
  unsigned slot_runs = 0;        // nodes run from the slot in a row while the FIFO held some
  handoff_queue* outer = nullptr;  // the frame handoff_frame set aside for this one, if any
  bool batch = false;  // handoff_batch's own node runs now, first in a frame it started

  void push(handoff_node* n) noexcept {
    n->next = nullptr;
    if (tail) tail->next = n; else head = n;
    tail = n;
  }
  // Native: the newest hand-off runs next; the one it displaces keeps its FIFO turn.
  void push_next(handoff_node* n) noexcept {
    if (slot) push(slot);
    slot = n;
  }
  handoff_node* pop() noexcept {
    if (slot && (!head || slot_runs < lifo_slot_limit)) {
      handoff_node* n = slot;
      slot = nullptr;
      slot_runs = head ? slot_runs + 1 : 0;  // with nobody older waiting, a run counts against no one
      return n;
    }
    if (slot) {
      push(slot);  // its turn in a row is over: behind what waited meanwhile
      slot = nullptr;
    }
    slot_runs = 0;
    handoff_node* n = head;
    if (n) {
      head = n->next;
      if (!head) tail = nullptr;
    }
    return n;
  }
  // Take n off this frame's queue; false if it is not there.
  bool remove(handoff_node* n) noexcept {
    if (slot == n) {
      slot = nullptr;
      return true;
    }
    handoff_node* prev = nullptr;
    for (handoff_node* k = head; k; prev = k, k = k->next) {
      if (k != n) continue;
      (prev ? prev->next : head) = k->next;
      if (tail == k) tail = prev;
      return true;
    }
    return false;
  }
};

thread_local handoff_queue tl_handoff;

// The tag of a frame while a batch's function runs in it: not nullptr, so hand-offs keep their
// order (FIFO), and no executor's context, so no Asio completion queues into it as its own.
const char batch_tag = 0;

}  // namespace

// Run n and then everything queued on q meanwhile, as one frame.
void drain(handoff_queue& q, handoff_node* n, const void* tag) noexcept {
  q.active = true;
  q.admitted = 1;
  q.handoffs = 0;
  q.spent = false;
  q.tag = tag;
  q.slot_runs = 0;
  do {
    n->run(n);  // may destroy n; it may also queue more on q
  } while ((n = q.pop()) != nullptr);
  q.active = false;
}

void handoff(handoff_node* n) noexcept {
  handoff_queue& q = tl_handoff;
  if (q.active) {
    ++q.admitted;
    ++q.handoffs;
    // An io_context frame keeps FIFO (see handoff_if_active), and so do a batch's wakes.
    if (q.tag == nullptr) q.push_next(n); else q.push(n);
    return;
  }
  drain(q, n, nullptr);
}

bool handoff_active() noexcept { return tl_handoff.active; }

void handoff_frame(handoff_node* n, const void* tag) noexcept {
  handoff_queue& q = tl_handoff;
  handoff_queue outer = q;  // set aside (an inactive, empty queue when none runs)
  q = handoff_queue{};
  q.outer = &outer;  // so handoff_withdraw finds what waits there
  drain(q, n, tag);
  q = outer;
}

// In a native frame fn runs under batch_tag, so the continuations it hands off run in the
// order it woke them; a tagged frame (an io_context's, or a batch's) is FIFO already, and an
// io_context's keeps queuing that executor's completions within its budgets.
void run_batch_fn(void (*fn)(void*) noexcept, void* arg) noexcept {
  handoff_queue& q = tl_handoff;
  if (q.tag != nullptr) {
    fn(arg);
    return;
  }
  q.tag = &batch_tag;
  fn(arg);  // a handoff_frame inside restores q, its tag included, before it returns
  q.tag = nullptr;
}

void handoff_batch(void (*fn)(void*) noexcept, void* arg) noexcept {
  handoff_queue& q = tl_handoff;
  if (q.active) {
    run_batch_fn(fn, arg);  // what it hands off queues behind the current node anyway
    return;
  }
  struct batch : handoff_node {
    void (*fn)(void*) noexcept;
    void* arg;
  } b;
  b.run = [](handoff_node* n) noexcept {
    auto* self = static_cast<batch*>(n);
    // Only while this node runs is the frame's caller known to be this batch's: a
    // continuation run next may itself run an io_context (AnEventLoopRunInsideABatchFrame).
    tl_handoff.batch = true;
    run_batch_fn(self->fn, self->arg);
    tl_handoff.batch = false;
  };
  b.fn = fn;
  b.arg = arg;
  drain(q, &b, nullptr);
}

// The batch's frame runs under batch_tag while its function runs: queue as into an executor's
// frame, with the same budget.
bool handoff_after_batch(handoff_node* n, unsigned limit) noexcept {
  return tl_handoff.batch && handoff_if_active(n, limit, &batch_tag, true);
}

void handoff_withdraw(handoff_node* n) noexcept {
  for (handoff_queue* q = &tl_handoff; q; q = q->outer) {
    if (q->remove(n)) return;
  }
  // Queued, yet on none of this thread's queues: another thread completed the op and will
  // resume the coroutine being destroyed (undefined, as async.hpp says).
  assert(!"a coroutine was destroyed while another thread was resuming it");
}

bool handoff_if_active(handoff_node* n, unsigned limit, const void* tag, bool hand_off) noexcept {
  handoff_queue& q = tl_handoff;
  if (!q.active || q.tag != tag) return false;
  // Once one completion has gone through post() for want of budget, every later one in this
  // frame does too: none overtakes it. (Else, with two budgets, a receiver whose operations
  // complete at once kept running, 128 in a row, while each sender it woke was posted: one
  // post() per message where there had been one per 8; measured 313 -> 500 ns per message
  // with 10,000 use_awaitable senders.)
  // Counted when queued, not when run: a close() that wakes 1000 waiting operations queues
  // only the budget's worth; the rest are posted behind what was already waiting.
  // A hand-off is measured against the hand-offs admitted, anything else against all nodes:
  // operations completing at once do not use up the hand-off budget (a producer filling a
  // big buffer still wakes its consumer without post()).
  if (q.spent || (hand_off ? q.handoffs : q.admitted) >= limit) {
    q.spent = true;
    return false;
  }
  ++q.admitted;
  if (hand_off) ++q.handoffs;
  q.push(n);
  return true;
}

// ---- The deadline's timer ----------------------------------------------------------------

void fire_async_timer(async_timer* t) noexcept { t->op->kick(0); }

void async_op::arm_timer() {
  timer_.due = d_.when();
  timer_.op = this;
  arm_async_timer(&timer_);
  armed_ = true;
}

void async_op::disarm_timer() noexcept {
  if (!armed_) return;
  disarm_async_timer(&timer_);
  armed_ = false;
}

// ---- The operation -----------------------------------------------------------------------

namespace {
constexpr std::uint32_t ev_unparked = 4, ev_cancelled = 8;
constexpr std::size_t none = static_cast<std::size_t>(-1);
constexpr std::uint32_t none32 = static_cast<std::uint32_t>(-1);
}  // namespace

void async_op::setup(clause_ref* refs, offer* offers, std::uint32_t* order, std::size_t n, bool fair,
                     const deadline& d) noexcept {
  refs_ = refs;
  offers_ = offers;
  order_ = order;
  n_ = n;
  d_ = d;
  alt_order(order, n, fair);
  started_ = true;
  w_.set_wake(&async_op::on_unpark, this);
  ctl_.store(running, std::memory_order_relaxed);  // unpublished: the owner drives start()
}

async_op::~async_op() { abandon(); }

void async_op::abandon_started() noexcept {
  // Normally done (complete() ran, or start() returned true) or never started: abandon()
  // skips those. A native awaiter's coroutine may be destroyed while suspended: then take the
  // op back and withdraw its offers. (A claim that committed while we hold `running` is
  // honoured by waiting for its unpark; its value dies with the frame. A completion already
  // under way on another thread cannot be stopped: undefined, as async.hpp says. For a
  // claims-only op that includes a claim whose kick has not yet landed: the kicker may take
  // the op with a plain store.)
  std::uint32_t c = ctl_.load(std::memory_order_acquire);  // pairs with the drivers' releases
  if (claims_only_ && !(c & running) && w_.try_abort()) {
    // Idle, and only a claimer could kick it: with the abort won none will, and the offers
    // are ours to withdraw without taking `running`.
    withdraw(none32);
    finished_ = true;
    return;
  }
  for (;;) {
    if (!(c & running) && ctl_.compare_exchange_weak(c, c | running, std::memory_order_acq_rel)) break;  // pairs with drive's release
    if (c & running) {
      std::this_thread::yield();
      c = ctl_.load(std::memory_order_acquire);  // pairs with drive's release
    }
  }
  disarm_timer();
  std::uint32_t claimed = none32;
  if (published_ != 0 && !w_.try_abort()) {
    while (!(ctl_.load(std::memory_order_acquire) & ev_unparked)) std::this_thread::yield();  // pairs with on_unpark
    claimed = w_.claimed_clause();
  }
  withdraw(claimed);
  finished_ = true;
}

void async_op::on_unpark(void* self) noexcept { static_cast<async_op*>(self)->kick(ev_unparked); }

void async_op::cancel() noexcept { kick(ev_cancelled); }

void async_op::kick(std::uint32_t events) noexcept {
  std::uint32_t c = ctl_.load(std::memory_order_acquire);  // pairs with drive's release CAS or on_linked_alone's store
  if (claims_only_ && !(c & running)) {
    // No timer and no cancellation: our claim is the only event, and the driver has let go
    // (its release CAS or on_linked_alone's store, which this load acquired, was its last
    // touch). Nobody else writes ctl_ until this thread releases it again, so a plain store
    // makes us the driver.
    ctl_.store(c | running | events, std::memory_order_relaxed);  // read only by this thread until drive's release
    drive_kicked();
    return;
  }
  for (;;) {
    if (c & running) {
      // acq_rel: release publishes the event's cause (the moved value) to the driver, which
      // acquires ctl_ in step() or when its release CAS fails.
      if (ctl_.compare_exchange_weak(c, c | kicked | events, std::memory_order_acq_rel)) return;  // release: to the driver's acquire
    } else if (ctl_.compare_exchange_weak(c, c | running | events, std::memory_order_acq_rel)) {  // pairs with drive's release
      break;  // acquire: we see everything the last driver did
    }
  }
  drive_kicked();
}

// A kicked op's steps may claim and complete other ops (a buffered retry wakes a sender, a
// settle, a phase-1 try), and any of those continuations could destroy this op's coroutine.
// So they run after this drive returns, never inside it: as one hand-off batch when this
// thread runs none (inside a frame they queue anyway).
void async_op::drive_kicked() noexcept {
  if (handoff_active()) {
    drive(false);
    return;
  }
  handoff_batch([](void* self) noexcept { static_cast<async_op*>(self)->drive(false); }, this);
}

bool async_op::try_ready() {
  const alt_pick p = try_ready_clauses(refs_, order_, n_);
  if (p.pos == none) return false;
  pick_ = p;
  finished_ = true;
  return true;
}

// Every offer is withdrawn and the one claim of this round has kicked: only a cancellation
// or the timer can write ctl_ now, and neither exists for a claims-only op.
void async_op::clear_unparked() noexcept {
  if (claims_only_) {
    ctl_.store(ctl_.load(std::memory_order_relaxed) & ~ev_unparked, std::memory_order_relaxed);  // driver-only; ordered by ctl_'s later CASes
  } else {
    ctl_.fetch_and(~ev_unparked, std::memory_order_relaxed);  // driver-only bit clear; ordered by ctl_'s CASes
  }
}

bool async_op::start(bool tried) {
  // A first look without publishing anything (unless the caller just had one); then the
  // deadline's timer, then the driven steps.
  if (!tried && try_ready()) return true;
  looked_ = true;  // the first step need not look again before it publishes
  if (!d_.is_never() && !d_.expired()) {
    try {
      arm_timer();  // may throw (bad_alloc, the timer thread's start): nothing is published yet
    } catch (...) {
      finished_ = true;  // so abandon() does not wait for a driver that will never come
      throw;
    }
  }
  return drive(true);
}

bool async_op::drive(bool starting) noexcept {
  for (;;) {
    const step_end e = step();
    if (e == step_end::done) {
      if (!starting) complete();
      return true;
    }
    if (e == step_end::let_go) return false;  // released under a channel's lock: touch nothing
    std::uint32_t c = ctl_.load(std::memory_order_acquire);  // pairs with kick's release
    for (;;) {
      if (c & kicked) {
        if (ctl_.compare_exchange_weak(c, c & ~kicked, std::memory_order_acq_rel)) break;  // consume: step again
      } else if (ctl_.compare_exchange_weak(c, c & ~running, std::memory_order_acq_rel)) {  // pairs with kick's acquire
        return false;  // release: the next driver sees our fields. Our last touch.
      }
    }
  }
}

async_op::step_end async_op::done(alt_pick p) noexcept {
  pick_ = p;
  disarm_timer();
  finished_ = true;
  return step_end::done;
}

void async_op::on_linked_alone(void* self) noexcept {
  auto* op = static_cast<async_op*>(self);
  *op->let_go_ = true;  // the driver's local: after the store below it reads no field of ours
  // Under the lock of the channel that has just linked our one offer: no claimer can reach it
  // before the unlock and nothing else kicks a claims-only op, so a store lets go of the op
  // where drive's release CAS would. The claimer's kick acquires it (through the lock, too).
  op->ctl_.store(op->ctl_.load(std::memory_order_relaxed) & ~running, std::memory_order_release);  // pairs with kick's acquire load
}

async_op::published async_op::publish() noexcept {
  w_.prepare();
  saw_ready_ = false;
  bool let_go = false;
  const bool alone = claims_only_ && n_ == 1;
  let_go_ = &let_go;
  w_.set_linked_hook(alone ? &async_op::on_linked_alone : nullptr);
  for (published_ = 0; published_ < n_;) {
    std::uint32_t i = order_[published_];
    clause_ref& c = refs_[i];
    offers_[i] = offer{&w_, i, c.vt->slot(c.obj)};
    ++published_;  // before the offer is out: after a let-go nothing of ours is touched
    bool ready = c.vt->publish(c.obj, &offers_[i], &w_);
    if (let_go) return published::let_go;  // a rendezvous took `running` off us under its lock
    if (ready) {
      saw_ready_ = true;
      break;
    }
    if (!w_.is_waiting()) break;  // already claimed
  }
  return published_ != 0 ? published::out : published::none;
}

void async_op::withdraw(std::uint32_t claimed) noexcept {
  for (std::size_t k = 0; k < published_; ++k) {
    // The claimed offer was unlinked by its claimer (under the channel lock, before the
    // unpark this driver acquired): no lock needed to know that. Any other offer may be
    // unlinked concurrently by a counterpart cleaning up: delist takes the lock.
    if (order_[k] == claimed) continue;
    clause_ref& c = refs_[order_[k]];
    c.vt->delist(c.obj, &offers_[order_[k]]);
  }
  published_ = 0;
}

async_op::step_end async_op::step() noexcept {
  for (;;) {
    // Offers out: decide our own state (run_alt's phase 3), or keep waiting.
    if (published_ != 0) {
      std::uint32_t c = ctl_.load(std::memory_order_acquire);  // pairs with kick's release
      bool claimed = (c & ev_unparked) != 0;
      if (!claimed) {
        if (!saw_ready_ && !(c & ev_cancelled) && !d_.expired()) return step_end::wait;  // nothing new
        if (!w_.try_abort()) return step_end::wait;  // a claim is in flight: its unpark kicks us
      }
      std::uint32_t last = order_[published_ - 1];  // the clause that was ready, if one was
      std::uint32_t i = claimed ? w_.claimed_clause() : none32;
      withdraw(i);
      if (claimed) {
        clause_ref& r = refs_[i];
        if (r.vt->hands_off(r.obj)) return done({i, w_.result()});  // ev_unparked stays: we are done
        clear_unparked();
        status s = r.vt->try_now(r.obj);  // buffered: the claim invites a retry of clause i
        if (performed(s)) return done({i, s});
      } else if (saw_ready_) {
        // As in run_alt: let an alternation that is backing off from us go first.
        clause_ref& r = refs_[last];
        if (r.vt->hands_off(r.obj)) contention_.spin_random(fast_random()); else contention_.spin();
      }
    }
    // Phases 0 and 1: cancelled, out of time, or something ready now.
    if (ctl_.load(std::memory_order_acquire) & ev_cancelled) return done({none, status::cancelled});  // pairs with kick
    if (d_.expired()) return done(settle(refs_, order_, n_));
    if (looked_) {
      looked_ = false;  // start() has just looked: straight to publishing, once
    } else if (const alt_pick p = try_ready_clauses(refs_, order_, n_); p.pos != none) {
      return done(p);
    }
    // Phase 2: publish, then decide at the top of the loop.
    switch (publish()) {
      case published::none: return step_end::wait;  // no clause (only an otherwise): the timer kicks us
      case published::let_go: return step_end::let_go;
      case published::out: break;
    }
  }
}

}  // namespace sluice::internal
