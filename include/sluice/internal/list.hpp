// sluice/internal/list.hpp - unbounded lock-free MPMC queue of fixed-size segments.
//
// Algorithm: crossbeam-channel's flavors/list.rs (itself after Vyukov's and Michael-Scott's
// queues): a linked list of blocks of 31 slots; a position is `(lap * 32 + offset) << 1`,
// where offset 31 is the never-used "end of block" index that lets the sender who fills the
// last slot install the next block while others wait. Memory grows by a block per 31
// messages, never per message.
//
// Invariants:
//   - tail_.index bit 0 (mark_bit) is the closed flag; head_.index bit 0 means "the block
//     after head's is installed" (so a receiver may skip the empty check against tail).
//   - A slot's value is written by the one sender that reserved its position (CAS on the
//     tail index) and read by the one receiver that reserved it (CAS on the head index);
//     the slot's `written` flag (release store / acquire load) orders the value between them.
//   - Slot state is split by writer: `written[i]` is stored only by slot i's sender, so it is
//     a plain store, not an RMW; `done[i]` (read_bit, destroy_bit) is changed only by slot
//     i's receiver and the destroyer, with RMWs. Crossbeam keeps the three bits in one word,
//     which costs the sender a locked RMW per message. The flags are bytes, apart from the
//     values, so a block of 8-byte values is 320 bytes rather than 504: a third fewer pages
//     to fault in and lines to move.
//   - A receiver touches a block only after its CAS on the head index reserved a slot in it
//     (until then the block may be freed under it). So, unlike the ring, try_pop cannot
//     look at an unreserved slot's written flag: when the only item is still being written,
//     it reserves it and waits for the sender's (noexcept) move, spinning, then yielding.
//   - pushed_ is only a hint for pollers (pop_hint): some tail value a sender produced, so
//     never ahead of the tail; decisions (try_pop, can_pop) read the real indices.
//   - A block is freed exactly once: by the receiver of its last slot, unless some receiver
//     of an earlier slot is still reading, in which case the `destroy` bit hands the job to
//     the last such reader (destroy below). "Freed" may mean parked in the one-block cache
//     (spare_) for the next sender to reuse; a block in the cache belongs to nobody.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <optional>

#include "sluice/internal/backoff.hpp"
#include "sluice/internal/config.hpp"
#include "sluice/internal/source.hpp"
#include "sluice/status.hpp"

namespace sluice::internal {

template <class T>
class list {
  static constexpr std::uint8_t read_bit = 1, destroy_bit = 2;  // done[] flags
  static constexpr std::uint64_t lap = 32;
  static constexpr std::uint64_t block_cap = lap - 1;
  static constexpr unsigned shift = 1;
  static constexpr std::uint64_t mark_bit = 1;

  struct block {
    // Senders write the first line (next, written) and the values; receivers change done[],
    // which sits after the values so that it shares no line with written[].
    std::atomic<block*> next{nullptr};
    std::atomic<std::uint8_t> written[block_cap] = {};  // 1: value constructed (its sender)
    alignas(T) unsigned char storage[block_cap][sizeof(T)];
    std::atomic<std::uint8_t> done[block_cap] = {};     // read_bit | destroy_bit

    T* value(std::size_t i) noexcept { return std::launder(reinterpret_cast<T*>(storage[i])); }
    void wait_write(std::size_t i) const noexcept {
      backoff b;
      while (written[i].load(std::memory_order_acquire) == 0) b.snooze();  // pairs with try_push's release store
    }
    block* wait_next() const noexcept {
      backoff b;
      for (;;) {
        block* n = next.load(std::memory_order_acquire);  // pairs with the release store in try_push
        if (n) return n;
        b.snooze();
      }
    }
  };

  // Free the block once no receiver still reads slots [start, block_cap - 1) of it.
  void destroy(block* b, std::size_t start) noexcept {
    // The last slot's reader started destruction, so it need not be marked.
    for (std::size_t i = start; i + 1 < block_cap; ++i) {
      std::atomic<std::uint8_t>& d = b->done[i];
      // destroy_bit is set at most once per slot (a scan stops at the slot it marks and the
      // next one starts after it), so fetch_add is fetch_or here: one xadd, not a CAS loop.
      if ((d.load(std::memory_order_acquire) & read_bit) == 0 &&                 // pairs with the reader's fetch_add(read_bit)
          (d.fetch_add(destroy_bit, std::memory_order_acq_rel) & read_bit) == 0) {  // pairs with the same, from the other side
        return;  // that reader is still busy; it will continue the destruction
      }
    }
    recycle(b);
  }

  // A one-block cache: a steady producer/consumer pair reuses the block the receivers just
  // finished instead of a malloc and a free per 31 messages (for large T a block is a
  // large-bin request, and those make glibc consolidate every fastbin the other threads
  // filled). Nobody touches a block once it is recycled.
  block* new_block() {
    block* b = spare_.exchange(nullptr, std::memory_order_acquire);  // pairs with recycle's release
    if (b == nullptr) return new block;
    b->next.store(nullptr, std::memory_order_relaxed);  // unpublished until installed (release)
    for (std::size_t i = 0; i < block_cap; ++i) {
      b->written[i].store(0, std::memory_order_relaxed);  // unpublished: installing the block releases it
      b->done[i].store(0, std::memory_order_relaxed);     // likewise
    }
    return b;
  }
  void recycle(block* b) noexcept {
    block* expected = nullptr;
    if (!spare_.compare_exchange_strong(expected, b, std::memory_order_release,  // pairs with new_block's acquire
                                        std::memory_order_relaxed)) {            // failure: nothing published
      delete b;
    }
  }

  struct position {
    std::atomic<std::uint64_t> index{0};
    std::atomic<block*> blk{nullptr};
  };

 public:
  list() = default;
  list(const list&) = delete;
  list& operator=(const list&) = delete;

  ~list() {
    // Single-threaded now: destroy the buffered values exactly once, then free the blocks.
    std::uint64_t head = head_.index.load(std::memory_order_relaxed) & ~((1u << shift) - 1);
    std::uint64_t tail = tail_.index.load(std::memory_order_relaxed) & ~((1u << shift) - 1);
    block* b = head_.blk.load(std::memory_order_relaxed);
    while (head != tail) {
      std::uint64_t offset = (head >> shift) % lap;
      if (offset < block_cap) {
        b->value(offset)->~T();
      } else {
        block* n = b->next.load(std::memory_order_relaxed);
        delete b;
        b = n;
      }
      head += 1u << shift;
    }
    delete b;
    delete spare_.load(std::memory_order_relaxed);  // single-threaded now
  }

  // ok or closed (an unbounded queue is never full). `src` is taken only on ok.
  status try_push(const source<T>& src) {
    backoff bo;
    // Acquire pairs with the release stores of index/block by the sender who installed a block.
    std::uint64_t tail = tail_.index.load(std::memory_order_acquire);
    block* b = tail_.blk.load(std::memory_order_acquire);
    block* spare = nullptr;
    for (;;) {
      if (tail & mark_bit) {
        if (spare) recycle(spare);
        return status::closed;
      }
      std::uint64_t offset = (tail >> shift) % lap;
      if (offset == block_cap) {  // another sender is installing the next block
        bo.snooze();
        tail = tail_.index.load(std::memory_order_acquire);  // pairs as above
        b = tail_.blk.load(std::memory_order_acquire);
        continue;
      }
      // About to fill the block: allocate the next one before reserving, to keep the window
      // in which others wait for it short.
      if (offset + 1 == block_cap && spare == nullptr) spare = new_block();
      if (b == nullptr) {  // the very first send installs the first block
        block* fresh = spare ? spare : new_block();
        spare = nullptr;
        block* expected = nullptr;
        // Release publishes the block's construction; pairs with the acquire loads of blk.
        if (tail_.blk.compare_exchange_strong(expected, fresh, std::memory_order_release,
                                              std::memory_order_relaxed)) {
          head_.blk.store(fresh, std::memory_order_release);  // pairs with try_pop's acquire
          b = fresh;
        } else {
          spare = fresh;
          tail = tail_.index.load(std::memory_order_acquire);  // pairs as above
          b = tail_.blk.load(std::memory_order_acquire);
          continue;
        }
      }
      std::uint64_t next = tail + (1u << shift);
      // seq_cst: try_pop's empty check fences against it. Acquire on failure re-reads.
      if (tail_.index.compare_exchange_weak(tail, next, std::memory_order_seq_cst, std::memory_order_acquire)) {
        if (offset + 1 == block_cap) {  // we took the last slot: install the next block
          block* nb = spare;
          spare = nullptr;
          tail_.blk.store(nb, std::memory_order_release);                    // pairs with senders' acquire
          tail_.index.fetch_add(1u << shift, std::memory_order_release);     // skip the end index
          b->next.store(nb, std::memory_order_release);                      // pairs with wait_next
        }
        ::new (b->storage[offset]) T(src.take());
        b->written[offset].store(1, std::memory_order_release);  // pairs with wait_write
        // A hint for pop_hint, never read for a decision. Another sender's store may land
        // after ours with a lower value: a poller then waits for the next send or parks.
        std::uint64_t pushed = offset + 1 == block_cap ? next + (1u << shift) : next;
        pushed_.store(pushed, std::memory_order_relaxed);  // a hint: pairs with nothing (see pop_hint)
        if (spare) recycle(spare);
        return status::ok;
      }
      b = tail_.blk.load(std::memory_order_acquire);  // pairs as above
      bo.spin();
    }
  }

  // ok, empty, or closed (closed and drained). `out` is set only on ok.
  status try_pop(std::optional<T>& out) {
    backoff bo;
    std::uint64_t head = head_.index.load(std::memory_order_acquire);  // pairs with the block-advance stores
    block* b = head_.blk.load(std::memory_order_acquire);
    for (;;) {
      std::uint64_t offset = (head >> shift) % lap;
      if (offset == block_cap) {  // another receiver is moving head to the next block
        bo.snooze();
        head = head_.index.load(std::memory_order_acquire);
        b = head_.blk.load(std::memory_order_acquire);
        continue;
      }
      std::uint64_t next = head + (1u << shift);
      if ((next & mark_bit) == 0) {
        // seq_cst (a plain load on x86, where crossbeam has a fence and a relaxed load): in
        // the total order it comes before or after try_push's seq_cst CAS, so "empty" is
        // linearized at this load.
        std::uint64_t tail = tail_.index.load(std::memory_order_seq_cst);
        if ((head >> shift) == (tail >> shift)) return (tail & mark_bit) ? status::closed : status::empty;
        // Head and tail in different blocks: remember that a next block exists.
        if ((head >> shift) / lap != (tail >> shift) / lap) next |= mark_bit;
      }
      if (b == nullptr) {  // the first block is being installed
        bo.snooze();
        head = head_.index.load(std::memory_order_acquire);
        b = head_.blk.load(std::memory_order_acquire);
        continue;
      }
      if (head_.index.compare_exchange_weak(head, next, std::memory_order_seq_cst, std::memory_order_acquire)) {
        if (offset + 1 == block_cap) {  // we took the last slot: move head to the next block
          block* nb = b->wait_next();
          std::uint64_t ni = (next & ~mark_bit) + (1u << shift);
          if (nb->next.load(std::memory_order_relaxed) != nullptr) ni |= mark_bit;  // a hint only
          head_.blk.store(nb, std::memory_order_release);     // pairs with receivers' acquire
          head_.index.store(ni, std::memory_order_release);   // pairs with receivers' acquire
        }
        b->wait_write(offset);
        T* v = b->value(offset);
        out.emplace(std::move(*v));
        v->~T();
        if (offset + 1 == block_cap) {
          destroy(b, 0);
        } else if (b->done[offset].fetch_add(read_bit, std::memory_order_acq_rel) & destroy_bit) {  // pairs with destroy()'s fetch_add
          // read_bit is set once, by this slot's one receiver: fetch_add is fetch_or (an xadd).
          // destroy_bit set: destroy() gave up on us, we finish the job.
          destroy(b, offset + 1);
        }
        return status::ok;
      }
      b = head_.blk.load(std::memory_order_acquire);  // pairs as above
      bo.spin();
    }
  }

  // An unbounded list is never full: nothing to evict.
  status force_push(const source<T>& src, std::optional<T>&) { return try_push(src); }

  bool close() noexcept {
    return (tail_.index.fetch_or(mark_bit, std::memory_order_seq_cst) & mark_bit) == 0;
  }

  // For a linearizable give-up (chan::probe): head + tail indices, which grow with every
  // push, pop and close; and whether the clause may be ready (false: not ready at the loads).
  bool probe_pop(std::uint64_t& stamp) const noexcept {
    std::uint64_t head = head_.index.load(std::memory_order_seq_cst);
    std::uint64_t tail = tail_.index.load(std::memory_order_seq_cst);
    stamp += (head & ~mark_bit) + tail;  // head's mark bit is a hint that can come and go
    return (head >> shift) != (tail >> shift) || (tail & mark_bit);
  }
  bool probe_push(std::uint64_t& stamp) const noexcept {
    stamp += tail_.index.load(std::memory_order_seq_cst);
    return true;
  }
  bool is_closed() const noexcept { return (tail_.index.load(std::memory_order_seq_cst) & mark_bit) != 0; }
  bool can_push() const noexcept { return true; }
  bool can_pop() const noexcept {
    std::uint64_t head = head_.index.load(std::memory_order_seq_cst);
    std::uint64_t tail = tail_.index.load(std::memory_order_seq_cst);
    return (head >> shift) != (tail >> shift) || (tail & mark_bit);
  }

  // Hints for the spin phase (see ring.hpp). A polling receiver must not read the tail
  // index: every send CASes it, and a locked op on a line another core keeps reading stalls
  // the sender for a cache-line transfer per message. It reads `pushed_` instead, which
  // senders write with a plain store. A hint: a stale (lower) value only means "not yet".
  bool push_hint() const noexcept { return true; }
  bool pop_hint() const noexcept {
    std::uint64_t pushed = pushed_.load(std::memory_order_relaxed);    // a hint: try_pop decides
    std::uint64_t head = head_.index.load(std::memory_order_relaxed);  // likewise
    return (pushed >> shift) > (head >> shift);
  }

  std::size_t size() const noexcept {
    for (;;) {
      std::uint64_t tail = tail_.index.load(std::memory_order_seq_cst);
      std::uint64_t head = head_.index.load(std::memory_order_seq_cst);
      if (tail_.index.load(std::memory_order_seq_cst) != tail) continue;
      tail &= ~((1u << shift) - 1);
      head &= ~((1u << shift) - 1);
      // An index at a block's end position counts as the start of the next block.
      if (((tail >> shift) & (lap - 1)) == lap - 1) tail += 1u << shift;
      if (((head >> shift) & (lap - 1)) == lap - 1) head += 1u << shift;
      std::uint64_t l = (head >> shift) / lap;
      tail -= (l * lap) << shift;
      head -= (l * lap) << shift;
      tail >>= shift;
      head >>= shift;
      return static_cast<std::size_t>(tail - head - tail / lap);
    }
  }
  std::size_t capacity() const noexcept { return SIZE_MAX; }

 private:
  alignas(cache_line) position head_;
  alignas(cache_line) position tail_;
  alignas(cache_line) std::atomic<block*> spare_{nullptr};
  alignas(cache_line) std::atomic<std::uint64_t> pushed_{0};  // tail after some recent send (a hint)
  char pad_[cache_line - sizeof(position)];
};

}  // namespace sluice::internal
