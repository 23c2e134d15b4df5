// sluice/async.hpp - channels, alternation and mailboxes awaited by coroutines and Asio code.
//
// The same channels serve threads and coroutines at once: an awaited operation is one more
// kind of waiter in the claim protocol (one CAS commits it, exactly as a blocked thread's
// operation), so every guarantee of channel.hpp and alt.hpp holds across blocking calls,
// native awaitables and Asio operations on any executors.
//
// Native awaitables (any C++20 coroutine type; no allocation, a timed wait included):
//   status s = co_await ch.async_send(v);             ok | closed
//   recv_result<T> r = co_await ch.async_recv();      ok | closed
//   co_await ch.async_send_for(v, 10ms);              ok | timeout | closed  (async_recv_for(d) too)
//   co_await ch.async_recv(stop_token);               ... | cancelled        (every form takes one)
//   alt_result a = co_await sluice::async_alt(on_recv(a, f), on_send(b, v), otherwise(d, g));
//                  fair among the ready clauses; async_pri_alt(...) tries them in order.
//                  sluice::async_alt(stop_token, clauses...) can be cancelled.
//   Await a native awaitable in the expression that makes it: it refers to the channel and
//   to an rvalue being sent (moved from only if the send commits, as with send()).
//   Resumption: on the thread that completes the operation (the counterpart's, the timer
//   thread for a timeout, the thread that requested the stop), through that thread's hand-off
//   queue: at once, inside the completing call (a thread's send or close, request_stop), when
//   that thread is not already running hand-offs; else right after the current one. Never
//   nested inside another resumption (constant stack depth for any chain of hand-offs).
//   Destroying a coroutine while it is suspended in a native awaitable, up to the moment it
//   resumes, withdraws its offers or takes its queued resumption off this thread's hand-off
//   queue, as long as the operation is not being completed by another thread (whose queue
//   then holds the resumption): that is undefined, as for any awaitable whose operation is in
//   flight. (So a coroutine that close() woke may destroy another that the same close() woke:
//   close() delivers all its wakes before either resumes.)
//
// Boost.Asio completion tokens (use_awaitable, deferred, use_future, callbacks, as_tuple...):
//   ch.async_send(v, token)            void(boost::system::error_code, status)
//   ch.async_recv(token)               void(boost::system::error_code, recv_result<T>)
//   ch.async_send_for(v, d, token), ch.async_recv_for(d, token)
//   sluice::async_alt(token, clauses...) / async_pri_alt(token, ...)  void(error_code, alt_result)
//   The operation takes the value (copies an lvalue, moves an rvalue) and keeps the channel
//   alive until it completes; a send that does not commit destroys its copy.
//   Completion runs on the handler's associated executor (system_executor when it has none),
//   with outstanding work held while the operation waits. When the completing thread already
//   runs that executor (an io_context's thread), the handler runs right after the completing
//   step on that thread instead of through the executor's queue (Go's runnext), within a
//   budget (8 hand-offs, 128 operations that completed at once) before falling back to post().
//   An executor other than an io_context's own (a strand) always gets post().
//   Cancellation (the handler's cancellation slot, any cancellation_type, including total):
//   an operation cancelled before it committed completes with error::operation_aborted and
//   status cancelled, having consumed and delivered nothing; one that committed completes
//   normally. async_alt is ONE operation with one commit: the lossless select. Racing single
//   operations with operator|| or parallel_group is not: both may commit, and the loser's
//   value is thrown away (tests/async_asio_test.cc shows it).
//   Handlers of alternation clauses run on the completion's executor before the completion
//   handler; an exception from one (or from the completion handler) propagates out of the
//   executor's run(). A cancellation's completion always goes through post().
#pragma once

#include <array>
#include <coroutine>
#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <stop_token>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <atomic>
#include <thread>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_allocator.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/recycling_allocator.hpp>
#include <boost/asio/system_executor.hpp>
#include <boost/system/error_code.hpp>

#include "sluice/alt.hpp"
#include "sluice/channel.hpp"
#include "sluice/internal/async_op.hpp"

namespace sluice {
namespace internal {

struct no_handler {
  void operator()() const noexcept {}
};

// The parts of alt.hpp's clause types the awaitable forms use (befriended there).
struct clause_access {
  template <class Cl>
  static void* erased(Cl& c) noexcept { return c.erased(); }
  template <class Cl>
  static constexpr const clause_vtable* vtable() noexcept { return &Cl::vtable; }
  template <class Cl>
  static void own(Cl& c) { c.own_value(); }
  template <class Cl>
  static auto& handle(Cl& c) noexcept { return c.handle_; }
  template <class T, class F>
  static std::optional<T>& value(recv_clause<T, F>& c) noexcept { return c.val_; }
  // The value a send clause would send, now owned and moved out (an lvalue's copy, made when
  // the clause was).
  template <class T, class U, class F>
  static T take_value(send_clause<T, U, F>& c) {
    c.own_value();
    return std::move(*c.owned_);
  }
  template <class F>
  static internal::deadline deadline_of(const otherwise_clause<F>& c) { return c.deadline(); }
  template <class F>
  static void run(otherwise_clause<F>& c) { c.f_(); }
};

template <class C>
struct is_clause : std::false_type {};
template <class T, class F>
struct is_clause<recv_clause<T, F>> : std::true_type {};
template <class T, class U, class F>
struct is_clause<send_clause<T, U, F>> : std::true_type {};
template <class F>
struct is_clause<otherwise_clause<F>> : std::true_type {};
template <class C>
concept alt_clause = is_clause<std::remove_cvref_t<C>>::value;

// A clause as an alternation form holds it: for an Asio operation, which may outlive the
// expression that made it, with a handle that keeps its channel alive and its value owned
// (alternation::holder's idea); moving it re-points the clause at the moved handle.
template <class Cl>
struct keep_of {
  using type = std::monostate;
};
template <class T, class F>
struct keep_of<recv_clause<T, F>> {
  using type = channel<T>;
};
template <class T, class U, class F>
struct keep_of<send_clause<T, U, F>> {
  using type = channel<T>;
};

template <class Cl>
struct held_clause {
  Cl c;
  std::optional<typename keep_of<Cl>::type> keep;

  explicit held_clause(Cl&& x) : c(std::move(x)) {}
  held_clause(held_clause&& o) noexcept(std::is_nothrow_move_constructible_v<Cl>)
      : c(std::move(o.c)), keep(std::move(o.keep)) {
    repoint();
  }
  held_clause& operator=(held_clause&&) = delete;

  void own() {
    if constexpr (!is_otherwise<Cl>::value) {
      keep.emplace(*clause_access::handle(c));
      repoint();
      clause_access::own(c);
    }
  }

 private:
  void repoint() noexcept {
    if constexpr (!is_otherwise<Cl>::value) {
      if (keep) clause_access::handle(c) = &*keep;
    }
  }
};

// Clause storage shared by the alternation forms: the clauses, and the engine's arrays.
template <class... C>
class clause_set {
 public:
  static constexpr std::size_t n_other = (std::size_t{0} + ... + is_otherwise<C>::value);
  static_assert(n_other <= 1, "an alternation takes at most one otherwise clause");
  static constexpr std::size_t cap = sizeof...(C) - n_other > 0 ? sizeof...(C) - n_other : 1;

  explicit clause_set(C... cs) : cs_(held_clause<C>(std::move(cs))...) {}
  clause_set(clause_set&& o) : cs_(std::move(o.cs_)) {}  // before collect(): the arrays are filled there

  // Keep every channel alive and own every value (an operation that outlives its expression).
  void own() {
    std::apply([](auto&... hs) { (hs.own(), ...); }, cs_);
  }

  // Gather the enabled clauses, once the set sits where it stays until the operation ends.
  void collect() {
    n_ = 0;
    other_ = npos;
    auto visit = [&](auto& h, std::size_t arg) {
      using Cl = std::remove_cvref_t<decltype(h.c)>;
      if constexpr (is_otherwise<Cl>::value) {
        other_ = arg;
        d_ = clause_access::deadline_of(h.c);
      } else if (h.c.enabled()) {
        refs_[n_++] = clause_ref{clause_access::erased(h.c), clause_access::vtable<Cl>(), arg};
      }
    };
    std::apply([&](auto&... hs) { each(visit, hs...); }, cs_);
  }
  bool empty() const noexcept { return n_ == 0 && other_ == npos; }
  // A first look before any operation is built (see native_wait). True: `p` ran. False:
  // nothing did, and the operation need not look again before it publishes (start(true)).
  bool try_first(bool fair, alt_pick& p) {
    alt_order(order_.data(), n_, fair);
    const alt_pick q = try_ready_clauses(refs_.data(), order_.data(), n_);
    if (q.pos == npos) return false;
    p = q;
    return true;
  }
  void setup(async_op& op, bool fair) noexcept {
    op.setup(refs_.data(), offers_.data(), order_.data(), n_, fair, d_);
  }

  // Run the chosen clause's handler (or otherwise's) and say what ran.
  alt_result finish(const alt_pick& p) {
    if (p.pos != npos) {
      refs_[p.pos].vt->fire(refs_[p.pos].obj, p.st);
      return {refs_[p.pos].arg_index, p.st};
    }
    if (p.st == status::empty || p.st == status::cancelled) return {npos, p.st};
    std::apply([&](auto&... hs) { each([&](auto& h, std::size_t arg) { run_other(h.c, arg); }, hs...); }, cs_);
    return {other_, status::timeout};
  }

 private:
  template <class V, class... X>
  static void each(V&& visit, X&... xs) {
    [&]<std::size_t... I>(std::index_sequence<I...>) { (visit(xs, I), ...); }(std::index_sequence_for<X...>{});
  }
  template <class Cl>
  void run_other(Cl& c, std::size_t arg) {
    if constexpr (is_otherwise<Cl>::value) {
      if (arg == other_) clause_access::run(c);
    }
  }

  std::tuple<held_clause<C>...> cs_;
  std::array<clause_ref, cap> refs_{};
  std::array<offer, cap> offers_{};
  std::array<std::uint32_t, cap> order_{};
  std::size_t n_ = 0;
  std::size_t other_ = npos;
  internal::deadline d_ = internal::deadline::never();
};

// ---- Native awaitables ----------------------------------------------------------------

// An async_op whose continuation is a coroutine, resumed through the hand-off queue.
class native_op final : public async_op {
 public:
  native_op() = default;
  // Destroyed (with its coroutine) after complete() queued the resumption on this thread's
  // hand-off queue, but before it ran: take it off (see waitq::wake_all).
  ~native_op() {
    if (node_.run != nullptr) handoff_withdraw(&node_);
  }
  void set_handle(std::coroutine_handle<> h) noexcept { h_ = h; }

 private:
  void complete() noexcept override {
    node_.run = &native_op::resume;  // set from here until resume() runs: queued
    node_.ctx = this;
    handoff(&node_);
  }
  static void resume(handoff_node* n) noexcept {
    n->run = nullptr;  // off the queue
    static_cast<native_op*>(n->ctx)->h_.resume();  // may destroy the op
  }
  std::coroutine_handle<> h_;
  handoff_node node_;
};

struct op_canceller {
  async_op* op;
  void operator()() const noexcept { op->cancel(); }
};

// The suspension shared by the native awaiters: start the op, suspend unless it is done.
// The op (a few hundred bytes) is made only when the awaiter is about to suspend: a try that
// completes at once writes none of it, so the store buffer it drains at its one locked
// instruction is short.
class native_wait {
 protected:
  explicit native_wait(std::stop_token st) : stop_(std::move(st)) {}
  ~native_wait() {
    cb_.reset();  // first: a stop callback running elsewhere touches the op
    if (live_) op_.~native_op();
  }
  native_wait(const native_wait&) = delete;
  native_wait& operator=(const native_wait&) = delete;
  // Only before the op exists: an awaiter used as an Asio operation may be moved (stored by
  // value by a parallel_group or a deferred composition) before it starts; see as_asio.
  native_wait(native_wait&& o) noexcept : stop_(std::move(o.stop_)) {}

  native_op& make_op() noexcept {
    ::new (static_cast<void*>(&op_)) native_op;  // default-init: "()" would zero all 320 bytes first (a rep stos, ~10% of a rendezvous pair)
    live_ = true;
    return op_;
  }
  bool started() const noexcept { return live_; }
  // Before the awaiter's clauses go (see async_op::abandon).
  void abandon() noexcept {
    if (live_) op_.abandon();
  }
  bool suspend(std::coroutine_handle<> h, bool tried) {
    op_.set_handle(h);
    if (stop_.stop_possible()) cb_.emplace(stop_, op_canceller{&op_}); else op_.no_cancel();
    return !op_.start(tried);
  }
  void resumed() noexcept { cb_.reset(); }  // waits out a stop callback running elsewhere

  union {
    native_op op_;  // alive once make_op() ran
  };
  bool live_ = false;
  std::stop_token stop_;
  std::optional<std::stop_callback<op_canceller>> cb_;
};

// The completion signature of a single awaiter's Asio form.
template <class Clause>
struct asio_signature;
template <class T>
struct asio_signature<recv_clause<T, no_handler>> {
  using type = void(boost::system::error_code, recv_result<T>);
};
template <class T, class U>
struct asio_signature<send_clause<T, U, no_handler>> {
  using type = void(boost::system::error_code, status);
};

// co_await ch.async_send(...) / ch.async_recv(...): one clause with a fast path.
template <class Clause, bool Stoppable = false>
class single_awaiter : native_wait {
 public:
  single_awaiter(Clause c, internal::deadline d, std::stop_token st)
      : native_wait(std::move(st)), c_(std::move(c)), d_(d) {}
  // A moved awaiter may start after the expression that made it has ended: it owns the value
  // it sends first (an rvalue it only pointed at dies with that expression).
  single_awaiter(single_awaiter&& o) noexcept(std::is_nothrow_move_constructible_v<Clause>)
      : native_wait(std::move(o)), c_((clause_access::own(o.c_), std::move(o.c_))), d_(o.d_) {}
  ~single_awaiter() { abandon(); }  // before the clause goes

  // An Asio asynchronous operation too (is_async_operation): `co_await ch.async_recv()` inside
  // boost::asio::awaitable, whose await_transform takes only Asio's own kinds, runs as
  // `ch.async_recv(token)` (defined with the Asio forms below), cancelled through Asio's slot.
  // Not the forms given a std::stop_token (Stoppable): that token would go unwatched there,
  // so awaiting one inside asio::awaitable does not compile.
  template <class Token>
    requires(!Stoppable && boost::asio::completion_token_for<Token, typename asio_signature<Clause>::type>)
  auto operator()(Token&& token) &&;

  bool await_ready() {
    // One try: its "not ready" takes no lock on either flavor (zero_chan looks at its wait
    // list's count first), so no separate hint call is needed. (A buffered receive that will
    // wait now reads the senders' tail word once here; its publish reads it again anyway.)
    const clause_vtable* vt = clause_access::vtable<Clause>();
    s_ = vt->try_now(clause_access::erased(c_));
    if (performed(s_)) return true;
    if (d_.is_now()) {
      s_ = status::timeout;
      return true;
    }
    if (stop_.stop_requested()) {
      s_ = status::cancelled;
      return true;
    }
    return false;
  }
  bool await_suspend(std::coroutine_handle<> h) {
    ref_ = clause_ref{clause_access::erased(c_), clause_access::vtable<Clause>(), 0};
    make_op().setup(&ref_, &offer_, &order_, 1, false, d_);
    return suspend(h, true);  // await_ready looked: the op goes straight to publishing
  }
  auto await_resume() {
    if (started()) {
      resumed();
      s_ = op_.pick().st;
    }
    if constexpr (requires { clause_access::value(c_); }) {
      auto& v = clause_access::value(c_);
      return recv_result<typename std::remove_reference_t<decltype(v)>::value_type>(s_, std::move(v));
    } else {
      return s_;
    }
  }

 private:
  Clause c_;
  internal::deadline d_;
  status s_ = status::empty;
  clause_ref ref_{};
  offer offer_{};
  std::uint32_t order_ = 0;
};

// co_await async_alt(clauses...)
template <bool Stoppable, class... C>
class alt_awaiter : native_wait {
 public:
  alt_awaiter(bool fair, std::stop_token st, C... cs)
      : native_wait(std::move(st)), set_(std::move(cs)...), fair_(fair) {}
  // As single_awaiter's, and it keeps its channels alive too (clause_set::own).
  alt_awaiter(alt_awaiter&& o) : native_wait(std::move(o)), set_((o.set_.own(), std::move(o.set_))), fair_(o.fair_) {}
  ~alt_awaiter() { abandon(); }  // before the clauses go

  // As single_awaiter's: inside boost::asio::awaitable, runs as async_alt(token, clauses...).
  template <class Token>
    requires(!Stoppable && boost::asio::completion_token_for<Token, void(boost::system::error_code, alt_result)>)
  auto operator()(Token&& token) &&;

  bool await_ready() {
    set_.collect();
    if (set_.empty()) {
      pick_ = {npos, status::empty};
      return true;
    }
    if (stop_.stop_requested()) {
      pick_ = {npos, status::cancelled};
      return true;
    }
    return set_.try_first(fair_, pick_);
  }
  bool await_suspend(std::coroutine_handle<> h) {
    set_.setup(make_op(), fair_);
    return suspend(h, true);  // await_ready looked: the op goes straight to publishing
  }
  alt_result await_resume() {
    if (started()) {
      resumed();
      pick_ = op_.pick();
    }
    return set_.finish(pick_);
  }

 private:
  clause_set<C...> set_;
  bool fair_;
  alt_pick pick_{npos, status::empty};
};

// ---- Boost.Asio completion tokens -----------------------------------------------------------

namespace asio = boost::asio;

// An io_context's executor as any_io_executor holds it: plain, or tracking outstanding work.
using io_plain_executor = asio::io_context::executor_type;
using io_tracked_executor =
    std::decay_t<decltype(asio::prefer(std::declval<io_plain_executor>(), asio::execution::outstanding_work.tracked))>;

template <class Ex>
struct is_io_executor : std::false_type {};
template <class A, std::uintptr_t Bits>
struct is_io_executor<asio::io_context::basic_executor_type<A, Bits>> : std::true_type {};

// Where an executor runs its handlers: the identity of its io_context (the tag of the
// hand-off frames its completions run in) and whether this thread is running it now; one
// type-erased lookup for both. Only an io_context's own executor qualifies: any other (a
// strand above all) gets {nullptr, false}, so its completions always go through post(). A
// strand's handler queued into the io_context's frame would run after the strand's
// dispatch() returned, outside the strand (AsyncAsio.AStrandsHandlerRunsInsideTheStrand).
struct executor_place {
  const void* tag = nullptr;
  bool here = false;
};
template <class Ex>
executor_place place_of(const Ex& ex) noexcept {
  if constexpr (std::is_same_v<Ex, asio::any_io_executor>) {
    if (auto* e = ex.template target<io_plain_executor>()) return {&e->context(), e->running_in_this_thread()};
    if (auto* e = ex.template target<io_tracked_executor>()) return {&e->context(), e->running_in_this_thread()};
    return {};
  } else if constexpr (is_io_executor<Ex>::value) {
    return {&ex.context(), ex.running_in_this_thread()};
  } else {
    return {};
  }
}

// Outstanding work on a waiting operation's executor, so that its io_context's run() does not
// return under it (executor_work_guard's job). An io_context behind an any_io_executor (what
// use_awaitable hands us) is held through its concrete tracked executor: the same one atomic
// count on the io_context, without any_io_executor's type-erased prefer, copy and destroy
// calls, which took 10% of a use_awaitable rendezvous pair (measured 2026-12-01).
template <class Ex>
class work_hold {
 public:
  void hold(const Ex& ex) {
    if constexpr (std::is_same_v<Ex, asio::any_io_executor>) {
      if (auto* e = ex.template target<io_plain_executor>()) {
        io_.emplace(asio::prefer(*e, asio::execution::outstanding_work.tracked));
        return;
      }
      if (auto* e = ex.template target<io_tracked_executor>()) {
        io_.emplace(*e);
        return;
      }
    }
    any_.emplace(ex);
  }

 private:
  std::optional<io_tracked_executor> io_;  // a moved-from one tracks nothing
  std::optional<asio::executor_work_guard<Ex>> any_;
};

// How many completions may run in a row on an executor's thread before the next one goes
// through post(), behind whatever else that executor has queued (so other handlers are never
// starved). Two budgets, as Tokio has two:
//   - runnext_limit: hand-offs per frame, completions that resume a coroutine parked earlier
//     (Go's runnext; Tokio allows 3 polls in a row from its LIFO slot);
//   - immediate_limit: all completions per frame, including operations that completed at
//     once, whose own coroutine simply goes on (Tokio's cooperative budget, 128 operations
//     per task poll). One shared budget of 8 posted every 8th buffered send or receive: 10%
//     of a use_awaitable pair's time (measured 2026-12-01: 154 -> 140 ns per buffered pair).
//   Counted as nodes are queued; once one is refused, the rest of the frame is refused too
//   (src/async.cc, handoff_if_active).
inline constexpr unsigned runnext_limit = 8;
inline constexpr unsigned immediate_limit = 128;

// One Asio operation: Payload holds the clauses and makes the completion's arguments.
template <class Payload, class Handler>
class asio_op final : public async_op {
 public:
  using executor_type = asio::associated_executor_t<Handler, asio::system_executor>;
  using allocator_type = asio::associated_allocator_t<Handler, asio::recycling_allocator<void>>;

  template <class... A>
  static void launch(Handler&& h, A&&... a) {
    allocator_type alloc = asio::get_associated_allocator(h, asio::recycling_allocator<void>());
    auto* op = new_op(alloc, std::move(h), std::forward<A>(a)...);
    op->begin();
  }

 private:
  using op_alloc = typename std::allocator_traits<allocator_type>::template rebind_alloc<asio_op>;

  template <class... A>
  asio_op(Handler&& h, A&&... a)
      : handler_(std::move(h)), payload_(std::forward<A>(a)...) {}

  executor_type executor() const noexcept { return asio::get_associated_executor(handler_, asio::system_executor()); }

  template <class... A>
  static asio_op* new_op(const allocator_type& alloc, Handler&& h, A&&... a) {
    op_alloc a2(alloc);
    asio_op* p = std::allocator_traits<op_alloc>::allocate(a2, 1);
    try {
      return ::new (static_cast<void*>(p)) asio_op(std::move(h), std::forward<A>(a)...);
    } catch (...) {
      std::allocator_traits<op_alloc>::deallocate(a2, p, 1);
      throw;
    }
  }
  void delete_op() noexcept { delete_op(asio::get_associated_allocator(handler_, asio::recycling_allocator<void>())); }
  void delete_op(const allocator_type& alloc) noexcept {
    op_alloc a2(alloc);
    this->~asio_op();
    std::allocator_traits<op_alloc>::deallocate(a2, this, 1);
  }

  struct canceller {
    asio_op* op;
    void operator()(asio::cancellation_type t) const noexcept {
      if ((t & (asio::cancellation_type::terminal | asio::cancellation_type::partial |
                asio::cancellation_type::total)) != asio::cancellation_type::none) {
        op->cancel();
      }
    }
  };

  // Phases: a first look (an op done at once needs neither work count nor cancellation
  // slot: nobody else has seen it); else hold work, connect the slot, start (publish, wait).
  void begin() {
    bool now;
    try {
      payload_.prepare(*this);
      now = this->try_ready();
      if (!now) {
        payload_.keep();
        work_.hold(executor());
        slot_ = asio::get_associated_cancellation_slot(handler_);
        if (slot_.is_connected()) slot_.template emplace<canceller>(canceller{this}); else this->no_cancel();
        now = this->start(true);
      }
    } catch (...) {
      if (slot_.is_connected()) slot_.clear();
      delete_op();
      throw;
    }
    if (now) schedule(true);  // never inline in the initiating function
  }

  void complete() noexcept override { schedule(false); }

  // Run the completion on the handler's executor: here and now (a hand-off on the thread that
  // runs it), or through post().
  void schedule(bool immediate) noexcept {
    node_.run = &asio_op::run_node;
    node_.ctx = this;
    bool here;
    {
      executor_type ex = executor();
      const executor_place place = place_of(ex);
      here = place.here;
      const void* tag = place.tag;
      if (here && this->pick().st != status::cancelled) {
        if (handoff_if_active(&node_, immediate ? immediate_limit : runnext_limit, tag, !immediate)) return;
        if (!immediate && !handoff_active()) {
          handoff_frame(&node_, tag);  // start this thread's drain: the handler runs now, as dispatch would
          return;
        }
        if (!immediate) {
          // A batch (a close's wakes, a kicked driver's steps) started inside this call: the
          // handler runs right after it, in its executor's frame, still inside this call.
          tag_ = tag;
          node_.run = &asio_op::run_framed;
          if (handoff_after_batch(&node_, runnext_limit)) return;
          node_.run = &asio_op::run_node;
        }
      }
      allocator_type alloc = asio::get_associated_allocator(handler_, asio::recycling_allocator<void>());
      // From another thread, post() may still be signalling the io_context's thread after the
      // handler became visible there: the handler could run, finish the program's last
      // operation, and the io_context be stopped and destroyed while post() still touches it
      // (seen: the timer thread firing a timeout, then an io_context::stop() in a destructor).
      // So that handler first waits until post() has returned and our copies of its executor
      // and allocator are gone (the end of this block: an io_context executor's destructor
      // touches its io_context), and after that this thread touches neither the op nor the
      // io_context. On the executor's own thread that cannot happen before we return.
      if (!here) posted_.store(false, std::memory_order_relaxed);  // published to the handler by post()
      // The posted handler runs as a hand-off frame of its own: what it completes on this
      // thread in turn (its next operation completing at once, a counterpart it wakes) queues
      // behind it instead of going through post() again, within the budgets above, and all
      // of it runs inside this executor's run(), even when an outer drain called run().
      asio::post(ex, asio::bind_allocator(alloc, [this, tag] {
        while (!posted_.load(std::memory_order_acquire)) std::this_thread::yield();  // pairs with the store below
        handoff_frame(&node_, tag);
      }));
    }
    if (!here) posted_.store(true, std::memory_order_release);  // pairs with the handler's load; last touch of *this
  }
  static void run_framed(handoff_node* n) noexcept {
    auto* op = static_cast<asio_op*>(n->ctx);
    n->run = &asio_op::run_node;
    handoff_frame(n, op->tag_);
  }
  // A hand-off runs on the executor's thread but outside its run() loop's handler call: an
  // exception is carried out of run() by a posted rethrow, as if the handler had been posted.
  static void run_node(handoff_node* n) noexcept {
    auto* op = static_cast<asio_op*>(n->ctx);
    executor_type ex = op->executor();
    try {
      op->run();
    } catch (...) {
      asio::post(ex, [e = std::current_exception()] { std::rethrow_exception(e); });
    }
  }

  void run() {
    if (slot_.is_connected()) slot_.clear();
    const alt_pick p = this->pick();
    boost::system::error_code ec;
    if (p.st == status::cancelled) ec = asio::error::operation_aborted;
    struct cleanup {
      asio_op* op;
      ~cleanup() {
        if (op) op->delete_op();
      }
    } guard{this};
    auto result = payload_.result(p);  // may run an alternation clause's handler
    allocator_type alloc = asio::get_associated_allocator(handler_, asio::recycling_allocator<void>());
    Handler h(std::move(handler_));
    work_hold<executor_type> work(std::move(work_));  // held until the upcall returns
    guard.op = nullptr;
    delete_op(alloc);  // before the upcall, so the handler may start the next operation in its memory
    std::move(h)(ec, std::move(result));
  }

  Handler handler_;
  work_hold<executor_type> work_;  // only while the op waits
  std::atomic<bool> posted_{true};  // false while a post() from another thread is under way
  asio::cancellation_slot slot_;
  handoff_node node_;
  const void* tag_ = nullptr;  // the executor's frame tag, for run_framed
  Payload payload_;
};

// Payload of ch.async_recv(token): a receive clause on the initiating handle (alive while the
// initiation runs), re-pointed at a handle the op keeps once it has to wait (keep()): an op
// done at once never touches the channel's reference count.
template <class T>
class recv_payload {
 public:
  recv_payload(channel<T>& ch, internal::deadline d) : c_(ch, no_handler{}), d_(d) {}
  recv_payload(channel<T>&& ch, internal::deadline d) : c_(ch, no_handler{}), d_(d) {}
  // A const handle (a deferred operation invoked as an lvalue): kept from the start.
  recv_payload(const channel<T>& ch, internal::deadline d) : keep_(ch), c_(*keep_, no_handler{}), d_(d) {}
  void keep() {
    if (keep_) return;
    keep_.emplace(*clause_access::handle(c_));
    clause_access::handle(c_) = &*keep_;
  }
  void prepare(async_op& op) noexcept {
    ref_ = clause_ref{clause_access::erased(c_), clause_access::vtable<recv_clause<T, no_handler>>(), 0};
    op.setup(&ref_, &offer_, &order_, 1, false, d_);
  }
  recv_result<T> result(const alt_pick& p) { return recv_result<T>(p.st, std::move(clause_access::value(c_))); }

 private:
  std::optional<channel<T>> keep_;
  recv_clause<T, no_handler> c_;
  internal::deadline d_;
  clause_ref ref_{};
  offer offer_{};
  std::uint32_t order_ = 0;
};

// Payload of ch.async_send(v, token): the value, owned, moved out only if the send commits.
// The channel handle as recv_payload's.
template <class T>
class send_payload {
 public:
  send_payload(channel<T>& ch, T&& v, internal::deadline d) : value_(std::move(v)), c_(ch, std::move(value_), no_handler{}), d_(d) {}
  send_payload(channel<T>&& ch, T&& v, internal::deadline d) : value_(std::move(v)), c_(ch, std::move(value_), no_handler{}), d_(d) {}
  void keep() {
    keep_.emplace(*clause_access::handle(c_));
    clause_access::handle(c_) = &*keep_;
  }
  void prepare(async_op& op) noexcept {
    ref_ = clause_ref{clause_access::erased(c_), clause_access::vtable<send_clause<T, T&&, no_handler>>(), 0};
    op.setup(&ref_, &offer_, &order_, 1, false, d_);
  }
  status result(const alt_pick& p) const noexcept { return p.st; }

 private:
  std::optional<channel<T>> keep_;
  T value_;
  send_clause<T, T&&, no_handler> c_;
  internal::deadline d_;
  clause_ref ref_{};
  offer offer_{};
  std::uint32_t order_ = 0;
};

// Payload of async_alt(token, clauses...): a clause set already owning its values.
template <class... C>
class alt_payload {
 public:
  alt_payload(bool fair, clause_set<C...>&& set) : set_(std::move(set)), fair_(fair) {}
  void keep() noexcept {}  // the set owns its channels already
  void prepare(async_op& op) {
    set_.collect();
    set_.setup(op, fair_);
  }
  alt_result result(const alt_pick& p) { return set_.finish(p); }

 private:
  clause_set<C...> set_;
  bool fair_;
};

template <class Payload, class Sig>
struct initiate {
  template <class Handler, class... A>
  void operator()(Handler&& h, A&&... a) const {
    asio_op<Payload, std::decay_t<Handler>>::launch(std::forward<Handler>(h), std::forward<A>(a)...);
  }
};

template <class T, class U>
T value_for_send(U&& v) {
  return T(std::forward<U>(v));  // copies an lvalue, moves an rvalue, converts another type
}

// The native awaiters as Asio operations (see single_awaiter::operator()). Awaited in an
// asio::awaitable, the awaiter is the co_await's temporary (Boost 1.81's awaitable_async_op
// holds it by reference), alive until the handler resumes the coroutine; stored by value
// elsewhere (a parallel_group) it was moved, and owns its value by then. The payload points at
// the channel handle the awaiter points at and copies it once the operation has to wait, as
// the token forms do; a value being sent is taken by the operation when it starts.
// The token forms' one initiation each (the channel members below and as_asio call them).
template <class Token, class T>
auto initiate_recv(Token& token, channel<T>& ch, internal::deadline d) {
  using Sig = void(boost::system::error_code, recv_result<T>);
  return boost::asio::async_initiate<Token, Sig>(initiate<recv_payload<T>, Sig>{}, token, ch, d);
}
template <class Token, class T>
auto initiate_send(Token& token, channel<T>& ch, T&& value, internal::deadline d) {
  using Sig = void(boost::system::error_code, status);
  return boost::asio::async_initiate<Token, Sig>(initiate<send_payload<T>, Sig>{}, token, ch, std::move(value), d);
}
template <class Token, class T>
auto as_asio(Token& token, recv_clause<T, no_handler>& c, internal::deadline d) {
  return initiate_recv<Token>(token, *clause_access::handle(c), d);
}
template <class Token, class T, class U>
auto as_asio(Token& token, send_clause<T, U, no_handler>& c, internal::deadline d) {
  return initiate_send<Token>(token, *clause_access::handle(c), clause_access::take_value(c), d);
}

template <class Clause, bool Stoppable>
template <class Token>
  requires(!Stoppable && boost::asio::completion_token_for<Token, typename asio_signature<Clause>::type>)
auto single_awaiter<Clause, Stoppable>::operator()(Token&& token) && {
  return internal::as_asio<Token>(token, c_, d_);
}

template <bool Stoppable, class... C>
template <class Token>
  requires(!Stoppable && boost::asio::completion_token_for<Token, void(boost::system::error_code, alt_result)>)
auto alt_awaiter<Stoppable, C...>::operator()(Token&& token) && {
  using Sig = void(boost::system::error_code, alt_result);
  set_.own();  // the token forms' rule: the operation keeps its channels and owns its values
  return boost::asio::async_initiate<Token, Sig>(initiate<alt_payload<C...>, Sig>{}, token, fair_, std::move(set_));
}

}  // namespace internal

// ---- Channel members ---------------------------------------------------------------------

template <class T>
template <class U>
auto channel<T>::async_send(U&& value) {
  return internal::single_awaiter<send_clause<T, U&&, internal::no_handler>>(
      send_clause<T, U&&, internal::no_handler>(*this, std::forward<U>(value), {}), internal::deadline::never(), {});
}
template <class T>
template <class U>
auto channel<T>::async_send(U&& value, std::stop_token stop) {
  return internal::single_awaiter<send_clause<T, U&&, internal::no_handler>, true>(
      send_clause<T, U&&, internal::no_handler>(*this, std::forward<U>(value), {}), internal::deadline::never(),
      std::move(stop));
}
template <class T>
template <class U, class Rep, class Period>
auto channel<T>::async_send_for(U&& value, std::chrono::duration<Rep, Period> timeout) {
  return internal::single_awaiter<send_clause<T, U&&, internal::no_handler>>(
      send_clause<T, U&&, internal::no_handler>(*this, std::forward<U>(value), {}), internal::deadline::after(timeout),
      {});
}
template <class T>
template <class U, class Rep, class Period>
auto channel<T>::async_send_for(U&& value, std::chrono::duration<Rep, Period> timeout, std::stop_token stop) {
  return internal::single_awaiter<send_clause<T, U&&, internal::no_handler>, true>(
      send_clause<T, U&&, internal::no_handler>(*this, std::forward<U>(value), {}), internal::deadline::after(timeout),
      std::move(stop));
}
template <class T>
auto channel<T>::async_recv() {
  return internal::single_awaiter<recv_clause<T, internal::no_handler>>(
      recv_clause<T, internal::no_handler>(*this, {}), internal::deadline::never(), {});
}
template <class T>
auto channel<T>::async_recv(std::stop_token stop) {
  return internal::single_awaiter<recv_clause<T, internal::no_handler>, true>(
      recv_clause<T, internal::no_handler>(*this, {}), internal::deadline::never(), std::move(stop));
}
template <class T>
template <class Rep, class Period>
auto channel<T>::async_recv_for(std::chrono::duration<Rep, Period> timeout) {
  return internal::single_awaiter<recv_clause<T, internal::no_handler>>(
      recv_clause<T, internal::no_handler>(*this, {}), internal::deadline::after(timeout), {});
}
template <class T>
template <class Rep, class Period>
auto channel<T>::async_recv_for(std::chrono::duration<Rep, Period> timeout, std::stop_token stop) {
  return internal::single_awaiter<recv_clause<T, internal::no_handler>, true>(
      recv_clause<T, internal::no_handler>(*this, {}), internal::deadline::after(timeout), std::move(stop));
}

template <class T>
template <class U, internal::not_stop_token Token>
auto channel<T>::async_send(U&& value, Token&& token) {
  return internal::initiate_send<Token>(token, *this, internal::value_for_send<T>(std::forward<U>(value)),
                                        internal::deadline::never());
}
template <class T>
template <class U, class Rep, class Period, internal::not_stop_token Token>
auto channel<T>::async_send_for(U&& value, std::chrono::duration<Rep, Period> timeout, Token&& token) {
  return internal::initiate_send<Token>(token, *this, internal::value_for_send<T>(std::forward<U>(value)),
                                        internal::deadline::after(timeout));
}
template <class T>
template <internal::not_stop_token Token>
auto channel<T>::async_recv(Token&& token) {
  return internal::initiate_recv<Token>(token, *this, internal::deadline::never());
}
template <class T>
template <class Rep, class Period, internal::not_stop_token Token>
auto channel<T>::async_recv_for(std::chrono::duration<Rep, Period> timeout, Token&& token) {
  return internal::initiate_recv<Token>(token, *this, internal::deadline::after(timeout));
}

// ---- Alternation -------------------------------------------------------------------------

// co_await async_alt(clauses...): fair among the ready clauses. The same clauses, guards and
// rules as pri_alt / fair_alt; handlers run in the resumed coroutine.
template <internal::alt_clause... C>
auto async_alt(C&&... clauses) {
  return internal::alt_awaiter<false, std::remove_cvref_t<C>...>(true, {}, std::forward<C>(clauses)...);
}
template <internal::alt_clause... C>
auto async_alt(std::stop_token stop, C&&... clauses) {
  return internal::alt_awaiter<true, std::remove_cvref_t<C>...>(true, std::move(stop), std::forward<C>(clauses)...);
}
// co_await async_pri_alt(clauses...): the first ready clause in the order given.
template <internal::alt_clause... C>
auto async_pri_alt(C&&... clauses) {
  return internal::alt_awaiter<false, std::remove_cvref_t<C>...>(false, {}, std::forward<C>(clauses)...);
}
template <internal::alt_clause... C>
auto async_pri_alt(std::stop_token stop, C&&... clauses) {
  return internal::alt_awaiter<true, std::remove_cvref_t<C>...>(false, std::move(stop), std::forward<C>(clauses)...);
}

// ---- The hand-off queue as a run loop ----------------------------------------------------

// Call f() as one step of this thread's hand-off queue, then run what it queued: coroutines
// whose operations complete on this thread meanwhile run after f returns (the last woken
// first, then the others in the order they were woken), not inside the call that completed
// them; returns once the queue is empty. This is Go's "the
// woken goroutine runs next, after the waker yields": a producer started inside it fills a
// buffer without resuming its consumer after every message. Inside a hand-off already (in a
// resumed coroutine), it just calls f. An exception from f propagates after the queue drained.
template <class F>
void run_handoffs(F&& f) {
  if (internal::handoff_active()) {
    std::forward<F>(f)();
    return;
  }
  struct step : internal::handoff_node {
    std::remove_reference_t<F>* fn;
    std::exception_ptr error;
  } s;
  s.fn = std::addressof(f);
  s.run = [](internal::handoff_node* n) noexcept {
    auto* self = static_cast<step*>(n);
    try {
      (*self->fn)();
    } catch (...) {
      self->error = std::current_exception();
    }
  };
  internal::handoff(&s);
  if (s.error) std::rethrow_exception(s.error);
}

// async_alt(token, clauses...): void(boost::system::error_code, alt_result).
namespace internal {
template <class Token, class... C>
auto initiate_alt(bool fair, Token&& token, C&&... clauses) {
  using P = alt_payload<std::remove_cvref_t<C>...>;
  clause_set<std::remove_cvref_t<C>...> set(std::forward<C>(clauses)...);
  set.own();  // now, while the caller's values and channels surely exist (a deferred token waits)
  return boost::asio::async_initiate<Token, void(boost::system::error_code, alt_result)>(
      initiate<P, void(boost::system::error_code, alt_result)>{}, token, fair, std::move(set));
}
}  // namespace internal

template <class Token, internal::alt_clause... C>
  requires(!internal::alt_clause<Token> && internal::not_stop_token<Token>)
auto async_alt(Token&& token, C&&... clauses) {
  return internal::initiate_alt(true, std::forward<Token>(token), std::forward<C>(clauses)...);
}
template <class Token, internal::alt_clause... C>
  requires(!internal::alt_clause<Token> && internal::not_stop_token<Token>)
auto async_pri_alt(Token&& token, C&&... clauses) {
  return internal::initiate_alt(false, std::forward<Token>(token), std::forward<C>(clauses)...);
}

}  // namespace sluice

// ---- Ports whose body is a coroutine -------------------------------------------------------
#include "sluice/mp.hpp"

namespace sluice::mp {

// The mailbox of a port_co port: port_async's selective receive (Coro::MP), awaited. Only the
// port's own coroutine may use it. Once the port is killed from outside, every call throws
// port_killed (which ends the body quietly).
class async_mailbox {
 public:
  // The next message in arrival order.
  boost::asio::awaitable<message> async_get();
  // The next message whose element 0 is `tag`, waiting at most `timeout`; nullopt on timeout.
  boost::asio::awaitable<std::optional<message>> async_get(std::string tag, std::chrono::nanoseconds timeout);
  // The first queued or arriving message for which pred is true, waiting at most `timeout`.
  boost::asio::awaitable<std::optional<message>> async_get_cond(std::function<bool(const message&)> pred,
                                                                std::chrono::nanoseconds timeout);
  // Any tag a std::string can be made from (a std::string, a literal, a string_view), any
  // duration. (A string_view parameter here made `async_get(a_std_string, 5s)` ambiguous.)
  template <class Tag, class Rep, class Period>
    requires std::is_constructible_v<std::string, Tag&&>
  boost::asio::awaitable<std::optional<message>> async_get(Tag&& tag, std::chrono::duration<Rep, Period> timeout) {
    return async_get(std::string(std::forward<Tag>(tag)), sluice::internal::saturating_ns(timeout));
  }
  template <class Rep, class Period>
  boost::asio::awaitable<std::optional<message>> async_get_cond(std::function<bool(const message&)> pred,
                                                                std::chrono::duration<Rep, Period> timeout) {
    return async_get_cond(std::move(pred), sluice::internal::saturating_ns(timeout));
  }
  std::size_t size() const;           // messages queued now (a snapshot)
  const port_id& self() const noexcept { return self_; }  // this port (mp::self() is per thread)

  async_mailbox(std::shared_ptr<detail::mailbox_state> s, port_id self) : s_(std::move(s)), self_(std::move(self)) {}

 private:
  std::shared_ptr<detail::mailbox_state> s_;
  port_id self_;
};

// A port whose body is a coroutine on `ex` (co_spawn'ed there), with an awaitable mailbox.
// No thread is held while the body waits. When the body returns the port is killed normally;
// when it throws, it is killed with ["die", what()]; a kill from outside makes the mailbox's
// calls throw port_killed.
port_id port_co(boost::asio::any_io_executor ex, std::function<boost::asio::awaitable<void>(async_mailbox&)> body);

template <class ExecutionContext>
  requires std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>
port_id port_co(ExecutionContext& ctx, std::function<boost::asio::awaitable<void>(async_mailbox&)> body) {
  return port_co(boost::asio::any_io_executor(ctx.get_executor()), std::move(body));
}

}  // namespace sluice::mp
