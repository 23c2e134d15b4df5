// sluice/internal/chan.hpp - the shared state behind channel<T> handles, one per flavor.
//
// `chan<T>` is the internal interface every flavor implements: rendezvous (zero.hpp),
// bounded and lossy ring (ring.hpp via buffered.hpp), unbounded segment list (list.hpp via
// buffered.hpp). channel<T> and the alternation engine talk only to it, so a new buffer
// policy (a priority queue, say) plugs in without touching the claim protocol.
//
// Result codes (the deadline decides blocking: deadline::now() never blocks):
//   send: ok | closed | full (now, no room) | timeout        - `src` is taken only on ok
//   recv: ok | closed (closed and drained) | empty (now) | timeout  - `out` is set only on ok
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "sluice/internal/deadline.hpp"
#include "sluice/internal/source.hpp"
#include "sluice/internal/waiter.hpp"
#include "sluice/status.hpp"

namespace sluice::internal {

template <class T>
class chan {
 public:
  virtual ~chan() = default;

  virtual status send(const source<T>& src, const deadline& d) = 0;
  // As send; a drop_oldest buffer moves the item it evicts into `evicted` (send destroys it).
  virtual status send_evicting(const source<T>& src, const deadline& d, std::optional<T>& /*evicted*/) {
    return send(src, d);
  }
  virtual status recv(std::optional<T>& out, const deadline& d) = 0;
  virtual void close() noexcept = 0;
  virtual bool is_closed() const noexcept = 0;
  virtual std::size_t size() const noexcept = 0;
  virtual std::size_t capacity() const noexcept = 0;

  // --- Alternation hooks (alt.hpp). An alternation publishes one offer per clause. ---
  // Publish / withdraw an offer on the senders' or receivers' list. Withdrawing an offer
  // that a counterpart already unlinked is a no-op.
  virtual void enlist(offer* o, bool sending) = 0;
  virtual void delist(offer* o, bool sending) = 0;
  // After enlisting: could the clause proceed now (or is the channel closed)? Offers owned by
  // `self` do not count: an alternation never pairs with itself.
  virtual bool ready(const waiter* self, bool sending) = 0;
  // enlist, then ready: what an alternation does per clause. A flavor whose ready() takes
  // the lock enlist took overrides it to take the lock once.
  virtual bool enlist_ready(offer* o, bool sending, const waiter* self) {
    enlist(o, sending);
    return ready(self, sending);
  }
  // A cheap, lock-free guess at ready(), for polling. It may say "ready" wrongly (the try
  // then fails), but not "not ready" for long: a closed channel, or a counterpart that stays
  // ready, makes it true once the writes involved are visible.
  virtual bool hint(bool sending) const noexcept = 0;
  // True when a claim carries the value itself (rendezvous): the claimed clause is complete
  // and offer::result says how. False (buffered): a claim only says "retry this clause".
  virtual bool hands_off() const noexcept = 0;
  // For a linearizable give-up (src/alt.cc, settle): lock-free seq_cst loads that add to
  // `stamp` a number that grows whenever the clause may have become ready (a buffer position
  // moved, a counterpart enlisted, the channel closed), and return false only when the
  // clause was not ready at the moment of those loads. True means "maybe: try it".
  virtual bool probe(bool sending, std::uint64_t& stamp) const noexcept = 0;
};

}  // namespace sluice::internal
