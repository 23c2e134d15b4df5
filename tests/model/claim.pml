/* claim.pml - the claim protocol on RENDEZVOUS channels, with close(), as states and CASes.
 * (DESIGN.md, "The claim protocol".) Buffered channels are in buffered.pml. Verified by
 * tests/model/verify.
 *
 * Must match, function by function:
 *   include/sluice/internal/zero.hpp
 *     zero_chan::send / recv                       -> proctype Plain, inline try_now
 *       Under lock_, send AND recv look at closed_ first: "if (closed_.load(...)) { ...
 *       return status::closed; }", and only then "if (offer* r = receivers_.claim_one())"
 *       (recv: senders_); a blocking call that found nobody links its offer in the same lock
 *       hold, parks, and on timeout runs try_abort.
 *     zero_chan::await                             -> inline park_or_timeout (+ Plain)
 *     zero_chan::close                             -> proctype Closer
 *       "closed_.store(true, ...); ... senders_.claim_all(status::closed, ...)" and
 *       receivers_ under lock_, then "waitq::wake_all(chain)" after the unlock.
 *     zero_chan::enlist: under lock_, "if closed, do not link"  -> inline enlist
 *     zero_chan::ready: "if (closed_...) return true; return ... has_waiting(self)"
 *                                                  -> macro READY
 *     zero_chan::delist                            -> run_alt phase 4
 *   include/sluice/internal/waitq.hpp  claim_one ("if (o->owner->try_claim(o->clause))
 *     { remove(o); return o; }") -> inline claim_one; claim_all -> Closer; has_waiting ->
 *     PARTNER; push_back / remove -> linked[].
 *   include/sluice/internal/waiter.hpp try_claim ("waiting -> claimed_base + i"), try_abort
 *     ("waiting -> aborted") -> inline try_abort, set_result / result -> result[], prepare,
 *     park / unpark -> done[] (inline unpark).
 *   src/alt.cc run_alt                             -> proctype Alt
 *     phase 0 and after phase 1: "if (d.expired()) return settle(refs, order, n);"; phase 1:
 *     try every clause with deadline::now(), acting as a counterpart (ok or closed is
 *     "performed"); phase 2: enlist + ready per clause, stop at "saw_ready" or
 *     "!w.is_waiting()"; phase 3: try_abort or park; phase 4: delist all; then
 *     "if (c.vt->hands_off(c.obj)) return {i, w.result()};" or round again.
 *   src/alt.cc settle                              -> label settle in Alt: passes of tries,
 *     then give up or (stamps changed) look again.
 * Each `atomic` block is one critical section under a channel's lock_, or one atomic
 * operation; memory is sequentially consistent (the code's orders are argued in its
 * comments). Not modelled: lock-free hints and chan::probe (one that says "not ready" is a
 * try that finds nothing at that instant), settle's stamps (it may give up after any pass:
 * a superset), spinning before park, contention backoff, fair_alt's shuffle
 * (clauses are tried in declaration order), claim_one's FIFO order (ANY claimable offer may
 * be claimed: a superset) and its unlinking of stale offers (cost only: owners delist their
 * own), alternations that mix rendezvous and buffered clauses.
 *
 * Configurations (spin -D...):
 *   DEFAULT      alternation A {recv c0, send c1}, alternation B {send c0, recv c1},
 *                plain recv P on c1.
 *   SELF         A and B each {send c0, recv c0} (Go's self-select), plain recv P on c0.
 *   CLOSE_PLAIN  plain sends S1, S2 and plain recvs R1, R2 on c0; close(c0) races them.
 *   CLOSE_ALT    A {send c0, recv c1}, B {recv c0, send c1}, plain recv P on c0; close(c0).
 *   CLOSE_SELF   A {send c0, recv c0}, B {recv c0, send c0}, plain send S on c0; close(c0).
 *   TIMEOUTS     (with any of the above) every operation may time out: a park may return
 *                at any moment (then try_abort decides) and a deadline may pass at any check.
 *   TIMEOUT_MASK=m  only the waiters in bit set m may time out.
 *   LIVENESS     the never claim below instead of the monitor (pan -a -f).
 *
 * Properties:
 *   assertions  - an alternation reports at most one clause (commits[w] <= 1);
 *               - exactly-once delivery: a value moves at most once; a send that reports ok
 *                 was delivered exactly once, one that reports closed or timeout never; a recv
 *                 that reports ok got exactly one value, otherwise none;
 *               - no operation pairs with itself (claim_one is called without `self`, as in
 *                 zero_chan: checked, not assumed);
 *               - close: no value transfer is committed (claimed) once close's critical
 *                 section has run; and an alternation whose send clause reports ok was
 *                 claimed while the channel was open (CLOSE_CHECK_AT_REPORT: only this one);
 *               - unpark only after a claim, at most once per prepare (parker.hpp contract).
 *   end states  - no invalid end state: nobody waits for an unpark that never comes.
 *   monitor     - (safety form of no lost wakeup, holds with TIMEOUTS too) never are two
 *                 compatible offers of different owners both linked and waiting while both
 *                 owners are parked.
 *   LIVENESS    - no lost wakeup: no waiter that may not time out stays parked forever
 *                 (unclaimed) while one of its clauses could proceed (its channel is closed,
 *                 or a compatible offer of another owner is linked and waiting). Never claim
 *                 <>[] stuck(w) for some w; pan -a -f (weak fairness).
 *
 * Mutations (verify requires each to be caught):
 *   OLD_CLOSE       the code before the fix: zero_chan::recv claims a sender before it looks
 *                   at closed_ (OLD_RECV_ORDER), and zero_chan::enlist links an offer even
 *                   when closed (OLD_ENLIST). Each half alone is NOT caught: with the other
 *                   half fixed, no sender offer is claimable after close.
 *   NO_RECHECK      run_alt phase 2 publishes without calling ready().
 *   NO_CLOSED_READY zero_chan::ready ignores closed_: an alternation parks on a closed
 *                   channel whose enlist refused its offer.
 *   SPLIT_LINK      zero_chan::send / recv link their offer in a second lock hold, after the
 *                   one that looked for a counterpart.
 */

#define NW 4            /* waiters (one per operation or alternation) */
#define NC 2            /* clauses per waiter, at most */
#define NO 8            /* offers: NW * NC */
#define NCH 2           /* channels */
#define NONE 255
#define WAITING 0       /* waiter.hpp state word */
#define ABORTED 1
#define CLAIMED 2       /* CLAIMED + clause index */
#define SEND 0
#define RECV 1
#define OK 1            /* results */
#define CLOSED 2
#define TIMEOUT 3
#define NOTHING 4       /* a non-blocking try found no counterpart: full / empty */
#define OFF(w, i) ((w) * NC + (i))

#ifdef OLD_CLOSE
#define OLD_RECV_ORDER
#define OLD_ENLIST
#endif

/* The configuration: constant once init has run (hidden: not part of the state). */
hidden byte ncl[NW];
hidden byte och[NO];    /* channel of each clause */
hidden byte odir[NO];   /* SEND or RECV */
hidden byte oval[NO];   /* the value a send clause offers (distinct, 1..) */
hidden byte isalt[NW];
hidden byte tmask;      /* waiters that may time out (bit w); all with TIMEOUTS */
#define MAY_TIME_OUT(w) ((tmask >> (w)) & 1)

bit linked[NO];         /* offer on its channel's wait list */
byte state[NW];         /* the waiter's one claim word */
bit done[NW];           /* the parker: set by unpark */
bit parked[NW];
byte result[NW];        /* waiter::result_, written by the claimer before unpark */
bit closed[NCH];        /* zero_chan::closed_ */
bit claimed_open[NW];   /* ghost: the claim of w's offer happened while the channel was open */
byte got[NW];           /* ghost: the value moved into w's receive slot (0: none) */
byte delivered[8];      /* ghost: times each value was moved */
byte commits[NW];       /* ghost: clauses w reported */

/* ---- claim_one: a linked offer on channel c, direction d, whose owner is waiting ---- */
#define CLAIMABLE(j, c, d) (linked[j] && och[j] == (c) && odir[j] == (d) && state[(j) / NC] == WAITING)

/* waitq::claim_one under the channel lock: CAS one claimable offer (any of them) and unlink
 * it. The caller passes no `self` (zero_chan::send/recv), so assert it never is our own. */
inline claim_one(w, c, d, f) {   /* scan: the caller's scratch local, 0 outside */
  f = NONE;
  scan = 0;
  do
  :: scan < NO && CLAIMABLE(scan, c, d) -> f = scan; break      /* claim this one, */
  :: scan < NO ->                                                 /* or look further */
     if
     :: CLAIMABLE(scan, c, d) -> f = scan                         /* (the fallback) */
     :: else -> skip
     fi;
     scan++
  :: else -> break
  od;
  scan = 0;
  if
  :: f != NONE ->
     assert(f / NC != w);                       /* never pairs with itself */
#ifndef CLOSE_CHECK_AT_REPORT
     assert(!closed[c]);                        /* no transfer committed after close */
#endif
     state[f / NC] = CLAIMED + f % NC;          /* waiter::try_claim wins */
     linked[f] = false;
     claimed_open[f / NC] = !closed[c]
  :: else -> skip
  fi
}

#ifdef OLD_RECV_ORDER
#define CLOSED_FIRST(a) (closed[och[a]] && odir[a] == SEND)  /* old recv: claims a sender first */
#else
#define CLOSED_FIRST(a) (closed[och[a]])
#endif

/* The non-blocking part of zero_chan::send / recv (run_alt phase 1 calls it with
 * deadline::now(); the blocking form continues in Plain). Under lock_. res: OK (f claimed),
 * CLOSED, or NOTHING. */
inline try_now(w, i, f, res) {
  f = NONE;
  if
  :: CLOSED_FIRST(OFF(w, i)) -> res = CLOSED
  :: else ->
     claim_one(w, och[OFF(w, i)], 1 - odir[OFF(w, i)], f);
     if
     :: f != NONE -> res = OK
     :: f == NONE && closed[och[OFF(w, i)]] -> res = CLOSED   /* only OLD_RECV_ORDER */
     :: else -> res = NOTHING
     fi
  fi
}

/* After a won claim, outside the lock: move the value, write the result, unpark (its last
 * touch). w's clause i is the counterpart of offer f. */
inline transfer(w, i, f, v, r) {
  atomic {
    if
    :: odir[OFF(w, i)] == SEND -> v = oval[OFF(w, i)]; r = f / NC
    :: else -> v = oval[f]; r = w
    fi;
    delivered[v]++;
    assert(delivered[v] == 1);                   /* a value moves at most once */
    assert(got[r] == 0);
    got[r] = v;
    result[f / NC] = OK;
    unpark(f / NC);
    v = 0; r = 0
  }
}

inline unpark(x) {
  assert(state[x] >= CLAIMED && !done[x]);     /* after a claim, once per prepare */
  done[x] = true
}

/* w reports clause i with result res (OK or CLOSED); every other send clause undelivered. */
inline report(w, i, res, k) {
  atomic {
    commits[w]++;
    assert(commits[w] == 1);                     /* at most one clause per operation */
    k = 0;
    do
    :: k < ncl[w] ->
       if
       :: odir[OFF(w, k)] == SEND && k == i && res == OK -> assert(delivered[oval[OFF(w, k)]] == 1)
       :: odir[OFF(w, k)] == SEND && !(k == i && res == OK) -> assert(delivered[oval[OFF(w, k)]] == 0)
       :: else -> skip
       fi;
       k++
    :: else -> break
    od;
    if
    :: odir[OFF(w, i)] == RECV && res == OK -> assert(got[w] != 0)
    :: else -> assert(got[w] == 0)
    fi;
    /* an alternation's send clause that reports ok was claimed before close */
    assert(!(isalt[w] && odir[OFF(w, i)] == SEND && res == OK && !claimed_open[w] &&
             state[w] >= CLAIMED));
    k = 0
  }
}

inline gave_up(w, k) {                           /* timeout: nothing of ours moved */
  atomic {
    k = 0;
    do
    :: k < ncl[w] ->
       if
       :: odir[OFF(w, k)] == SEND -> assert(delivered[oval[OFF(w, k)]] == 0)
       :: else -> skip
       fi;
       k++
    :: else -> break
    od;
    assert(got[w] == 0);
    k = 0
  }
}

inline try_abort(w, claimed) {                   /* waiter::try_abort: the owner's CAS */
  atomic {
    if
    :: state[w] == WAITING -> state[w] = ABORTED; claimed = false
    :: else -> claimed = true
    fi
  }
}

/* waiter::park(d): true once unparked; with TIMEOUTS it may instead time out, and then the
 * owner's try_abort decides. claimed: a counterpart (or close) owns the operation. */
inline park_or_timeout(w, claimed) {
  parked[w] = true;
  if
  :: done[w] -> claimed = true
  :: MAY_TIME_OUT(w) -> try_abort(w, claimed)
  fi;
  parked[w] = false
}

/* zero_chan::enlist, under lock_. */
inline enlist(w, i) {
#ifdef OLD_ENLIST
  linked[OFF(w, i)] = true
#else
  if
  :: closed[och[OFF(w, i)]] -> skip              /* never linked on a closed channel */
  :: else -> linked[OFF(w, i)] = true
  fi
#endif
}

/* zero_chan::ready, under lock_: closed, or waitq::has_waiting(self) on the opposite list. */
#define COMPAT(a, j) ((j) / NC != (a) / NC && linked[j] && och[j] == och[a] && odir[j] != odir[a] && \
  state[(j) / NC] == WAITING)
#define PARTNER(a) (COMPAT(a, 0) || COMPAT(a, 1) || COMPAT(a, 2) || COMPAT(a, 3) || \
  COMPAT(a, 4) || COMPAT(a, 5) || COMPAT(a, 6) || COMPAT(a, 7))
#ifdef NO_CLOSED_READY
#define READY(a) (PARTNER(a))
#else
#define READY(a) (closed[och[a]] || PARTNER(a))
#endif

/* run_alt (src/alt.cc) on rendezvous clauses. */
proctype Alt(byte w) {
  byte i, f, npub, res, v, r, scan;
  bool ready, claimed;
round:
  /* Phase 0: "if (d.expired()) return settle(refs, order, n);" */
  if
  :: MAY_TIME_OUT(w) -> goto settle              /* (after a timeout it must: a superset) */
  :: else -> skip
  :: MAY_TIME_OUT(w) -> skip
  fi;
  /* Phase 1: try each clause without blocking, acting as a counterpart. */
  i = 0;
  do
  :: i < ncl[w] ->
     atomic { try_now(w, i, f, res) }
     if
     :: res == OK -> transfer(w, i, f, v, r); report(w, i, OK, v); goto finish
     :: res == CLOSED -> report(w, i, CLOSED, v); goto finish
     :: else -> i++
     fi
  :: else -> break
  od;
  if
  :: MAY_TIME_OUT(w) -> goto settle              /* d.expired() */
  :: else -> skip
  :: MAY_TIME_OUT(w) -> skip
  fi;
  /* Phase 2: publish an offer per clause, re-checking the channel after each. */
  atomic { state[w] = WAITING; done[w] = false; claimed_open[w] = false }  /* prepare: unpublished */
  ready = false;
  npub = 0;
  do
  :: npub < ncl[w] ->
     atomic { enlist(w, npub) }
#ifndef NO_RECHECK
     atomic { ready = READY(OFF(w, npub)) }
#endif
     npub++;
     if
     :: ready || state[w] != WAITING -> break
     :: else -> skip
     fi
  :: else -> break
  od;
  /* Phase 3: decide our own state; a lost abort means a claim is in flight. */
  if
  :: ready || state[w] != WAITING -> try_abort(w, claimed)
  :: else -> park_or_timeout(w, claimed)
  fi;
  if
  :: claimed -> done[w]                          /* wait for the claimer's unpark */
  :: else -> skip
  fi;
  /* Phase 4: withdraw every offer (the claimed one is already unlinked). */
  i = 0;
  do
  :: i < npub -> linked[OFF(w, i)] = false; i++
  :: else -> break
  od;
  if
  :: claimed -> i = state[w] - CLAIMED; report(w, i, result[w], v); goto finish  /* hands_off */
  :: else -> goto round
  fi;
settle:
  /* settle: passes that try every clause; the code gives up after two passes between which
   * the clauses' stamps did not change. Here any pass may end in giving up or in another
   * pass: a superset of the code's behaviour. */
  i = 0;
  do
  :: i < ncl[w] ->
     atomic { try_now(w, i, f, res) }
     if
     :: res == OK -> transfer(w, i, f, v, r); report(w, i, OK, v); goto finish
     :: res == CLOSED -> report(w, i, CLOSED, v); goto finish
     :: else -> i++
     fi
  :: else -> break
  od;
  if
  :: gave_up(w, v)                               /* return {none, status::timeout} */
  :: goto settle                                 /* "something moved: look again" */
  fi;
finish:
  atomic { i = 0; f = 0; npub = 0; res = 0; ready = false; claimed = false }
}

/* zero_chan::send / recv (blocking): try and link in one lock hold, park, honour a claim. */
proctype Plain(byte w) {
  byte f, res, v, r, scan;
  bool claimed;
  atomic {
    try_now(w, 0, f, res);
#ifndef SPLIT_LINK
    if
    :: res == NOTHING -> state[w] = WAITING; done[w] = false; linked[OFF(w, 0)] = true
    :: else -> skip
    fi
#endif
  }
#ifdef SPLIT_LINK
  atomic {
    if
    :: res == NOTHING -> state[w] = WAITING; done[w] = false; linked[OFF(w, 0)] = true
    :: else -> skip
    fi
  }
#endif
  if
  :: res == OK -> transfer(w, 0, f, v, r); report(w, 0, OK, v)
  :: res == CLOSED -> report(w, 0, CLOSED, v)
  :: res == NOTHING ->
     park_or_timeout(w, claimed);                /* zero_chan::await */
     if
     :: claimed -> done[w]; report(w, 0, result[w], v)
     :: else -> linked[OFF(w, 0)] = false; gave_up(w, v)
     fi
  fi
}

/* zero_chan::close: set closed_ and claim every linked offer under lock_, wake after. */
proctype Closer(byte c) {
  byte j, wake;
  atomic {
    if
    :: closed[c] -> skip
    :: else ->
       closed[c] = true;
       j = 0;
       do
       :: j < NO ->
          if
          :: linked[j] && och[j] == c ->
             linked[j] = false;
             if
             :: state[j / NC] == WAITING ->
                state[j / NC] = CLAIMED + j % NC; result[j / NC] = CLOSED;
                wake = wake | (1 << (j / NC))
             :: else -> skip
             fi
          :: else -> skip
          fi;
          j++
       :: else -> break
       od;
       j = 0
    fi
  }
  /* waitq::wake_all, outside the lock, one unpark at a time */
  do
  :: wake & 1 -> unpark(0); wake = wake & ~1
  :: wake & 2 -> unpark(1); wake = wake & ~2
  :: wake & 4 -> unpark(2); wake = wake & ~4
  :: wake & 8 -> unpark(3); wake = wake & ~8
  :: else -> break
  od
}

#ifdef LIVENESS
/* Waiter x stays parked, unclaimed, while one of its clauses could proceed. */
#define CAN(a) ((a) % NC < ncl[(a) / NC] && READYC(a))
#define READYC(a) (closed[och[a]] || PARTNER(a))
#define STUCK(x) (parked[x] && state[x] == WAITING && !MAY_TIME_OUT(x) && (CAN(OFF(x, 0)) || CAN(OFF(x, 1))))
never {  /* <>[] STUCK(x) for some x: an accepting cycle is a lost wakeup */
T0:
  do
  :: true
  :: STUCK(0) -> goto accept_0
  :: STUCK(1) -> goto accept_1
  :: STUCK(2) -> goto accept_2
  :: STUCK(3) -> goto accept_3
  od;
accept_0: do :: STUCK(0) od;
accept_1: do :: STUCK(1) od;
accept_2: do :: STUCK(2) od;
accept_3: do :: STUCK(3) od
}
#else
/* Safety form of no lost wakeup: two compatible waiting offers, both owners parked. */
#define LOST(a, b) (COMPAT(a, b) && state[(a) / NC] == WAITING && linked[a] && \
  parked[(a) / NC] && parked[(b) / NC])
#define LOSTA(a) (LOST(a, 0) || LOST(a, 1) || LOST(a, 2) || LOST(a, 3) || LOST(a, 4) || \
  LOST(a, 5) || LOST(a, 6) || LOST(a, 7))
active proctype monitor() {
end: atomic {
    (LOSTA(0) || LOSTA(1) || LOSTA(2) || LOSTA(3) || LOSTA(4) || LOSTA(5) || LOSTA(6) || LOSTA(7)) ->
    assert(false)
  }
}
#endif

#define CLAUSE(w, i, c, d, v) och[OFF(w, i)] = c; odir[OFF(w, i)] = d; oval[OFF(w, i)] = v

init {
  atomic {
    /* Nobody is claimable until it publishes: start every waiter aborted. */
    state[0] = ABORTED; state[1] = ABORTED; state[2] = ABORTED; state[3] = ABORTED;
#if defined(TIMEOUTS)
    tmask = 15;
#elif defined(TIMEOUT_MASK)
    tmask = TIMEOUT_MASK;
#endif
#if defined(SELF)
    ncl[0] = 2; isalt[0] = 1; CLAUSE(0, 0, 0, SEND, 1); CLAUSE(0, 1, 0, RECV, 0);
    ncl[1] = 2; isalt[1] = 1; CLAUSE(1, 0, 0, SEND, 2); CLAUSE(1, 1, 0, RECV, 0);
    ncl[2] = 1; CLAUSE(2, 0, 0, RECV, 0);
    run Alt(0); run Alt(1); run Plain(2)
#elif defined(CLOSE_SELF)
    ncl[0] = 2; isalt[0] = 1; CLAUSE(0, 0, 0, SEND, 1); CLAUSE(0, 1, 0, RECV, 0);
    ncl[1] = 2; isalt[1] = 1; CLAUSE(1, 0, 0, RECV, 0); CLAUSE(1, 1, 0, SEND, 2);
    ncl[2] = 1; CLAUSE(2, 0, 0, SEND, 3);
    run Alt(0); run Alt(1); run Plain(2); run Closer(0)
#elif defined(CLOSE_PLAIN)
    ncl[0] = 1; CLAUSE(0, 0, 0, SEND, 1);
    ncl[1] = 1; CLAUSE(1, 0, 0, SEND, 2);
    ncl[2] = 1; CLAUSE(2, 0, 0, RECV, 0);
    ncl[3] = 1; CLAUSE(3, 0, 0, RECV, 0);
    run Plain(0); run Plain(1); run Plain(2); run Plain(3); run Closer(0)
#elif defined(CLOSE_ALT)
    ncl[0] = 2; isalt[0] = 1; CLAUSE(0, 0, 0, SEND, 1); CLAUSE(0, 1, 1, RECV, 0);
    ncl[1] = 2; isalt[1] = 1; CLAUSE(1, 0, 0, RECV, 0); CLAUSE(1, 1, 1, SEND, 2);
    ncl[2] = 1; CLAUSE(2, 0, 0, RECV, 0);
    run Alt(0); run Alt(1); run Plain(2); run Closer(0)
#else /* DEFAULT */
    ncl[0] = 2; isalt[0] = 1; CLAUSE(0, 0, 0, RECV, 0); CLAUSE(0, 1, 1, SEND, 1);
    ncl[1] = 2; isalt[1] = 1; CLAUSE(1, 0, 0, SEND, 2); CLAUSE(1, 1, 1, RECV, 0);
    ncl[2] = 1; CLAUSE(2, 0, 1, RECV, 0);
    run Alt(0); run Alt(1); run Plain(2)
#endif
  }
}
