// The alternation driver: try, publish, park, withdraw (crossbeam-channel's
// select.rs::run_select is the reference shape; Go's selectgo locks every channel instead).
//
// Invariants (tests/model/claim.pml must match):
//   - The alternation owns one waiter; every published offer points at it, so counterparts
//     (and close) commit at most one clause: the single CAS waiting -> claimed+i.
//   - Phase 1b only reads (lock-free hints); it publishes nothing and claims nothing.
//   - Phase 1 acts as a counterpart (it may claim other waiters) only while this alternation
//     has no offer published. Once offers are out (phase 2) it acts on nothing else until it
//     has decided its own state: it aborts it, or finds it claimed and honours the claim.
//   - Offers are published one channel at a time, each under that channel's lock only; no
//     lock is held across channels, and none is held while parking or waking.
//   - A rendezvous claim is the whole operation (the value moved by the counterpart); a claim
//     through a buffered channel only says "retry this clause", which may lose a race and
//     send the driver round again. Either way nothing is performed twice.
//   - After a timeout the abort CAS decides: won, nothing happened; lost, the committed clause
//     is honoured even though the deadline has passed.
//   - Giving up is linearizable (settle): the alternation reports timeout (runs otherwise)
//     only after two passes that really tried every clause, with the clauses' stamps (which
//     grow with every change that may make a clause ready) equal before the first pass and
//     after the second: every clause was then not ready throughout, so at one moment between
//     the passes none was (a double collect, as in Afek et al.'s atomic snapshots). Lock-free
//     hints order the work (phase 1) but never decide a give-up.
#include <cstdint>
#include <utility>

#include "sluice/internal/alt_engine.hpp"
#include "sluice/internal/backoff.hpp"
#include "sluice/internal/spin.hpp"

namespace sluice::internal {

std::uint64_t fast_random() noexcept {
  // xorshift64* (Vigna), one state per thread, seeded from the state's own address.
  thread_local std::uint64_t state = reinterpret_cast<std::uintptr_t>(&state) * 0x9E3779B97F4A7C15ull | 1;
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return state * 0x2545F4914F6CDD1Dull;
}

void alt_shuffle(std::uint32_t* order, std::size_t n) noexcept {
  // Fisher-Yates: every ready clause is equally likely to come first.
  for (std::size_t i = n; i > 1; --i) {
    std::size_t j = static_cast<std::size_t>((fast_random() >> 32) * i >> 32);
    std::swap(order[i - 1], order[j]);
  }
}

namespace {

// One clause, tried without blocking if its probe says it may be ready; adds its stamp.
// `stamp_after`: read the stamp after a failed try (the second pass) rather than before.
bool attempt(clause_ref& c, std::uint64_t& stamp, bool stamp_after, status& s) {
  std::uint64_t mine = 0;
  if (c.vt->probe(c.obj, mine)) {
    s = c.vt->try_now(c.obj);
    if (performed(s)) return true;
    if (stamp_after) {
      mine = 0;
      c.vt->probe(c.obj, mine);
    }
  }
  stamp += mine;
  return false;
}

}  // namespace

// The deadline has passed: perform a ready clause, or report that at one moment during the
// call none was ready (see Invariants). Two passes in the same order; a clause that a pass
// finds not ready was not ready at that moment, and equal stamp sums (each stamp only grows)
// mean no clause changed between its first and its second look.
alt_pick settle(clause_ref* refs, const std::uint32_t* order, std::size_t n) {
  constexpr std::size_t none = static_cast<std::size_t>(-1);
  backoff changed;
  for (;;) {
    std::uint64_t before = 0, after = 0;
    status s = status::empty;
    for (std::size_t k = 0; k < n; ++k) {
      if (attempt(refs[order[k]], before, false, s)) return {order[k], s};
    }
    if (n == 1) return {none, status::timeout};  // one look is a moment already
    for (std::size_t k = 0; k < n; ++k) {
      if (attempt(refs[order[k]], after, true, s)) return {order[k], s};
    }
    if (before == after) return {none, status::timeout};
    changed.spin();  // something moved: look again
  }
}

alt_pick run_alt(clause_ref* refs, offer* offers, std::uint32_t* order, std::size_t n, bool fair,
                 const deadline& d) {
  constexpr std::size_t none = static_cast<std::size_t>(-1);
  if (n == 0) return {none, status::timeout};
  alt_order(order, n, fair);

  waiter w;
  backoff contention;
  unsigned hinted_rounds = 0;
  int all_buffered = -1;  // computed when first needed: the non-blocking case never is
  for (;;) {
    // Phase 0: no time left (otherwise, or the deadline passed while we waited): perform a
    // ready clause or give up, linearizably.
    if (d.expired()) return settle(refs, order, n);

    // Phase 1: try every clause without blocking, acting as a counterpart. A clause whose
    // lock-free hint says "not ready" is skipped: no lock, no fence, a load or two. Only
    // settle gives up; this pass just saves a publish when something is plainly ready.
    if (alt_pick p = try_ready_clauses(refs, order, n); p.pos != none) return p;
    if (d.expired()) return settle(refs, order, n);

    // Phase 1b: when every clause is on a buffered channel, poll the clauses' lock-free hints
    // for the adaptive spin budget before publishing (publishing costs a lock per channel,
    // and a wake costs far more). A few hinted rounds at most: a hint may be stale. Not with
    // a rendezvous clause: there only a published offer makes progress, and two
    // alternations polling each other's (empty) wait lists would just burn the cores.
    if (all_buffered < 0) {
      all_buffered = 1;
      for (std::size_t k = 0; k < n; ++k) {
        if (refs[k].vt->hands_off(refs[k].obj)) all_buffered = 0;
      }
    }
    if (hinted_rounds < 4 && all_buffered == 1 && spin_until([&] {
          for (std::size_t k = 0; k < n; ++k) {
            if (refs[k].vt->hint(refs[k].obj)) return true;
          }
          return false;
        })) {
      ++hinted_rounds;
      continue;
    }

    // Phase 2: publish one offer per clause, re-checking each channel after publishing on it.
    w.prepare();
    std::size_t published = 0;
    bool saw_ready = false;
    for (; published < n; ++published) {
      std::uint32_t i = order[published];
      clause_ref& c = refs[i];
      offers[i] = offer{&w, i, c.vt->slot(c.obj)};
      if (c.vt->publish(c.obj, &offers[i], &w)) {
        saw_ready = true;
        ++published;
        break;
      }
      if (!w.is_waiting()) {  // a counterpart already claimed one of our offers
        ++published;
        break;
      }
    }

    // Phase 3: decide our own state. Park unless something is ready; then abort, or find a
    // claim and wait for the claimer to finish with our offer (its unpark).
    bool claimed;
    if (saw_ready || !w.is_waiting()) {
      claimed = !w.try_abort();
      if (claimed) w.park(deadline::never());
    } else if (w.park(d)) {
      claimed = true;
    } else {
      claimed = !w.try_abort();
      if (claimed) w.park(deadline::never());
    }

    // Phase 4: withdraw every offer (the claimed one is already unlinked by its claimer).
    for (std::size_t k = 0; k < published; ++k) {
      clause_ref& c = refs[order[k]];
      c.vt->delist(c.obj, &offers[order[k]]);
    }

    if (claimed) {
      std::uint32_t i = w.claimed_clause();
      clause_ref& c = refs[i];
      if (c.vt->hands_off(c.obj)) return {i, w.result()};
      status s = c.vt->try_now(c.obj);  // buffered: the claim invites us to retry clause i
      if (performed(s)) return {i, s};
    } else if (saw_ready) {
      // Another alternation may be backing off from us (each saw the other ready): let it.
      // On a rendezvous, where "ready" is the other's offer, a randomized wait breaks the
      // symmetry: with the same deterministic backoff two alternations {send c, recv c}
      // could abort each other forever (a fair cycle spin -l finds in claim.pml's SELF).
      clause_ref& r = refs[order[published - 1]];  // the clause that was ready
      if (r.vt->hands_off(r.obj)) {
        contention.spin_random(fast_random());
      } else {
        contention.spin();
      }
    }
    // Round again: phase 1 takes whatever is ready, or reports the timeout.
  }
}

}  // namespace sluice::internal
