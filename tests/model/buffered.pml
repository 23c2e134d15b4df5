/* buffered.pml - blocking, wake-ups and close() on BUFFERED channels, where a claim carries
 * no value: it means "the buffer changed for you, retry". (DESIGN.md, "Buffered channels" and
 * "The claim protocol".) Rendezvous channels are in claim.pml. Verified by tests/model/verify.
 *
 * Must match, function by function:
 *   include/sluice/internal/buffered.hpp
 *     buffered_chan::send / recv          -> proctype Plain: try, else wait_for and
 *        retry: "woken, or the hint says ready: try (a claim means "retry", never "done")";
 *        after a timeout "one last try at the deadline".
 *     buffered_chan::push / pop           -> inlines push / pop: a successful
 *        buf_.try_push / try_pop, then notify(receivers_) / notify(senders_).
 *     buffered_chan::notify               -> inline notify:
 *        "if (q.count() == 0) return; lock_.lock(); offer* o = q.claim_one(); ... unpark()".
 *     buffered_chan::wait_for             -> inline wait_for: "q.push_back(&o)" under lock_,
 *        then "if (ready())" try_abort, else park(d); on timeout try_abort; a lost abort
 *        waits for the unpark ("a claim is in flight").
 *     buffered_chan::close                -> proctype Closer: "if (!buf_.close()) return;"
 *        (the closed bit), then under lock_ "senders_.claim_all(status::closed, ...)" and
 *        receivers_, then waitq::wake_all after the unlock.
 *     buffered_chan::enlist / delist / ready ("sending ? buf_.can_push() : buf_.can_pop()")
 *   include/sluice/internal/ring.hpp     ring::push (try_push) / try_pop / can_push /
 *        can_pop / close on a ring of capacity 1, each CAS and each release stamp store one
 *        step: a push is "CAS tail" then "write, stamp"; a pop "CAS head, move" then "stamp"
 *        (slot[]: EMPTY, WRITING, FULL, READING). Push fails with closed once the bit is set;
 *        pop returns the remaining item, then closed; a slot still being written reads as
 *        "empty" ("A sender reserved this position and is still writing it"), one still
 *        being read as "full"; can_push / can_pop compare head and tail ("tail != head")
 *        and are true once closed.
 *   include/sluice/internal/waitq.hpp    waitq::push_back / remove / claim_one / claim_all /
 *        count ("count_.fetch_add(1, std::memory_order_seq_cst)" pairs with the seq_cst
 *        count() in notify: modelled as sequentially consistent steps).
 *   include/sluice/internal/waiter.hpp   waiter::try_claim / try_abort / prepare / park / unpark
 *   src/alt.cc run_alt                   -> proctype Alt: phase 0 and after phase 1
 *        "if (d.expired()) return settle(refs, order, n);", phase 1 try_now on every clause
 *        (performed = ok or closed), phase 2 enlist + ready, phase 3 try_abort or park,
 *        phase 4 delist, then "status s = c.vt->try_now(c.obj);  // buffered: the claim
 *        invites us to retry clause i", else round again. settle -> label settle: passes
 *        of tries, then give up or (stamps changed) look again.
 * Each `atomic` block is one critical section under lock_ or one atomic operation; memory is
 * sequentially consistent (the code's seq_cst Dekker pair is what makes that sound for the
 * count/buffer race). Not modelled: lock-free hints, chan::probe and spinning (a hint or
 * probe that says "not ready" is a try that fails at that instant; one that says "ready" is a
 * try), settle's stamps (it may give up after any pass: a superset), the "lost.snooze()"
 * delays, run_alt phase
 * 1b (it only repeats phase 1), overflow policies other than block, fair_alt's shuffle,
 * claim_one's FIFO order (any claimable offer may be claimed: a superset) and its unlinking
 * of stale offers (cost only), the closed_ copy polled by closed_hint(), alternations that
 * mix rendezvous and buffered clauses.
 *
 * Configurations (spin -D...), channels of capacity 1:
 *   PLAIN      plain sends S1 (v1), S2 (v2) and plain recvs R1, R2 on c0.
 *   CLOSE      plain send S (v1), plain recvs R1, R2 on c0, and close(c0).
 *   CLOSE_FULL plain sends S1 (v1), S2 (v2), plain recv R on c0 (one send finds it full),
 *              and close(c0).
 *   ALT        alternation A {recv c0, recv c1}, plain recv R on c0, plain sends S0 (v1)
 *              on c0 and S1 (v2) on c1.
 *   ALT2       A {recv c0, send c1 (v1)}, B {send c0 (v2), recv c1}, plain recv R on c0;
 *              c1 starts full (v3): A waits on both clauses, B's push wakes it, R races it.
 *   ALT_SEND   A {send c0 (v1), send c1 (v2)}, plain send S (v5) on c0, plain recvs R0 on
 *              c0 and R1 on c1; both channels start full (v3, v4): A waits as a sender (the
 *              mirror image of ALT: the same state counts are expected).
 *   ALT_PAIR   A {recv c0, recv c1}, B {recv c1, recv c0}, plain sends S0 (v1) on c0 and
 *              S1 (v2) on c1: two alternations woken through either channel.
 *   ALT_CLOSE  A {send c0 (v1), recv c1}, plain send S (v2) and plain recv R on c0, which
 *              starts full (v3): A and S wait for the one slot R frees; close(c0) races them.
 *   TIMEOUTS   every operation may time out (its park may return at any moment, its
 *              deadline may pass at any check); TIMEOUT_MASK=m: only the waiters in bit set m.
 *   LIVENESS   add the never claim below (pan -a -f); without TIMEOUTS, or with TIMEOUT_MASK.
 *
 * Properties:
 *   assertions  - exactly-once delivery: every value is pushed at most once and popped at
 *                 most once; a send that reports ok pushed its value, one that reports closed
 *                 or timeout did not; a recv that reports ok got exactly one value, else none;
 *               - an alternation performs at most one clause (commits[w] <= 1; its other send
 *                 clauses pushed nothing);
 *               - a notify never claims the notifier's own offer; unpark only after a claim,
 *                 at most once per prepare.
 *   end states  - no invalid end state.
 *   LIVENESS    - no lost wakeup: no waiter that may not time out stays parked forever
 *                 (unclaimed) while one of its clauses could proceed (room to send, an item
 *                 to receive, or the channel closed). Never claim <>[] stuck(w), weak fairness.
 *
 * Mutations (verify requires each to be caught):
 *   NO_RECHECK        wait_for parks without re-checking the buffer (can_push / can_pop).
 *   NO_ALT_RECHECK    run_alt phase 2 publishes without calling ready().
 *   NO_NOTIFY         push and pop never notify.
 *   CLOSE_CLAIM_FIRST close() claims the waiters before it sets the closed bit.
 *   CLAIM_IS_DONE     a woken plain recv treats the claim as its result (no retry).
 */

#define NW 4            /* waiters */
#define NC 2            /* clauses per waiter, at most */
#define NO 8            /* offers: NW * NC */
#define NCH 2           /* channels, capacity 1 each */
#define NONE 255
#define WAITING 0
#define ABORTED 1
#define CLAIMED 2
#define SEND 0
#define RECV 1
#define OK 1
#define CLOSED 2
#define TIMEOUT 3
#define NOTHING 4       /* full (send) or empty (recv) */
#define OFF(w, i) ((w) * NC + (i))

hidden byte ncl[NW];
hidden byte och[NO];
hidden byte odir[NO];
hidden byte oval[NO];
hidden byte tmask;      /* waiters that may time out (bit w) */
#define MAY_TIME_OUT(w) ((tmask >> (w)) & 1)

byte item[NCH];         /* the value in the ring's one slot (0: none) */
byte slot[NCH];         /* that slot, as ring.hpp's head, tail and stamp say: */
#define EMPTY 0         /*   head == tail, stamp says writable */
#define WRITING 1       /*   a sender's CAS moved tail; its value and stamp are not stored yet */
#define FULL 2          /*   stamped: readable */
#define READING 3       /*   a receiver's CAS moved head; it has not released the slot yet */
bit bclosed[NCH];       /* the closed bit in the tail word */
bit linked[NO];
byte state[NW];
bit done[NW];
bit parked[NW];
byte got[NW];           /* ghost: value popped by w (0: none) */
byte pushed[8];         /* ghost: times each value was pushed */
byte popped[8];         /* ghost: times each value was popped */
byte commits[NW];

/* ring::can_push: "head + one_lap != tail" or closed; ring::can_pop: "tail != head" or closed */
#define CAN_PUSH(c) (slot[c] == EMPTY || slot[c] == READING || bclosed[c])
#define CAN_POP(c) (slot[c] == WRITING || slot[c] == FULL || bclosed[c])
#define CAN(a) ((odir[a] == SEND && CAN_PUSH(och[a])) || (odir[a] == RECV && CAN_POP(och[a])))
#define CLAIMABLE(j, c, d) (linked[j] && och[j] == (c) && odir[j] == (d) && state[(j) / NC] == WAITING)
#define ANY_LINKED(c, d) ((linked[0] && och[0] == (c) && odir[0] == (d)) || \
  (linked[1] && och[1] == (c) && odir[1] == (d)) || (linked[2] && och[2] == (c) && odir[2] == (d)) || \
  (linked[3] && och[3] == (c) && odir[3] == (d)) || (linked[4] && och[4] == (c) && odir[4] == (d)) || \
  (linked[5] && och[5] == (c) && odir[5] == (d)) || (linked[6] && och[6] == (c) && odir[6] == (d)) || \
  (linked[7] && och[7] == (c) && odir[7] == (d)))

inline unpark(x) {
  assert(state[x] >= CLAIMED && !done[x]);     /* after a claim, once per prepare */
  done[x] = true
}

/* waitq::claim_one under lock_: CAS one claimable offer (any of them), unlink it. */
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
     assert(f / NC != w);                       /* never wakes its own offer */
     state[f / NC] = CLAIMED + f % NC;
     linked[f] = false
  :: else -> skip
  fi
}

/* buffered_chan::notify: one seq_cst load of the count; if nonzero, claim one under lock_
 * and unpark it after the unlock. */
inline notify(w, c, d, f) {
#ifdef NO_NOTIFY
  skip
#else
  if
  :: ANY_LINKED(c, d) ->
     atomic { claim_one(w, c, d, f) }
     if
     :: f != NONE -> unpark(f / NC)
     :: else -> skip
     fi;
     f = NONE
  :: else -> skip
  fi
#endif
}

/* ring::try_push (the CAS on tail, then the value and the release stamp store), then (ok)
 * notify(receivers_): buffered_chan::push. A slot another sender has reserved but not yet
 * written makes try_push wait ("snooze") for it; a slot a receiver has not yet released, or a
 * full one, is "full". */
inline push(w, c, v, res, f) {
  atomic {
    (bclosed[c] || slot[c] != WRITING) ->
    if
    :: bclosed[c] -> res = CLOSED
    :: !bclosed[c] && slot[c] != EMPTY -> res = NOTHING
    :: else -> slot[c] = WRITING; res = OK
    fi
  }
  if
  :: res == OK ->
     atomic { item[c] = v; slot[c] = FULL; pushed[v]++; assert(pushed[v] == 1) }
     notify(w, c, RECV, f)
  :: else -> skip
  fi
}

/* ring::try_pop (the CAS on head and the move, then the release stamp store), then (ok)
 * notify(senders_): buffered_chan::pop. A slot reserved by a sender still writing it is
 * "empty" (even when closed: "the ring is empty until it does"); a slot another receiver has
 * not yet released makes try_pop wait for it. */
inline pop(w, c, res, f) {
  atomic {
    (slot[c] != READING) ->
    if
    :: slot[c] == FULL ->
       assert(got[w] == 0); got[w] = item[c]; popped[item[c]]++; assert(popped[item[c]] == 1);
       assert(pushed[item[c]] == 1); slot[c] = READING; res = OK
    :: slot[c] == EMPTY && bclosed[c] -> res = CLOSED
    :: else -> res = NOTHING
    fi
  }
  if
  :: res == OK ->
     atomic { item[c] = 0; slot[c] = EMPTY }
     notify(w, c, SEND, f)
  :: else -> skip
  fi
}

inline try_now(w, i, res, f) {
  if
  :: odir[OFF(w, i)] == SEND -> push(w, och[OFF(w, i)], oval[OFF(w, i)], res, f)
  :: else -> pop(w, och[OFF(w, i)], res, f)
  fi
}

/* w reports clause i with res (OK or CLOSED) or TIMEOUT (i = NONE). */
inline report(w, i, res, k) {
  atomic {
    if
    :: res != TIMEOUT -> commits[w]++; assert(commits[w] == 1)   /* at most one clause */
    :: else -> skip
    fi;
    k = 0;
    do
    :: k < ncl[w] ->
       if
       :: odir[OFF(w, k)] == SEND && k == i && res == OK -> assert(pushed[oval[OFF(w, k)]] == 1)
       :: odir[OFF(w, k)] == SEND && !(k == i && res == OK) -> assert(pushed[oval[OFF(w, k)]] == 0)
       :: else -> skip
       fi;
       k++
    :: else -> break
    od;
    if
    :: i != NONE && odir[OFF(w, i)] == RECV && res == OK -> assert(got[w] != 0)
    :: else -> assert(got[w] == 0)
    fi;
    k = 0
  }
}

inline try_abort(w, claimed) {
  atomic {
    if
    :: state[w] == WAITING -> state[w] = ABORTED; claimed = false
    :: else -> claimed = true
    fi
  }
}

inline park_or_timeout(w, claimed) {
  parked[w] = true;
  if
  :: done[w] -> claimed = true
  :: MAY_TIME_OUT(w) -> try_abort(w, claimed)
  fi;
  parked[w] = false
}

#ifdef NO_RECHECK
#define RECHECK(a) false
#else
#define RECHECK(a) CAN(a)
#endif
#ifdef NO_ALT_RECHECK
#define ALT_RECHECK(a) false
#else
#define ALT_RECHECK(a) CAN(a)
#endif

/* buffered_chan::wait_for for a plain operation (clause 0). retry: true to retry the
 * operation, false on timeout (offer withdrawn, nothing claimed). */
inline wait_for(w, retry, claimed, ready) {
  atomic { state[w] = WAITING; done[w] = false }           /* a fresh waiter: prepare */
  linked[OFF(w, 0)] = true;                                /* push_back under lock_ */
  ready = RECHECK(OFF(w, 0));                              /* seq_cst re-check */
  retry = true;
  if
  :: ready -> try_abort(w, claimed)
  :: else ->
     parked[w] = true;
     if
     :: done[w] -> claimed = true                         /* park returned true */
     :: MAY_TIME_OUT(w) -> try_abort(w, claimed); retry = claimed
     fi;
     parked[w] = false
  fi;
  if
  :: claimed -> done[w]                                    /* wait for the claimer's unpark */
  :: else -> linked[OFF(w, 0)] = false                     /* withdraw, under lock_ */
  fi;
  ready = false; claimed = false
}

/* buffered_chan::send / recv (overflow::block, a deadline or none). */
proctype Plain(byte w) {
  byte res, f, k, scan;
  bool retry, claimed, ready;
again:
  try_now(w, 0, res, f);
  if
  :: res == OK || res == CLOSED -> report(w, 0, res, k); goto finish
  :: else -> skip
  fi;
  wait_for(w, retry, claimed, ready);
#ifdef CLAIM_IS_DONE
  if
  :: retry && state[w] >= CLAIMED && odir[OFF(w, 0)] == RECV -> report(w, 0, OK, k); goto finish
  :: else -> skip
  fi;
#endif
  if
  :: retry -> goto again
  :: else ->                                               /* one last try at the deadline */
     try_now(w, 0, res, f);
     if
     :: res == NOTHING -> report(w, NONE, TIMEOUT, k)
     :: else -> report(w, 0, res, k)
     fi
  fi;
finish:
  atomic { res = 0; retry = false }
}

/* run_alt (src/alt.cc) on buffered clauses. */
proctype Alt(byte w) {
  byte i, npub, res, f, k, scan;
  bool ready, claimed;
round:
  /* Phase 0: "if (d.expired()) return settle(refs, order, n);" */
  if
  :: MAY_TIME_OUT(w) -> goto settle              /* (after a timeout it must: a superset) */
  :: else -> skip
  :: MAY_TIME_OUT(w) -> skip
  fi;
  /* Phase 1: try every clause now (push / pop, with their notify). */
  i = 0;
  do
  :: i < ncl[w] ->
     try_now(w, i, res, f);
     if
     :: res == OK || res == CLOSED -> report(w, i, res, k); goto finish
     :: else -> i++
     fi
  :: else -> break
  od;
  if
  :: MAY_TIME_OUT(w) -> goto settle              /* d.expired() */
  :: else -> skip
  :: MAY_TIME_OUT(w) -> skip
  fi;
  /* Phase 2: publish an offer per clause (enlist under lock_), re-check with ready(). */
  atomic { state[w] = WAITING; done[w] = false }           /* prepare: unpublished */
  ready = false;
  npub = 0;
  do
  :: npub < ncl[w] ->
     linked[OFF(w, npub)] = true;
     ready = ALT_RECHECK(OFF(w, npub));
     npub++;
     if
     :: ready || state[w] != WAITING -> break
     :: else -> skip
     fi
  :: else -> break
  od;
  /* Phase 3: decide our own state. */
  if
  :: ready || state[w] != WAITING -> try_abort(w, claimed)
  :: else -> park_or_timeout(w, claimed)
  fi;
  if
  :: claimed -> done[w]
  :: else -> skip
  fi;
  /* Phase 4: withdraw every offer. */
  i = 0;
  do
  :: i < npub -> linked[OFF(w, i)] = false; i++
  :: else -> break
  od;
  ready = false;
  if
  :: claimed ->                                            /* retry the claimed clause */
     claimed = false;
     i = state[w] - CLAIMED;
     try_now(w, i, res, f);
     if
     :: res == OK || res == CLOSED -> report(w, i, res, k); goto finish
     :: else -> goto round
     fi
  :: else -> goto round
  fi;
settle:
  /* settle: passes that try every clause; the code gives up after two passes between which
   * the clauses' stamps did not change. Here any pass may end in giving up or in another
   * pass: a superset of the code's behaviour. */
  i = 0;
  do
  :: i < ncl[w] ->
     try_now(w, i, res, f);
     if
     :: res == OK || res == CLOSED -> report(w, i, res, k); goto finish
     :: else -> i++
     fi
  :: else -> break
  od;
  if
  :: report(w, NONE, TIMEOUT, k)                 /* return {none, status::timeout} */
  :: goto settle                                 /* "something moved: look again" */
  fi;
finish:
  atomic { i = 0; npub = 0; res = 0 }
}

/* buffered_chan::close: the closed bit, then claim_all under lock_, then wake_all. */
proctype Closer(byte c) {
  byte j, wake;
#ifndef CLOSE_CLAIM_FIRST
  atomic {
    bclosed[c] == 0 -> bclosed[c] = 1                      /* buf_.close() won */
  }
#endif
  atomic {
    j = 0;
    do
    :: j < NO ->
       if
       :: linked[j] && och[j] == c ->
          linked[j] = false;
          if
          :: state[j / NC] == WAITING ->
             state[j / NC] = CLAIMED + j % NC; wake = wake | (1 << (j / NC))
          :: else -> skip
          fi
       :: else -> skip
       fi;
       j++
    :: else -> break
    od;
    j = 0
  }
#ifdef CLOSE_CLAIM_FIRST
  bclosed[c] = 1;
#endif
  do
  :: wake & 1 -> unpark(0); wake = wake & ~1
  :: wake & 2 -> unpark(1); wake = wake & ~2
  :: wake & 4 -> unpark(2); wake = wake & ~4
  :: wake & 8 -> unpark(3); wake = wake & ~8
  :: else -> break
  od
}

#ifdef LIVENESS
#define CANC(a) ((a) % NC < ncl[(a) / NC] && CAN(a))
#define STUCK(x) (parked[x] && state[x] == WAITING && !MAY_TIME_OUT(x) && \
  (CANC(OFF(x, 0)) || CANC(OFF(x, 1))))
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
#endif

#define CLAUSE(w, i, c, d, v) och[OFF(w, i)] = c; odir[OFF(w, i)] = d; oval[OFF(w, i)] = v

init {
  atomic {
    state[0] = ABORTED; state[1] = ABORTED; state[2] = ABORTED; state[3] = ABORTED;
#if defined(TIMEOUTS)
    tmask = 15;
#elif defined(TIMEOUT_MASK)
    tmask = TIMEOUT_MASK;
#endif
#if defined(PLAIN)
    ncl[0] = 1; CLAUSE(0, 0, 0, SEND, 1);
    ncl[1] = 1; CLAUSE(1, 0, 0, SEND, 2);
    ncl[2] = 1; CLAUSE(2, 0, 0, RECV, 0);
    ncl[3] = 1; CLAUSE(3, 0, 0, RECV, 0);
    run Plain(0); run Plain(1); run Plain(2); run Plain(3)
#elif defined(CLOSE)
    ncl[0] = 1; CLAUSE(0, 0, 0, SEND, 1);
    ncl[1] = 1; CLAUSE(1, 0, 0, RECV, 0);
    ncl[2] = 1; CLAUSE(2, 0, 0, RECV, 0);
    run Plain(0); run Plain(1); run Plain(2); run Closer(0)
#elif defined(CLOSE_FULL)
    ncl[0] = 1; CLAUSE(0, 0, 0, SEND, 1);
    ncl[1] = 1; CLAUSE(1, 0, 0, SEND, 2);
    ncl[2] = 1; CLAUSE(2, 0, 0, RECV, 0);
    run Plain(0); run Plain(1); run Plain(2); run Closer(0)
#elif defined(ALT)
    ncl[0] = 2; CLAUSE(0, 0, 0, RECV, 0); CLAUSE(0, 1, 1, RECV, 0);
    ncl[1] = 1; CLAUSE(1, 0, 0, RECV, 0);
    ncl[2] = 1; CLAUSE(2, 0, 0, SEND, 1);
    ncl[3] = 1; CLAUSE(3, 0, 1, SEND, 2);
    run Alt(0); run Plain(1); run Plain(2); run Plain(3)
#elif defined(ALT2)
    item[1] = 3; slot[1] = FULL; pushed[3] = 1;
    ncl[0] = 2; CLAUSE(0, 0, 0, RECV, 0); CLAUSE(0, 1, 1, SEND, 1);
    ncl[1] = 2; CLAUSE(1, 0, 0, SEND, 2); CLAUSE(1, 1, 1, RECV, 0);
    ncl[2] = 1; CLAUSE(2, 0, 0, RECV, 0);
    run Alt(0); run Alt(1); run Plain(2)
#elif defined(ALT_PAIR)
    ncl[0] = 2; CLAUSE(0, 0, 0, RECV, 0); CLAUSE(0, 1, 1, RECV, 0);
    ncl[1] = 2; CLAUSE(1, 0, 1, RECV, 0); CLAUSE(1, 1, 0, RECV, 0);
    ncl[2] = 1; CLAUSE(2, 0, 0, SEND, 1);
    ncl[3] = 1; CLAUSE(3, 0, 1, SEND, 2);
    run Alt(0); run Alt(1); run Plain(2); run Plain(3)
#elif defined(ALT_SEND)
    item[0] = 3; slot[0] = FULL; pushed[3] = 1; item[1] = 4; slot[1] = FULL; pushed[4] = 1;
    ncl[0] = 2; CLAUSE(0, 0, 0, SEND, 1); CLAUSE(0, 1, 1, SEND, 2);
    ncl[1] = 1; CLAUSE(1, 0, 0, SEND, 5);
    ncl[2] = 1; CLAUSE(2, 0, 0, RECV, 0);
    ncl[3] = 1; CLAUSE(3, 0, 1, RECV, 0);
    run Alt(0); run Plain(1); run Plain(2); run Plain(3)
#elif defined(ALT_CLOSE)
    item[0] = 3; slot[0] = FULL; pushed[3] = 1;
    ncl[0] = 2; CLAUSE(0, 0, 0, SEND, 1); CLAUSE(0, 1, 1, RECV, 0);
    ncl[1] = 1; CLAUSE(1, 0, 0, SEND, 2);
    ncl[2] = 1; CLAUSE(2, 0, 0, RECV, 0);
    run Alt(0); run Plain(1); run Plain(2); run Closer(0)
#else
#error "choose a configuration: PLAIN, CLOSE, CLOSE_FULL, ALT, ALT2, ALT_SEND, ALT_PAIR or ALT_CLOSE"
#endif
  }
}
