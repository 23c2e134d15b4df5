// sluice/internal/placement.hpp - moving a thread off the CPU its partner needs.
//
// Beside a light neighbour process (nice 19) the kernel tends to end up with both threads of
// a hand-off on one CPU and the neighbour alone on the other: once the neighbour's slice
// preempts one thread, its partner parks, its CPU idles, idle balancing pulls the preempted
// thread over, and from then on the pair swaps every few microseconds, always cache-hot, so
// the balancer never separates it again (perf sched, docs/decisions.md "Waiting under
// load"). Every message then costs a context switch (1.4-4 us) instead of a cross-core round
// trip (0.15-0.7 us). The waiting policy sees the co-location and moves the thread once.
//
// Invariants (src/placement.cc):
//   - Evidence of co-location, counted per thread: a futex wake from the sleeper's own CPU,
//     and a yield entered on a CPU where another thread of this process is inside a yield
//     (that thread yielded to us: we share its CPU). colocation_evidence_needed pieces
//     within colocation_window_ns of each other make a case; a quieter spell starts over.
//   - A thread moves only itself, only to a CPU of its own allowed set, and leaves the set
//     as it found it: one sched_setaffinity without its current CPU (the kernel migrates it
//     before returning), one restoring the set it read. A restore that fails aborts.
//   - At most one move per process per gap (so the two threads of a pair never both move,
//     which would put them together again). The gap starts at min_nudge_gap_ns and doubles
//     up to max_nudge_gap_ns while each move comes within recur_ns of the previous gap's end
//     (the kernel keeps putting threads back: more of ours than CPUs, or a neighbour of
//     equal weight); a calm spell resets it.
//   - A thread in the loaded state (spin.hpp: its yields ran an equal-weight stranger) never
//     moves: it would only trade places with that stranger.
//   - A thread whose allowed set has one CPU (pinned by the application) never moves.
//   - SLUICE_NO_NUDGE=1 in the environment turns moves off (read once per process).
//   - Nothing here decides an operation: a wrong move costs time, never a value.
#pragma once

#include <cstdint>

namespace sluice::internal {

struct spin_state;

inline constexpr unsigned colocation_evidence_needed = 4;
inline constexpr std::int64_t colocation_window_ns = 1'000'000;
inline constexpr std::int64_t min_nudge_gap_ns = 10'000'000;
inline constexpr std::int64_t max_nudge_gap_ns = 1'000'000'000;
inline constexpr std::int64_t recur_ns = 50'000'000;

// The wait before the next move may be tried, after a move at `now` that followed the
// previous one (at `last`, 0: none), which had set the gap `gap`.
constexpr std::int64_t next_nudge_gap(std::int64_t gap, std::int64_t last, std::int64_t now) noexcept {
  if (last == 0 || now - last >= gap + recur_ns) return min_nudge_gap_ns;
  return gap * 2 < max_nudge_gap_ns ? gap * 2 : max_nudge_gap_ns;
}

// Evidence at time `now` that the calling thread shares CPU `cpu` with a partner; may move
// the thread to another CPU of its allowed set.
void colocated(spin_state& st, int cpu, std::int64_t now) noexcept;

// Around a yield: enter_yield records evidence if another of our threads is inside a yield
// on this CPU and returns the CPU to pass to leave_yield (-1: unknown).
int enter_yield(spin_state& st, std::int64_t now) noexcept;
void leave_yield(int cpu) noexcept;

// Moves made by this process so far (tests and benchmarks read it).
std::uint64_t nudges() noexcept;

}  // namespace sluice::internal
