/* claim.pml - sluice's claim protocol (DESIGN.md, "The claim protocol"), as states and CASes.
 *
 * Must match: include/sluice/internal/waiter.hpp (waiter states, try_claim, try_abort),
 * include/sluice/internal/waitq.hpp (claim_one, has_waiting), include/sluice/internal/zero.hpp
 * (plain rendezvous send/recv: try and link under one lock hold, then park) and src/alt.cc
 * (run_alt: phase 1 try, phase 2 publish + re-check, phase 3 park/abort, phase 4 withdraw).
 * Each `atomic` block below is one critical section under a channel's lock (or one CAS).
 *
 * Configurations (spin -D...):
 *   default      alternation A {recv c0, send c1}, alternation B {send c0, recv c1} and a
 *                plain receive P on c1; everyone may time out.
 *   SELF         Go's self-select: A and B each {send c0, recv c0} on one rendezvous channel,
 *                plus a plain receive P on c0.
 *
 * Checked exhaustively:
 *   - an alternation commits at most one clause (commits[w] <= 1);
 *   - every value is delivered at most once, a committed send's value exactly once, and a
 *     send that gave up (timed out) was never delivered;
 *   - no operation pairs with itself;
 *   - no lost wakeup: never are two compatible offers of different owners both linked and
 *     waiting while both owners are parked (the never claim);
 *   - no invalid end state: nobody is left waiting for an unpark that never comes.
 */

#define NW 3            /* waiters: 0 = alternation A, 1 = alternation B, 2 = plain P */
#define NC 2            /* clauses per waiter, at most */
#define NO (NW * NC)    /* offers */
#define NONE 255
#define WAITING 0
#define ABORTED 1
#define CLAIMED 2       /* CLAIMED + clause index */
#define SEND 0
#define RECV 1
#define MAXROUNDS 2     /* rounds an alternation may go before its deadline passes */
#define OFF(w, i) ((w) * NC + (i))

byte ncl[NW];
byte och[NO];           /* channel of each clause */
byte odir[NO];          /* SEND or RECV */
byte oval[NO];          /* the value a send clause offers (distinct, 1..) */
bool linked[NO];        /* offer on its channel's wait list */
byte state[NW];         /* the waiter's one claim word */
bool done[NW];          /* the parker: set by unpark */
bool parked[NW];
byte delivered[8];
bool sent[8];
byte commits[NW];

/* Two offers that could pair, both linked and waiting, with both owners asleep. */
#define LOST(a, b) (och[a] == och[b] && odir[a] != odir[b] && (a) / NC != (b) / NC && \
  linked[a] && linked[b] && state[(a) / NC] == WAITING && state[(b) / NC] == WAITING && \
  parked[(a) / NC] && parked[(b) / NC])
#define ANY_LOST ( \
  LOST(0,1) || \
  LOST(0,2) || \
  LOST(0,3) || \
  LOST(0,4) || \
  LOST(0,5) || \
  LOST(1,2) || \
  LOST(1,3) || \
  LOST(1,4) || \
  LOST(1,5) || \
  LOST(2,3) || \
  LOST(2,4) || \
  LOST(2,5) || \
  LOST(3,4) || \
  LOST(3,5) || \
  LOST(4,5))

never {  /* no lost wakeup, in any reachable state */
  do
  :: assert(!ANY_LOST)
  od
}

/* waitq::claim_one under the channel lock: first linked offer of another owner, on the
 * same channel, opposite direction, whose owner is still waiting; CAS it, unlink it. */
inline claim_counterpart(w, i, f, j) {
  f = NONE;
  j = 0;
  do
  :: j < NO ->
     if
     :: (j / NC != w && linked[j] && och[j] == och[OFF(w, i)] && odir[j] != odir[OFF(w, i)] &&
         state[j / NC] == WAITING) ->
        state[j / NC] = CLAIMED + j % NC;
        linked[j] = false;
        f = j;
        break
     :: else -> j++
     fi
  :: else -> break
  od;
  j = 0
}

/* zero_chan::ready under the channel lock (waitq::has_waiting excluding self). */
inline is_ready(w, i, r, j) {
  r = false;
  j = 0;
  do
  :: j < NO ->
     if
     :: (j / NC != w && linked[j] && och[j] == och[OFF(w, i)] && odir[j] != odir[OFF(w, i)] &&
         state[j / NC] == WAITING) -> r = true; break
     :: else -> j++
     fi
  :: else -> break
  od;
  j = 0
}

/* The claimer moves the value outside the lock; then unparks the owner. */
inline transfer(w, i, f) {
  assert(f / NC != w);                        /* never pairs with itself */
  if
  :: odir[OFF(w, i)] == SEND -> delivered[oval[OFF(w, i)]]++; assert(delivered[oval[OFF(w, i)]] == 1)
  :: else -> delivered[oval[f]]++; assert(delivered[oval[f]] == 1)
  fi;
  done[f / NC] = true                          /* unpark: the claimer's last touch */
}

inline commit(w, i) {
  commits[w]++;
  assert(commits[w] == 1);                     /* at most one clause per operation */
  if
  :: odir[OFF(w, i)] == SEND -> assert(delivered[oval[OFF(w, i)]] == 1); sent[oval[OFF(w, i)]] = true
  :: else -> skip
  fi
}

inline gave_up(w, k) {                        /* timed out: nothing of ours was delivered */
  k = 0;
  do
  :: k < ncl[w] ->
     if
     :: odir[OFF(w, k)] == SEND -> assert(delivered[oval[OFF(w, k)]] == 0)
     :: else -> skip
     fi;
     k++
  :: else -> break
  od
}

inline try_abort(w, claimed) {                 /* waiter::try_abort: the owner's CAS */
  atomic {
    if
    :: state[w] == WAITING -> state[w] = ABORTED; claimed = false
    :: else -> claimed = true
    fi
  }
}

proctype Alt(byte w) {
  byte i, j, f, npub, rounds;
  bool ready, claimed;
round:
  /* Phase 1: try each clause, acting as a counterpart (no offer of ours is published). */
  i = 0;
  do
  :: i < ncl[w] ->
     atomic { claim_counterpart(w, i, f, j) }
     if
     :: f != NONE -> transfer(w, i, f); commit(w, i); goto finish
     :: else -> i++
     fi
  :: else -> break
  od;
  if
  :: rounds >= MAXROUNDS -> gave_up(w, j); goto finish     /* the deadline has passed */
  :: else -> rounds++
  fi;
  /* Phase 2: publish an offer per clause, re-checking the channel after each. */
  state[w] = WAITING;
  done[w] = false;
  ready = false;
  npub = 0;
  do
  :: npub < ncl[w] ->
     linked[OFF(w, npub)] = true;
     atomic { is_ready(w, npub, ready, j) }
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
  :: else ->
     parked[w] = true;
     if
     :: done[w] -> claimed = true
     :: try_abort(w, claimed)                  /* timed out */
     fi;
     parked[w] = false
  fi;
  if
  :: claimed -> done[w]                        /* wait for the claimer's unpark */
  :: else -> skip
  fi;
  /* Phase 4: withdraw every offer (the claimed one is already unlinked). */
  j = 0;
  do
  :: j < npub -> linked[OFF(w, j)] = false; j++
  :: else -> break
  od;
  j = 0;
  if
  :: claimed -> commit(w, state[w] - CLAIMED); goto finish
  :: else -> goto round
  fi;
finish:
  skip
}

/* zero_chan::send / recv: try and link in one critical section, park, abort on timeout. */
proctype Plain(byte w) {
  byte f, j;
  bool claimed;
  atomic {
    claim_counterpart(w, 0, f, j);
    if
    :: f == NONE -> state[w] = WAITING; done[w] = false; linked[OFF(w, 0)] = true
    :: else -> skip
    fi
  }
  if
  :: f != NONE -> transfer(w, 0, f); commit(w, 0)
  :: else ->
     parked[w] = true;
     if
     :: done[w] -> claimed = true
     :: try_abort(w, claimed)                  /* timed out */
     fi;
     parked[w] = false;
     if
     :: claimed -> done[w]; commit(w, 0)
     :: else -> linked[OFF(w, 0)] = false; gave_up(w, j)
     fi
  fi
}

init {
  atomic {
    /* Nobody is claimable until it publishes: start every waiter aborted. */
    state[0] = ABORTED; state[1] = ABORTED; state[2] = ABORTED;
#ifdef SELF
    ncl[0] = 2; och[OFF(0, 0)] = 0; odir[OFF(0, 0)] = SEND; oval[OFF(0, 0)] = 1;
                och[OFF(0, 1)] = 0; odir[OFF(0, 1)] = RECV;
    ncl[1] = 2; och[OFF(1, 0)] = 0; odir[OFF(1, 0)] = SEND; oval[OFF(1, 0)] = 2;
                och[OFF(1, 1)] = 0; odir[OFF(1, 1)] = RECV;
    ncl[2] = 1; och[OFF(2, 0)] = 0; odir[OFF(2, 0)] = RECV;
#else
    ncl[0] = 2; och[OFF(0, 0)] = 0; odir[OFF(0, 0)] = RECV;
                och[OFF(0, 1)] = 1; odir[OFF(0, 1)] = SEND; oval[OFF(0, 1)] = 1;
    ncl[1] = 2; och[OFF(1, 0)] = 0; odir[OFF(1, 0)] = SEND; oval[OFF(1, 0)] = 2;
                och[OFF(1, 1)] = 1; odir[OFF(1, 1)] = RECV;
    ncl[2] = 1; och[OFF(2, 0)] = 1; odir[OFF(2, 0)] = RECV;
#endif
    run Alt(0);
    run Alt(1);
    run Plain(2)
  }
}
