// sluice/internal/buffered.hpp - blocking, closing and alternation for buffered flavors.
//
// Wraps a lock-free buffer (ring<T> or list<T>) with the parts that need waiting: a blocked
// sender or receiver polls the buffer first (the adaptive budget of spin.hpp), then
// publishes an offer on a wait list, re-checks the buffer, and parks. The buffer's fast paths take no lock and make no syscall.
//
// Invariants (after crossbeam-channel's array/list flavors with their SyncWaker):
//   - No lost wakeup: a waiter links its offer (a seq_cst RMW on the wait list's count), then
//     re-checks the buffer (seq_cst loads of head/tail); a thread that pushes or pops first
//     moves head/tail (a seq_cst CAS), then reads the count (a seq_cst load). In the single
//     total order of seq_cst operations at least one of the two sees the other (Dekker), so
//     no fence is needed on the fast path: on x86 the notify check is one plain load.
//   - A claim on a buffered channel carries no value: it means "the buffer changed for you,
//     try again". The woken owner retries its operation (and re-parks if another thread won).
//   - `lock_` guards both wait lists; under it we only link, unlink and CAS waiter states.
//     Threads are unparked after it is released.
//   - close() sets the buffer's closed bit first, then claims every waiter with `closed`;
//     buffered items stay receivable.
#pragma once

#include <atomic>
#include <mutex>
#include <optional>

#include "sluice/internal/backoff.hpp"
#include "sluice/internal/chan.hpp"
#include "sluice/internal/spin.hpp"
#include "sluice/internal/spin_mutex.hpp"
#include "sluice/internal/waitq.hpp"
#include "sluice/policy.hpp"

namespace sluice::internal {

template <class T, class Buffer>
class buffered_chan final : public chan<T> {
 public:
  template <class... A>
  explicit buffered_chan(overflow policy, A&&... a) : policy_(policy), buf_(std::forward<A>(a)...) {}

  status send(const source<T>& src, const deadline& d) override { return send_with(src, d, nullptr); }
  status send_evicting(const source<T>& src, const deadline& d, std::optional<T>& evicted) override {
    return send_with(src, d, &evicted);
  }

  status recv(std::optional<T>& out, const deadline& d) override {
    backoff lost;
    for (;;) {
      // A blocking receive polls the one slot it needs before calling try_pop, whose "empty"
      // verdict has to read the senders' tail word (a cache-line transfer per message). The
      // hint cannot see a close: closed_hint can.
      if (!d.is_now() && !buf_.pop_hint()) {
        if (!spin_until([this] { return buf_.pop_hint() || closed_hint(); })) {
          if (!wait_for(receivers_, d, [this] { return buf_.can_pop(); })) {
            status s = pop(out);  // one last try at the deadline
            return s == status::empty ? status::timeout : s;
          }
        }  // woken, or the hint says ready: try (a claim means "retry", never "done")
      }
      status s = pop(out);
      if (s != status::empty || d.is_now()) return s;
      lost.snooze();  // lost a race, or the only item is still being written: let its writer run
    }
  }

  void close() noexcept override {
    if (!buf_.close()) return;
    closed_.store(true, std::memory_order_release);  // pairs with closed_hint(): who sees it sees the bit
    lock_.lock();
    offer* chain = senders_.claim_all(status::closed, nullptr);
    chain = receivers_.claim_all(status::closed, chain);
    lock_.unlock();
    waitq::wake_all(chain);
  }

  bool is_closed() const noexcept override { return buf_.is_closed(); }
  std::size_t size() const noexcept override { return buf_.size(); }
  std::size_t capacity() const noexcept override { return buf_.capacity(); }

  void enlist(offer* o, bool sending) override {
    // push_back's seq_cst count increment pairs with notify()'s count load: the caller's
    // ready() re-check cannot miss a change whose author did not see this offer.
    std::lock_guard<spin_mutex> g(lock_);
    (sending ? senders_ : receivers_).push_back(o);
  }
  void delist(offer* o, bool sending) override {
    std::lock_guard<spin_mutex> g(lock_);
    (sending ? senders_ : receivers_).remove(o);
  }
  bool ready(const waiter*, bool sending) override { return sending ? buf_.can_push() : buf_.can_pop(); }
  bool hint(bool sending) const noexcept override {
    if (sending) return policy_ == overflow::drop_oldest || buf_.push_hint();  // push_hint sees the closed bit
    return buf_.pop_hint() || closed_hint();
  }
  bool hands_off() const noexcept override { return false; }
  bool probe(bool sending, std::uint64_t& stamp) const noexcept override {
    if (!sending) return buf_.probe_pop(stamp);
    return buf_.probe_push(stamp) || policy_ == overflow::drop_oldest;
  }

 private:
  status send_with(const source<T>& src, const deadline& d, std::optional<T>* evicted) {
    backoff lost;
    for (;;) {
      // A blocking send polls the one slot it needs before calling try_push, whose "full"
      // verdict has to read the receivers' head word (a cache-line transfer per message).
      if (!d.is_now() && policy_ == overflow::block && !buf_.push_hint()) {
        if (!spin_until([this] { return buf_.push_hint(); })) {
          if (!wait_for(senders_, d, [this] { return buf_.can_push(); })) {
            status s = push(src, evicted);  // one last try at the deadline
            return s == status::full ? status::timeout : s;
          }
        }  // woken, or the hint says ready: try (a claim means "retry", never "done")
      }
      status s = push(src, evicted);
      if (s != status::full || policy_ != overflow::block || d.is_now()) return s;
      lost.snooze();  // lost a race, or the only receive in flight is unfinished
    }
  }

  // Push honouring the overflow policy; wakes one blocked receiver on success. drop_oldest
  // moves the item it evicts into *evicted, or destroys it here when evicted is null.
  status push(const source<T>& src, std::optional<T>* evicted) {
    status s;
    if (policy_ == overflow::drop_oldest) {
      std::optional<T> dropped;
      s = buf_.force_push(src, evicted ? *evicted : dropped);
    } else {
      s = buf_.try_push(src);
    }
    if (s == status::ok) notify(receivers_);
    return s;
  }

  // Pop; wakes one blocked sender on success.
  status pop(std::optional<T>& out) {
    status s = buf_.try_pop(out);
    if (s == status::ok) notify(senders_);
    return s;
  }

  // Wake one waiter of `q`, if any. When nobody waits this is one load and a branch. The
  // caller's buffer change was a seq_cst CAS on head/tail; count() is a seq_cst load: they
  // pair with push_back's increment and the owner's seq_cst re-check (see Invariants).
  void notify(waitq& q) {
    if (q.count() == 0) return;
    lock_.lock();
    offer* o = q.claim_one();
    lock_.unlock();
    if (o) o->owner->unpark();
  }

  // Publish an offer on `q`, re-check `ready`, park until claimed or the deadline. Returns
  // true when the caller should retry, false on timeout (offer withdrawn, nothing claimed).
  template <class Ready>
  bool wait_for(waitq& q, const deadline& d, Ready ready) {
    waiter w;
    w.prepare();
    offer o{&w, 0, nullptr};
    {
      std::lock_guard<spin_mutex> g(lock_);
      q.push_back(&o);  // seq_cst count increment: pairs with notify() (see Invariants)
    }
    bool claimed;
    if (ready()) {
      claimed = !w.try_abort();
    } else if (w.park(d)) {
      return true;  // claimed and unparked
    } else {
      claimed = !w.try_abort();
      if (!claimed) {
        withdraw(q, o);
        return false;
      }
    }
    if (claimed) {
      w.park(deadline::never());  // a claim is in flight: wait for its unpark
    } else {
      withdraw(q, o);
    }
    return true;
  }

  void withdraw(waitq& q, offer& o) {
    std::lock_guard<spin_mutex> g(lock_);
    q.remove(&o);
  }

  // A copy of the buffer's closed bit for polling: the bit lives in the senders' tail word,
  // which every send writes, so a receiver polling it would pull that line away from the
  // sender on each message. This flag sits on a line nobody writes until close(). A hint
  // (possibly late); every decision re-reads the real bit (try_pop, can_pop).
  bool closed_hint() const noexcept { return closed_.load(std::memory_order_acquire); }  // pairs with close()'s release

  const overflow policy_;
  std::atomic<bool> closed_{false};
  Buffer buf_;
  spin_mutex lock_;
  waitq senders_;
  waitq receivers_;
};

}  // namespace sluice::internal
