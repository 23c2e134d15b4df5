// sluice/internal/ring.hpp - bounded lock-free MPMC ring buffer.
//
// Algorithm: Dmitry Vyukov's bounded MPMC queue (per-slot sequence stamps), in the shape of
// crossbeam-channel's flavors/array.rs: positions are 64-bit words `lap | index` with
// one_lap = 2 * mark_bit, so any capacity works without a division, and the tail's mark_bit
// is the closed flag (one atomic op closes both sides).
//
// Invariants:
//   - head_ and tail_ hold `lap * one_lap + index`; tail_ may also carry mark_bit (closed).
//   - Slot i's stamp is `pos` when it is free for the sender at position pos, and `pos + 1`
//     once the value for position pos has been written; a receiver that takes it sets it to
//     `pos + one_lap`, freeing it for the sender one lap later. The slot stores `stamp - i`,
//     so a fresh ring (every stamp i) is all zero bytes: its memory is not written when it
//     is made (zeroed.hpp), and a large channel costs memory (and page faults) only as far
//     as it is filled, as Go's.
//   - A slot's value is constructed only by the sender that reserved its position (CAS on
//     tail_) and destroyed only by the receiver that reserved it (CAS on head_); the stamp's
//     release/acquire pair orders the value between them.
//   - Full: head + one_lap == tail. Empty: tail (without mark) == head.
//   - Between a position's reservation (the CAS) and the stamp store that completes it, only
//     T's noexcept move (and, popping, its destructor) runs: no copy, no user callback.
//   - A send whose position is reserved but not yet written, or a receive whose slot is not
//     yet released, has not completed: when it is the only one in flight, try_pop reports
//     empty (try_push: full), linearizing the unfinished operation after it. With more in
//     flight the caller waits (spinning, then yielding) for the one it needs.
//   - force_push (drop_oldest) reserves the tail position first, even on a full ring: that
//     CAS fails if the ring is closed, so a send that reports closed has evicted nothing. It
//     then evicts the oldest item by CASing head from the value of its full check; if a
//     receiver took that item first, the ring was no longer full and nothing is evicted
//     (crossbeam's ArrayQueue::force_push does the two CASes in the other order, which it
//     can since its queue has no close). While a force_push is between its two CASes the
//     tail is one position past full (len() clamps).
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <type_traits>

#include "sluice/internal/backoff.hpp"
#include "sluice/internal/config.hpp"
#include "sluice/internal/source.hpp"
#include "sluice/internal/zeroed.hpp"
#include "sluice/status.hpp"

namespace sluice::internal {

template <class T>
class ring {
 public:
  explicit ring(std::size_t capacity)
      : cap_(capacity),
        mark_bit_(std::bit_ceil(static_cast<std::uint64_t>(capacity) + 1)),
        one_lap_(mark_bit_ * 2),
        memory_(slot_bytes(capacity), alignof(slot)),
        slots_(static_cast<slot*>(memory_.get())) {}

  ring(const ring&) = delete;
  ring& operator=(const ring&) = delete;

  ~ring() {
    // Single-threaded now: destroy what is still buffered, exactly once.
    std::uint64_t head = head_.load(std::memory_order_relaxed);
    std::size_t n = len(head, tail_.load(std::memory_order_relaxed));
    std::size_t ix = static_cast<std::size_t>(head & (mark_bit_ - 1));
    for (std::size_t i = 0; i < n; ++i) {
      std::size_t j = ix + i < cap_ ? ix + i : ix + i - cap_;
      slots_[j].value()->~T();
    }
  }

  // ok, full, or closed. `src` is taken only on ok.
  status try_push(const source<T>& src) {
    backoff b;
    std::uint64_t tail = tail_.load(std::memory_order_relaxed);  // re-validated by the CAS
    for (;;) {
      if (tail & mark_bit_) return status::closed;
      slot& s = slots_[static_cast<std::size_t>(tail & (mark_bit_ - 1))];
      // Acquire pairs with the release stamp store in try_pop: the slot's old value is gone.
      std::uint64_t stamp = load_stamp(s, std::memory_order_acquire);  // pairs with try_pop's release stamp store
      if (stamp == tail) {
        // seq_cst: the full/empty checks fence against this CAS. Relaxed on failure: we only
        // retry with the fresh value.
        if (tail_.compare_exchange_weak(tail, next(tail), std::memory_order_seq_cst, std::memory_order_relaxed)) {  // failure: retry only
          write(s, tail, src);
          return status::ok;
        }
        b.spin();
      } else if (stamp + one_lap_ == tail + 1) {
        // The slot still holds the value from one lap ago: full, unless head moved on.
        // seq_cst (a plain load on x86): ordered against try_pop's seq_cst CAS on head, so
        // "full" is linearized at this load.
        std::uint64_t head = head_.load(std::memory_order_seq_cst);
        if (head + one_lap_ == tail) return status::full;
        // A receiver took this slot's item and is still moving it out. The only receive in
        // flight: it has not completed, so the ring is full until it does.
        if (head + one_lap_ == next(tail)) return status::full;
        b.snooze();  // more are in flight: wait for it (yield soon: it may be preempted)
        tail = tail_.load(std::memory_order_relaxed);  // re-validated by the CAS
      } else {
        // Another sender reserved this position but has not written yet, or we are stale.
        b.snooze();
        tail = tail_.load(std::memory_order_relaxed);  // re-validated by the CAS
      }
    }
  }

  // drop_oldest: ok or closed. A full ring makes room by evicting its oldest item, moved into
  // `evicted`, only while it is still full (see Invariants). `src` is taken only on ok.
  status force_push(const source<T>& src, std::optional<T>& evicted) {
    backoff b;
    std::uint64_t tail = tail_.load(std::memory_order_relaxed);  // re-validated by the CASes
    for (;;) {
      if (tail & mark_bit_) return status::closed;
      slot& s = slots_[static_cast<std::size_t>(tail & (mark_bit_ - 1))];
      std::uint64_t stamp = load_stamp(s, std::memory_order_acquire);  // as in try_push
      std::uint64_t head = 0;
      bool full = false;
      if (stamp + one_lap_ == tail + 1) {
        head = head_.load(std::memory_order_seq_cst);  // as in try_push
        full = head + one_lap_ == tail;
      }
      if (stamp == tail || full) {
        // Reserve the position, free or full. seq_cst as in try_push; relaxed on failure.
        if (tail_.compare_exchange_weak(tail, next(tail), std::memory_order_seq_cst, std::memory_order_relaxed)) {  // failure: retry only
          if (full) make_room(s, head, tail, evicted);
          write(s, tail, src);
          return status::ok;
        }
        b.spin();
      } else {
        b.snooze();  // a receive or a send in flight on this slot: wait for it
        tail = tail_.load(std::memory_order_relaxed);  // re-validated by the CAS
      }
    }
  }

  // ok, empty, or closed (closed and drained). `out` is set only on ok.
  status try_pop(std::optional<T>& out) {
    backoff b;
    std::uint64_t head = head_.load(std::memory_order_relaxed);  // re-validated by the CAS
    for (;;) {
      std::size_t index = static_cast<std::size_t>(head & (mark_bit_ - 1));
      slot& s = slots_[index];
      // Acquire pairs with the release stamp store in push: the value is written.
      std::uint64_t stamp = load_stamp(s, std::memory_order_acquire);  // pairs with write()'s release stamp store
      if (stamp == head + 1) {
        if (head_.compare_exchange_weak(head, next(head), std::memory_order_seq_cst, std::memory_order_relaxed)) {  // failure: retry only
          T* v = s.value();
          out.emplace(std::move(*v));
          v->~T();
          store_stamp(s, head + one_lap_, std::memory_order_release);  // pairs with push's acquire
          return status::ok;
        }
        b.spin();
      } else if (stamp == head) {
        // The slot is not written for this lap: empty, unless tail moved on.
        // seq_cst: ordered against push's seq_cst CAS on tail, so "empty" is linearized at
        // this load.
        std::uint64_t tail = tail_.load(std::memory_order_seq_cst);
        if ((tail & ~mark_bit_) == head) return (tail & mark_bit_) ? status::closed : status::empty;
        // A sender reserved this position and is still writing it. The only one: its send
        // has not completed, so the ring is empty until it does.
        if ((tail & ~mark_bit_) == next(head)) return status::empty;
        b.snooze();  // more are in flight: wait for this one (yield soon: its writer may be preempted)
        head = head_.load(std::memory_order_relaxed);  // re-validated by the CAS
      } else {
        b.snooze();
        head = head_.load(std::memory_order_relaxed);  // re-validated by the CAS
      }
    }
  }

  // Set the closed bit; true if this call closed the ring.
  bool close() noexcept { return (tail_.fetch_or(mark_bit_, std::memory_order_seq_cst) & mark_bit_) == 0; }
  bool is_closed() const noexcept { return (tail_.load(std::memory_order_seq_cst) & mark_bit_) != 0; }

  // For a linearizable give-up (chan::probe): head + tail, which grows with every push, pop
  // and close; and whether the clause may be ready (false: not ready at the loads).
  bool probe_pop(std::uint64_t& stamp) const noexcept {
    std::uint64_t head = head_.load(std::memory_order_seq_cst);
    std::uint64_t tail = tail_.load(std::memory_order_seq_cst);
    stamp += head + tail;
    return (tail & ~mark_bit_) != head || (tail & mark_bit_);
  }
  bool probe_push(std::uint64_t& stamp) const noexcept {
    std::uint64_t head = head_.load(std::memory_order_seq_cst);
    std::uint64_t tail = tail_.load(std::memory_order_seq_cst);
    stamp += head + tail;
    return (tail & mark_bit_) || head + one_lap_ != tail;
  }

  // Snapshots for readiness (alternation and register-then-recheck); seq_cst loads.
  bool can_push() const noexcept {
    std::uint64_t tail = tail_.load(std::memory_order_seq_cst);
    if (tail & mark_bit_) return true;
    return head_.load(std::memory_order_seq_cst) + one_lap_ != tail;
  }
  bool can_pop() const noexcept {
    std::uint64_t head = head_.load(std::memory_order_seq_cst);
    std::uint64_t tail = tail_.load(std::memory_order_seq_cst);
    return (tail & ~mark_bit_) != head || (tail & mark_bit_);
  }

  // Cheap hints for the spin phase before parking: look only at the one slot the next push
  // (or pop) needs, the line the other side writes anyway, instead of the head and tail
  // words, which every operation writes. Relaxed loads: a hint; try_push/try_pop decide.
  bool push_hint() const noexcept {
    std::uint64_t tail = tail_.load(std::memory_order_relaxed);  // a hint: try_push re-reads and decides
    if (tail & mark_bit_) return true;
    const slot& s = slots_[static_cast<std::size_t>(tail & (mark_bit_ - 1))];
    return load_stamp(s, std::memory_order_relaxed) == tail;  // a hint: try_push's acquire load decides
  }
  bool pop_hint() const noexcept {
    std::uint64_t head = head_.load(std::memory_order_relaxed);  // a hint: try_pop re-reads and decides
    const slot& s = slots_[static_cast<std::size_t>(head & (mark_bit_ - 1))];
    return load_stamp(s, std::memory_order_relaxed) == head + 1;  // a hint: try_pop's acquire load decides
  }

  std::size_t size() const noexcept {
    for (;;) {
      std::uint64_t tail = tail_.load(std::memory_order_seq_cst);
      std::uint64_t head = head_.load(std::memory_order_seq_cst);
      if (tail_.load(std::memory_order_seq_cst) == tail) return len(head, tail);
    }
  }
  std::size_t capacity() const noexcept { return cap_; }

 private:
  // A trivial type, so calloc's zeroed memory holds valid slots (an implicit-lifetime type).
  // The stamp is accessed only atomically, through std::atomic_ref.
  struct slot {
    alignas(std::atomic_ref<std::uint64_t>::required_alignment) std::uint64_t rel;  // stamp - index
    alignas(T) unsigned char storage[sizeof(T)];
    T* value() noexcept { return std::launder(reinterpret_cast<T*>(storage)); }
  };
  static_assert(std::is_trivial_v<slot>);

  std::uint64_t index_of(const slot& s) const noexcept { return static_cast<std::uint64_t>(&s - slots_); }
  std::uint64_t load_stamp(const slot& s, std::memory_order o) const noexcept {
    std::atomic_ref<std::uint64_t> a(const_cast<std::uint64_t&>(s.rel));  // only ever accessed atomically
    return a.load(o) + index_of(s);  // the order is the caller's (each call site says what it pairs with)
  }
  void store_stamp(slot& s, std::uint64_t stamp, std::memory_order o) noexcept {
    std::atomic_ref<std::uint64_t>(s.rel).store(stamp - index_of(s), o);  // the order is the caller's
  }

  // Zero bytes, untouched until a send reaches them (zeroed.hpp): the slots are implicitly
  // created in that memory (a trivial type).
  static std::size_t slot_bytes(std::size_t n) {
    if (n > SIZE_MAX / sizeof(slot)) throw std::bad_alloc();  // n * sizeof(slot) would wrap
    return n * sizeof(slot);
  }

  // Positions between head and tail, clamped to the capacity (a force_push between its two
  // CASes leaves the tail one past full).
  std::size_t len(std::uint64_t head, std::uint64_t tail) const noexcept {
    tail &= ~mark_bit_;
    std::uint64_t laps = ((tail & ~(one_lap_ - 1)) - (head & ~(one_lap_ - 1))) / one_lap_;
    std::uint64_t n = laps * cap_ + (tail & (mark_bit_ - 1)) - (head & (mark_bit_ - 1));
    return static_cast<std::size_t>(n < cap_ ? n : cap_);
  }

  // The position after `pos`: the next index, or index 0 of the next lap.
  std::uint64_t next(std::uint64_t pos) const noexcept {
    std::uint64_t index = pos & (mark_bit_ - 1);
    return index + 1 < cap_ ? pos + 1 : (pos & ~(one_lap_ - 1)) + one_lap_;
  }

  // Construct the value at a reserved position and publish it.
  void write(slot& s, std::uint64_t tail, const source<T>& src) noexcept {
    ::new (s.storage) T(src.take());
    store_stamp(s, tail + 1, std::memory_order_release);  // pairs with try_pop's acquire
  }

  // force_push after reserving position `tail` of a full ring, whose slot `s` still holds
  // the item at position `head` (tail - one lap): evict that item if it is still the oldest
  // (the ring still full), else wait for the receiver that took it to release the slot.
  void make_room(slot& s, std::uint64_t head, std::uint64_t tail, std::optional<T>& evicted) noexcept {
    // seq_cst like try_pop's CAS on head; relaxed on failure: we do not use the value.
    if (head_.compare_exchange_strong(head, next(head), std::memory_order_seq_cst, std::memory_order_relaxed)) {  // failure: value unused
      T* v = s.value();
      evicted.emplace(std::move(*v));
      v->~T();
    } else {
      backoff b;
      // Acquire pairs with try_pop's release stamp store: the old value is gone.
      while (load_stamp(s, std::memory_order_acquire) != tail) b.snooze();  // pairs with try_pop's release stamp store
    }
  }

  const std::size_t cap_;
  const std::uint64_t mark_bit_;
  const std::uint64_t one_lap_;
  const zeroed_memory memory_;
  slot* const slots_;
  alignas(cache_line) std::atomic<std::uint64_t> head_{0};
  alignas(cache_line) std::atomic<std::uint64_t> tail_{0};
  char pad_[cache_line - sizeof(std::atomic<std::uint64_t>)];
};

}  // namespace sluice::internal
