// sluice/internal/handoff.hpp - the per-thread hand-off queue (src/async.cc): where a thread
// that completes awaited operations runs their continuations, one after another, never
// nested (Go's runnext, trampolined). Included by waitq.hpp, whose close() batches its wakes.
#pragma once

namespace sluice::internal {

// One entry of a thread's hand-off queue.
struct handoff_node {
  void (*run)(handoff_node*) noexcept = nullptr;  // may destroy the node
  void* ctx = nullptr;
  handoff_node* next = nullptr;
};

// Run n->run(n) on this thread: at once when this thread is not running hand-offs, else queued
// to run after the current one. Never nested. In an untagged frame (run_handoffs, a thread
// that completed a native operation, an Asio completion posted to a strand) the latest node
// queued runs next, ahead of those queued before it (Go's runnext, Tokio's LIFO slot), but at
// most lifo_slot_limit in a row while older ones wait; in a frame tagged with an io_context
// (handoff_frame with a tag) the order is FIFO, as handoff_if_active needs.
void handoff(handoff_node* n) noexcept;
// Hand-offs run from the LIFO slot in a row before the oldest queued node gets its turn.
// Tokio allows 3; 8 measured ~5% faster on a 4-sender select (docs/decisions.md, Async,
// fifth pass).
inline constexpr unsigned lifo_slot_limit = 8;
// Run fn(arg) so that whatever it hands off runs after it returns, not inside it, in the order
// handed off: as the first node of a new native frame when this thread runs no hand-offs,
// else at once (the current frame queues them). A close() delivers all its wakes this way
// before anyone resumes, and a kicked op's driver runs its steps this way.
void handoff_batch(void (*fn)(void*) noexcept, void* arg) noexcept;
// Queue n only if this thread runs the function of a batch that started its own frame (so n
// runs right after it, inside the call that started the batch) and the frame has queued
// fewer than `limit` hand-offs and refused none; false otherwise. An Asio completion whose
// executor runs on this thread queues this way a node that opens that executor's frame,
// where with no frame running it would have opened it at once.
bool handoff_after_batch(handoff_node* n, unsigned limit) noexcept;
// Take n off this thread's hand-off queues (every frame, nested ones included) if it waits
// there; nothing otherwise. For an owner destroyed before its queued continuation ran.
void handoff_withdraw(handoff_node* n) noexcept;
// Is this thread running hand-offs now (handoff() would queue rather than run)?
bool handoff_active() noexcept;
// Run n now as the first step of a new drain ("frame") tagged `tag` (an executor's context),
// even inside another drain: the outer frame's queue is set aside until this one is empty.
// An Asio completion posted to an executor runs this way, so what it queues runs inside that
// executor's run() call, not after some outer step that may be waiting on run().
void handoff_frame(handoff_node* n, const void* tag) noexcept;
// Queue n only if this thread is running a drain tagged `tag` that has run or queued fewer
// than `limit` nodes (`hand_off`: fewer than `limit` hand-offs, nodes that resume another
// task) and has refused none for the budget; false otherwise (the caller schedules n some
// other way).
bool handoff_if_active(handoff_node* n, unsigned limit, const void* tag, bool hand_off) noexcept;

}  // namespace sluice::internal
