// sluice/internal/waitq.hpp - a channel's list of offers from blocked senders or receivers.
//
// Invariants:
//   - Every member function except count() and wake_all() requires the owning channel's
//     spin_mutex to be held; a channel's two queues share its one lock.
//   - An offer is linked iff `linked` is true; whoever unlinks it (the claimer, a close, or
//     the owner withdrawing it) clears the flag, so withdrawing twice is harmless.
//   - count() is the number of linked offers; buffered channels read it without the lock to
//     skip the lock entirely when nobody waits (one load and a branch on the fast path). The
//     no-lost-wakeup argument is a Dekker pair of seq_cst operations, see push_back. A
//     rendezvous channel's try reads it without the lock too (zero.hpp, might_meet); nothing
//     there pairs with it, so a rendezvous links with push_back_unpaired (no locked
//     instruction).
//   - Nothing here unparks a thread: claimed offers are returned and woken by the caller
//     after it has released the lock (wake / wake_all).
#pragma once

#include <atomic>
#include <cstdint>

#include "sluice/internal/handoff.hpp"
#include "sluice/internal/waiter.hpp"

namespace sluice::internal {

class waitq {
 public:
  void push_back(offer* o) noexcept {
    link(o);
    // seq_cst RMW: the Dekker half of register-then-recheck. It pairs with the seq_cst load
    // in count() after a buffer change: either that load sees this offer, or the owner's
    // seq_cst re-check of the buffer (ring/list can_push/can_pop) sees the change.
    count_.fetch_add(1, std::memory_order_seq_cst);
  }

  // push_back for a list whose lock-free count() needs no Dekker pairing: a rendezvous
  // channel's, read only by tries and hints that fall back to the lock or to a linearization
  // before this push (zero.hpp, Invariants). Written only under the lock, so a plain store of
  // load + 1 is the increment (no locked instruction: 9% of an awaited rendezvous hand-off).
  void push_back_unpaired(offer* o) noexcept {
    link(o);
    count_.store(count_.load(std::memory_order_relaxed) + 1, std::memory_order_release);  // pairs with count()'s load
  }

  void remove(offer* o) noexcept {
    if (!o->linked) return;
    if (o->prev) o->prev->next = o->next; else head_ = o->next;
    if (o->next) o->next->prev = o->prev; else tail_ = o->prev;
    o->linked = false;
    // Written only under the lock, so a plain store of load - 1 is the decrement (no locked
    // instruction); a reader's stale nonzero only costs it a lock. Release (free on x86): it
    // continues what push_back's fetch_add published (arrivals_) to count()'s seq_cst load.
    count_.store(count_.load(std::memory_order_relaxed) - 1, std::memory_order_release);  // pairs with count()
  }

  // Claim the first offer whose owner is still waiting and is not `self` (an alternation
  // never pairs with itself); unlink it and return it. Stale offers met on the way (their
  // owner aborted or was claimed through another channel) are unlinked to help their owners.
  offer* claim_one(const waiter* self = nullptr) noexcept {
    for (offer* o = head_; o != nullptr;) {
      offer* next = o->next;
      if (o->owner != self) {
        if (o->owner->try_claim(o->clause)) {
          remove(o);
          return o;
        }
        if (!o->owner->is_waiting()) remove(o);
      }
      o = next;
    }
    return nullptr;
  }

  // Is there an offer some other waiter could still commit? (a snapshot under the lock)
  bool has_waiting(const waiter* self) const noexcept {
    for (offer* o = head_; o != nullptr; o = o->next) {
      if (o->owner != self && o->owner->is_waiting()) return true;
    }
    return false;
  }

  // Claim every claimable offer with `result` (close), unlink all, and return the claimed
  // ones chained through wake_next, to be woken once the lock is released.
  // In the order they were linked, ahead of `chain`.
  offer* claim_all(status result, offer* chain) noexcept {
    offer* first = nullptr;
    offer** last = &first;
    while (offer* o = head_) {
      remove(o);
      if (o->owner->try_claim(o->clause)) {
        o->owner->set_result(result);
        *last = o;
        last = &o->wake_next;
      }
    }
    *last = chain;
    return first;
  }

  // seq_cst: pairs with push_back's fetch_add (see there); acquire (the part that matters)
  // for push_back_unpaired's and remove's release stores. On x86 a plain load.
  std::uint32_t count() const noexcept { return count_.load(std::memory_order_seq_cst); }

  // How many offers were ever linked: grows whenever a counterpart may have become ready.
  // Lock-free; call after count(): its seq_cst (acquire) load of a count written by, or
  // after, push_back's fetch_add makes that push_back's increment visible here.
  std::uint64_t arrivals() const noexcept {
    return arrivals_.load(std::memory_order_relaxed);  // ordered by the caller's count() (see above)
  }

  // Outside the lock: unpark each claimed offer's owner. Reads wake_next before the unpark,
  // since the owner may return (and its offer vanish) as soon as it is unparked. As one
  // hand-off batch: a coroutine woken here resumes only after every owner has been woken, so
  // none can destroy a coroutine whose op this call has claimed but not yet kicked (its
  // destroyer would wait for that kick, owed by its own thread).
  static void wake_all(offer* chain) noexcept {
    if (chain) handoff_batch(&wake_chain, chain);
  }

 private:
  static void wake_chain(void* first) noexcept {
    for (auto* o = static_cast<offer*>(first); o;) {
      offer* next = o->wake_next;
      o->owner->unpark();
      o = next;
    }
  }

  // Both pushes: append o and count the arrival. Single writer (under the lock). Published by
  // the caller's count_ update that follows (push_back's fetch_add, push_back_unpaired's
  // release store): whoever reads that count (or a later one) with acquire also sees this
  // increment (see arrivals()).
  void link(offer* o) noexcept {
    o->prev = tail_;
    o->next = nullptr;
    if (tail_) tail_->next = o; else head_ = o;
    tail_ = o;
    o->linked = true;
    arrivals_.store(arrivals_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);  // published by the caller's count_ update
  }

  offer* head_ = nullptr;
  offer* tail_ = nullptr;
  std::atomic<std::uint32_t> count_{0};
  std::atomic<std::uint64_t> arrivals_{0};
};

}  // namespace sluice::internal
