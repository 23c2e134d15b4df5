// sluice/internal/alt_engine.hpp - the type-erased core of pri_alt, fair_alt and alternation.
//
// Each clause is seen through a small table of functions (clause_vtable) so that one
// non-template driver (src/alt.cc) runs every alternation. See alt.cc for the protocol.
#pragma once

#include <cstddef>
#include <cstdint>

#include "sluice/internal/deadline.hpp"
#include "sluice/internal/waiter.hpp"
#include "sluice/status.hpp"

namespace sluice::internal {

struct clause_vtable {
  status (*try_now)(void* c);               // perform now if possible: ok | closed | full | empty
  void* (*slot)(void* c);                   // offer::slot for a rendezvous hand-off
  // Publish o on the channel, then say whether the clause is ready (or the channel closed)
  // now, not counting w's own offers: chan::enlist_ready, one lock for both where it can.
  bool (*publish)(void* c, offer* o, const waiter* w);
  void (*delist)(void* c, offer* o);        // withdraw o (no-op if already unlinked)
  bool (*hint)(void* c);                    // lock-free guess at readiness, for polling
  bool (*hands_off)(void* c);               // a claim completes the clause (rendezvous)
  void (*fire)(void* c, status s);          // run the handler for a committed clause
  bool (*probe)(void* c, std::uint64_t& stamp);  // chan::probe: false = not ready now; grows the stamp
};

struct clause_ref {
  void* obj;
  const clause_vtable* vt;
  std::size_t arg_index;  // the clause's position among the alternation's arguments
};

struct alt_pick {
  std::size_t pos;  // index into the clause_ref array, or SIZE_MAX when none in time
  status st;        // ok or closed when pos is valid
};

// Perform exactly one of refs[0..n) (all enabled), blocking until deadline `d`.
// `offers` and `order` are caller-provided scratch arrays of n elements (no allocation here).
alt_pick run_alt(clause_ref* refs, offer* offers, std::uint32_t* order, std::size_t n, bool fair,
                 const deadline& d);

// The order in which an alternation looks at its n clauses: 0..n-1, shuffled when fair.
// Inline: an awaited send or receive (one clause) pays no call for it.
void alt_shuffle(std::uint32_t* order, std::size_t n) noexcept;
inline void alt_order(std::uint32_t* order, std::size_t n, bool fair) noexcept {
  for (std::size_t k = 0; k < n; ++k) order[k] = static_cast<std::uint32_t>(k);
  if (fair && n > 1) alt_shuffle(order, n);
}
// A clause's try_now outcome that completes it (ok, or closed: the clause ran on a closed channel).
inline bool performed(status s) noexcept { return s == status::ok || s == status::closed; }
// Every alternation's first look (phase 1 of run_alt, of an awaited op, of an awaiter before it
// builds one): the clauses in `order`, each tried if its lock-free hint says it may be ready.
// The first that performs is the outcome; {SIZE_MAX, empty} when none did. No lock is taken
// for a clause whose hint says no, and nothing is published. A lone clause (an awaited send or
// receive) is tried at once: every flavor's try says "not ready" lock-free by itself (a
// rendezvous's might_meet, a ring's indices), so its hint would only read the same words first.
inline alt_pick try_ready_clauses(clause_ref* refs, const std::uint32_t* order, std::size_t n) {
  for (std::size_t k = 0; k < n; ++k) {
    clause_ref& c = refs[order[k]];
    if (n != 1 && !c.vt->hint(c.obj)) continue;
    const status s = c.vt->try_now(c.obj);
    if (performed(s)) return {order[k], s};
  }
  return {static_cast<std::size_t>(-1), status::empty};
}
// Give up linearizably at the deadline: perform a ready clause, or {SIZE_MAX, timeout} when at
// one moment during the call none was ready (alt.cc, Invariants).
alt_pick settle(clause_ref* refs, const std::uint32_t* order, std::size_t n);

// Per-thread xorshift generator for fair_alt (no shared state between threads).
std::uint64_t fast_random() noexcept;

}  // namespace sluice::internal
