// sluice/internal/waiter.hpp - the claim protocol's records: waiter and offer.
//
// Invariants (DESIGN.md, "The claim protocol"; tests/model/claim.pml must match):
//   - A waiter belongs to one blocked operation (a send, a recv or a whole alternation) and
//     lives on that thread's stack. Its `state` word moves exactly once away from `waiting`:
//       waiting -> claimed_base + i   by a counterpart (or close), which then owns clause i;
//       waiting -> aborted            by the owner (timeout, or it saw a clause become ready).
//     Whoever wins that one CAS decides the operation; the loser backs off.
//   - An offer is one clause's entry on one channel's wait list. All offers of a waiter
//     share its state word, so at most one clause of an alternation is ever claimed.
//   - The claimer unlinks the claimed offer (under the channel lock), then, outside any lock,
//     completes the clause (rendezvous: moves the value and writes the waiter's result) and
//     unparks the owner. unpark is its last touch of the waiter or offer.
//   - The owner, once its abort CAS has failed, waits for that unpark before reading the
//     offer or leaving; after an aborted CAS nothing was committed and every value is kept.
#pragma once

#include <atomic>
#include <cstdint>

#include "sluice/internal/parker.hpp"
#include "sluice/status.hpp"

namespace sluice::internal {

// One cache line: the claimer's CAS, its result write and its unpark all land on the line
// the owner polls, so a hand-off costs one line transfer each way.
class alignas(64) waiter {
 public:
  // state word: waiting (0), aborted (1), or claimed_base + clause index.
  static constexpr std::uint32_t waiting = 0, aborted = 1, claimed_base = 2;

  // Re-arm for a new round. Only while no offer of this waiter is published.
  void prepare() noexcept {
    state_.store(waiting, std::memory_order_relaxed);  // unpublished: the lock that publishes orders it
    parker_.prepare();
  }

  // Counterpart: commit clause `i`. acq_rel: acquire pairs with the owner's publication
  // (under the channel lock); release publishes nothing yet (data follows, then unpark).
  bool try_claim(std::uint32_t i) noexcept {
    std::uint32_t expected = waiting;
    return state_.compare_exchange_strong(expected, claimed_base + i, std::memory_order_acq_rel,
                                          std::memory_order_acquire);
  }

  // Owner: give up. Succeeds only if nobody claimed; acquire on failure pairs with try_claim.
  bool try_abort() noexcept {
    std::uint32_t expected = waiting;
    return state_.compare_exchange_strong(expected, aborted, std::memory_order_acq_rel,
                                          std::memory_order_acquire);
  }

  // Snapshot: still claimable? Relaxed: a hint only; the CAS decides.
  bool is_waiting() const noexcept { return state_.load(std::memory_order_relaxed) == waiting; }

  // The clause a counterpart claimed. Valid after the owner's park() returned true following
  // a claim (the unpark's release orders the claim CAS before it).
  std::uint32_t claimed_clause() const noexcept {
    return state_.load(std::memory_order_acquire) - claimed_base;  // pairs with try_claim
  }

  // Owner: sleep until unparked or the deadline; true when unparked.
  bool park(const deadline& d) noexcept { return parker_.park(d); }
  // Counterpart, after a successful try_claim and the clause's completion. A waiter with a
  // wake hook (an awaited operation, async_op.hpp) has no thread to unpark: the hook runs
  // instead, on the claimer's thread, outside every lock, as its last touch of the waiter.
  void unpark() noexcept {
    if (wake_) [[unlikely]] {
      wake_(wake_ctx_);
    } else {
      parker_.unpark();
    }
  }
  // Owner, before any offer is published: route unpark() to `f(ctx)` (never parks then).
  void set_wake(void (*f)(void*) noexcept, void* ctx) noexcept {
    wake_ = f;
    wake_ctx_ = ctx;
  }

  // A rendezvous channel calls this under its lock once it has linked this waiter's offer and
  // found no counterpart to meet (zero_chan::enlist_ready). An awaited op with one clause and
  // no other event than a claim lets go of its driver there, since no claimer can reach the
  // offer before the unlock (src/async.cc, Invariants). Threads set no hook.
  void linked_alone() noexcept {
    if (linked_hook_) linked_hook_(wake_ctx_);
  }
  // Owner, before publishing: the hook for linked_alone (nullptr: none), with set_wake's ctx.
  void set_linked_hook(void (*f)(void*) noexcept) noexcept { linked_hook_ = f; }

  // The outcome of a rendezvous claim: ok (value moved) or closed. Written by the claimer
  // before unpark (whose release publishes it), read by the owner after park returned true.
  void set_result(status s) noexcept { result_ = s; }
  status result() const noexcept { return result_; }

 private:
  std::atomic<std::uint32_t> state_{waiting};
  parker parker_;
  status result_ = status::ok;
  void (*wake_)(void*) noexcept = nullptr;
  void* wake_ctx_ = nullptr;
  void (*linked_hook_)(void*) noexcept = nullptr;
};
#if defined(__linux__)
static_assert(sizeof(waiter) == 64, "the futex parker's waiter fits one cache line");
#endif

// One clause of a blocked operation, published on a channel's senders or receivers list.
struct offer {
  waiter* owner = nullptr;
  std::uint32_t clause = 0;
  // Rendezvous payload. Send offer: the internal::source<T>* to take the value from.
  // Receive offer: the std::optional<T>* to construct the value in. Unused when buffered.
  void* slot = nullptr;

  // Wait-list links, guarded by the owning channel's lock.
  offer* prev = nullptr;
  offer* next = nullptr;
  bool linked = false;
  // Claimed offers collected under the lock, woken after it is released.
  offer* wake_next = nullptr;
};

}  // namespace sluice::internal
