// sluice/internal/zero.hpp - the rendezvous flavor (capacity 0).
//
// Invariants (after Go's chan.go for unbuffered channels and crossbeam's flavors/zero.rs):
//   - `lock_` guards both wait lists and writes of `closed_`. Under it we only link, unlink and CAS
//     waiter states (and run a linked offer's waiter::linked_alone hook, which lets an awaited
//     op's driver go); values are moved and threads are unparked after it is released.
//   - A value moves directly from the sender's object to the receiver's storage, by whichever
//     side arrives second, after it has won the claim CAS on the waiting side's offer.
//   - A claimed waiter's result() is ok (the value moved) or closed (close() claimed it; the
//     sender's object is untouched).
//   - Once closed_ is set no offer is ever linked again (enlist refuses: an alternation then
//     sees ready() report the close), and close() claimed every offer that was linked. So once
//     close() has released the lock nothing can be claimed any more: no value passes through
//     a closed rendezvous channel, and every operation after close() reports closed. (A
//     hand-off whose claim came first still completes: it was committed before the close.)
//   - recv looks at closed_ before it claims a sender: a closed channel has nothing to drain.
//   - A try (deadline now) decides "not ready" without the lock when the counterpart list's
//     count is 0 and closed_ is false (might_meet); probe() reads the same two words.
//     close()'s store and these loads are seq_cst: in their single total order a try that
//     misses a close comes before it, also across channels (two threads that each close one
//     channel and then try the other cannot both miss).
//   - The count itself needs no such pairing (waitq::push_back_unpaired, a release store under
//     the lock): no one links an offer and then relies on a lock-free look at another word. A
//     parked offer is found under the lock by every blocking operation and by every
//     alternation's publish (enlist_ready); a try or hint that reads a count older than a
//     link has no happens-before edge to it (one would make the link visible) and is
//     linearized before that still-pending operation; a hint's "no" only sends an
//     alternation on to publish, under the lock. (So two threads that each start an awaited
//     send on one channel and then try to receive on the other may, in the C++ model, both
//     find nothing, where the seq_cst increment forbade it: still linearizable, the sends
//     being pending. A one-clause awaited op with no deadline or cancellation lets go of its
//     driver with a plain store under this lock (waiter::linked_alone), so link, unlock and
//     the owner's next try are all plain accesses and that outcome can happen on x86 too.)
#pragma once

#include <atomic>
#include <mutex>
#include <optional>

#include "sluice/internal/chan.hpp"
#include "sluice/internal/spin_mutex.hpp"
#include "sluice/internal/waitq.hpp"

namespace sluice::internal {

template <class T>
class zero_chan final : public chan<T> {
 public:
  status send(const source<T>& src, const deadline& d) override {
    if (d.is_now() && !might_meet(receivers_)) return status::full;
    lock_.lock();
    if (closed_.load(std::memory_order_relaxed)) {  // relaxed: written under lock_
      lock_.unlock();
      return status::closed;
    }
    if (offer* r = receivers_.claim_one()) {
      lock_.unlock();
      static_cast<std::optional<T>*>(r->slot)->emplace(src.take());
      r->owner->set_result(status::ok);
      r->owner->unpark();
      return status::ok;
    }
    if (d.is_now()) {
      lock_.unlock();
      return status::full;
    }
    waiter w;
    w.prepare();
    offer o{&w, 0, const_cast<source<T>*>(&src)};
    senders_.push_back_unpaired(&o);
    lock_.unlock();
    return await(w, o, d, senders_);
  }

  status recv(std::optional<T>& out, const deadline& d) override {
    if (d.is_now() && !might_meet(senders_)) return status::empty;
    lock_.lock();
    if (closed_.load(std::memory_order_relaxed)) {  // relaxed: written under lock_
      lock_.unlock();
      return status::closed;
    }
    if (offer* s = senders_.claim_one()) {
      lock_.unlock();
      out.emplace(static_cast<const source<T>*>(s->slot)->take());
      s->owner->set_result(status::ok);
      s->owner->unpark();
      return status::ok;
    }
    if (d.is_now()) {
      lock_.unlock();
      return status::empty;
    }
    // The value lands next to the waiter, on the line the claimer is writing anyway.
    struct alignas(64) landing {
      waiter w;
      std::optional<T> v;
    } l;
    l.w.prepare();
    offer o{&l.w, 0, &l.v};
    receivers_.push_back_unpaired(&o);
    lock_.unlock();
    status st = await(l.w, o, d, receivers_);
    if (st == status::ok) out.emplace(std::move(*l.v));
    return st;
  }

  void close() noexcept override {
    lock_.lock();
    if (closed_.load(std::memory_order_relaxed)) {  // relaxed: under lock_
      lock_.unlock();
      return;
    }
    // seq_cst, not just release: might_meet and probe read it lock-free next to the count.
    closed_.store(true, std::memory_order_seq_cst);  // pairs with might_meet/probe (seq_cst) and is_closed (acquire)
    offer* chain = senders_.claim_all(status::closed, nullptr);
    chain = receivers_.claim_all(status::closed, chain);
    lock_.unlock();
    waitq::wake_all(chain);
  }

  bool is_closed() const noexcept override {
    return closed_.load(std::memory_order_acquire);  // pairs with close()'s store
  }
  std::size_t size() const noexcept override { return 0; }
  std::size_t capacity() const noexcept override { return 0; }

  void enlist(offer* o, bool sending) override {
    std::lock_guard<spin_mutex> g(lock_);
    if (closed_.load(std::memory_order_relaxed)) return;  // relaxed: under lock_. ready() reports the close
    (sending ? senders_ : receivers_).push_back_unpaired(o);
  }
  void delist(offer* o, bool sending) override {
    std::lock_guard<spin_mutex> g(lock_);
    (sending ? senders_ : receivers_).remove(o);
  }
  bool ready(const waiter* self, bool sending) override {
    std::lock_guard<spin_mutex> g(lock_);
    if (closed_.load(std::memory_order_relaxed)) return true;  // relaxed: under lock_
    return (sending ? receivers_ : senders_).has_waiting(self);
  }
  bool enlist_ready(offer* o, bool sending, const waiter* self) override {
    std::lock_guard<spin_mutex> g(lock_);
    if (closed_.load(std::memory_order_relaxed)) return true;  // relaxed: under lock_. As enlist, then ready
    (sending ? senders_ : receivers_).push_back_unpaired(o);
    if ((sending ? receivers_ : senders_).has_waiting(self)) return true;
    o->owner->linked_alone();  // still under the lock (waiter::linked_alone)
    return false;
  }
  bool hint(bool sending) const noexcept override {
    // A counterpart has an offer linked (possibly stale), or the channel is closed: the same
    // two loads as a try's lock-free look.
    return might_meet(sending ? receivers_ : senders_);
  }
  bool hands_off() const noexcept override { return true; }
  bool probe(bool sending, std::uint64_t& stamp) const noexcept override {
    const waitq& q = sending ? receivers_ : senders_;
    std::uint32_t linked = q.count();  // seq_cst: orders arrivals() below
    bool closed = closed_.load(std::memory_order_seq_cst);  // pairs with close()'s seq_cst store (see Invariants)
    stamp += q.arrivals() + (closed ? 1 : 0);
    return linked != 0 || closed;  // no counterpart linked and open: not ready at the load
  }

 private:
  // For a try (deadline now), without the lock: false when no counterpart offer is linked and
  // the channel is open, the try's "not ready" then linearized at the count's load (Go's
  // select fast path, chan.go's `empty`/`full` checks before the lock). An offer linked later
  // is linked after the try. Both loads seq_cst (see Invariants).
  bool might_meet(const waitq& q) const noexcept {
    return q.count() != 0 || closed_.load(std::memory_order_seq_cst);  // pairs with close()'s seq_cst store
  }

  // Park until a counterpart claims `o` or the deadline passes. On timeout, withdraw the offer
  // if the abort CAS wins; if it loses, a claim is in flight: wait for its unpark and honour it.
  status await(waiter& w, offer& o, const deadline& d, waitq& q) {
    if (!w.park(d)) {
      if (w.try_abort()) {
        std::lock_guard<spin_mutex> g(lock_);
        q.remove(&o);
        return status::timeout;
      }
      w.park(deadline::never());
    }
    return w.result();
  }

  spin_mutex lock_;
  std::atomic<bool> closed_{false};
  waitq senders_;
  waitq receivers_;
};

}  // namespace sluice::internal
