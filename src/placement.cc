// Moving a thread off the CPU its partner needs (see sluice/internal/placement.hpp for the
// Invariants and docs/decisions.md "Waiting under load" for the measurements).
#include "sluice/internal/placement.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "sluice/internal/spin.hpp"

#if defined(__linux__)
#include <sched.h>
#endif

namespace sluice::internal {
namespace {

std::atomic<std::uint64_t> moves{0};

#if defined(__linux__)
// Threads of this process inside a yield, per CPU (modulo the table's size: a collision
// only adds a piece of evidence, which costs at most one rate-limited move).
constexpr int yield_slots = 256;
std::atomic<unsigned> yielding[yield_slots];

// When the next move may be tried, the gap that set it, and when the last one was made:
// process-wide, claimed with one CAS so that only one thread of a pair moves.
std::atomic<std::int64_t> next_move{0};
std::atomic<std::int64_t> move_gap{min_nudge_gap_ns};
std::atomic<std::int64_t> last_move{0};

bool disabled() noexcept {
  static const bool off = [] {
    const char* v = std::getenv("SLUICE_NO_NUDGE");
    return v != nullptr && *v != '\0' && *v != '0';
  }();
  return off;
}

// Claim the process's next move at `now`; false if it is not due or another thread won.
bool claim_move(std::int64_t now) noexcept {
  std::int64_t due = next_move.load(std::memory_order_relaxed);  // a schedule, no data published
  if (now < due) return false;
  std::int64_t gap = next_nudge_gap(move_gap.load(std::memory_order_relaxed),   // likewise
                                    last_move.load(std::memory_order_relaxed), now);  // likewise
  if (!next_move.compare_exchange_strong(due, now + gap, std::memory_order_relaxed)) {  // likewise
    return false;
  }
  move_gap.store(gap, std::memory_order_relaxed);  // likewise
  last_move.store(now, std::memory_order_relaxed);  // likewise
  return true;
}

// Step 1: read the allowed set; step 2: allow every CPU of it but `cpu` (the kernel migrates
// the thread before the call returns); step 3: restore the set exactly.
void move_off(int cpu) noexcept {
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return;  // e.g. over CPU_SETSIZE CPUs
  if (CPU_COUNT(&allowed) < 2 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &allowed)) return;
  cpu_set_t others = allowed;
  CPU_CLR(cpu, &others);
  if (sched_setaffinity(0, sizeof others, &others) != 0) return;  // refused (a seccomp policy)
  if (sched_setaffinity(0, sizeof allowed, &allowed) != 0) {
    std::fprintf(stderr, "sluice: sched_setaffinity could not restore a thread's CPU set; aborting\n");
    std::abort();
  }
  moves.fetch_add(1, std::memory_order_relaxed);  // a statistic
}
#endif

}  // namespace

#if defined(__linux__)
void colocated(spin_state& st, int cpu, std::int64_t now) noexcept {
  if (cpu < 0 || disabled()) return;
  if (now - st.colocated_at > colocation_window_ns) st.colocated_seen = 0;
  st.colocated_at = now;
  if (++st.colocated_seen < colocation_evidence_needed) return;
  st.colocated_seen = 0;
  if (st.loaded(now) || !claim_move(now)) return;
  move_off(cpu);
}

int enter_yield(spin_state& st, std::int64_t now) noexcept {
  int cpu = sched_getcpu();
  if (cpu < 0) return -1;
  // A hint: the count says whether another thread of ours yielded on this CPU.
  if (yielding[cpu % yield_slots].fetch_add(1, std::memory_order_relaxed) > 0) {  // no data published
    colocated(st, cpu, now);
  }
  return cpu;
}

void leave_yield(int cpu) noexcept {
  if (cpu >= 0) yielding[cpu % yield_slots].fetch_sub(1, std::memory_order_relaxed);  // a hint, as above
}
#else
void colocated(spin_state&, int, std::int64_t) noexcept {}
int enter_yield(spin_state&, std::int64_t) noexcept { return -1; }
void leave_yield(int) noexcept {}
#endif

std::uint64_t nudges() noexcept { return moves.load(std::memory_order_relaxed); }  // a statistic

}  // namespace sluice::internal
