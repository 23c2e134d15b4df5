// sluice/alt.hpp - alternation: perform exactly one of many channel operations.
//
// occam's ALT, Calispel's PRI-ALT / FAIR-ALT, Go's select:
//
//   sluice::pri_alt(
//       sluice::on_recv(requests, [&](Request r) { serve(r); }),
//       sluice::on_send(replies, reply, [&] { ++sent; }).when(have_reply),
//       sluice::otherwise(100ms, [&] { idle(); }));
//
// Clauses:
//   on_recv(ch, f)        receive from ch; f takes T (called only with a value) or
//                         recv_result<T> (also called with status closed), or nothing.
//   on_send(ch, v, f)     send v on ch; f() runs after the send. v is moved from only if this
//                         clause commits (an lvalue is copied then, and never moved from).
//   clause.when(b)        guard: when b is false the clause is left out.
//   otherwise(f)          no clause ready now: run f instead (a zero timeout).
//   otherwise(d, f)       no clause ready within d: run f.
//   on_send(ch, v), otherwise(d): the same with nothing to run.
//
// pri_alt performs the first ready clause in the order given; fair_alt picks uniformly at
// random among the ready ones. Both return {index, status}: the position of the clause that
// ran among all arguments (otherwise counted too) and ok, closed (its channel is closed; a
// send clause then keeps its value and its handler is not called) or timeout (otherwise ran).
// With no enabled clause, otherwise runs at once; with no otherwise either the result is
// {npos, status::empty} at once.
//
// Blocking: without otherwise, blocks until one clause can proceed. Handlers run on the
// calling thread after the commit, outside every internal lock; an exception from a handler
// propagates to the caller (the clause has still been performed).
//
// Commit: all clauses share one waiter state word, so a counterpart commits a blocked
// alternation with one CAS and at most one clause is ever performed. No global lock, no two
// channel locks held at once, and an alternation never pairs its own send with its own receive.
//
// Lossy channels: a send clause on a drop_oldest channel is always ready (it evicts); on a
// drop_newest channel it is ready only when there is room, like a blocking send.
//
// Thread-safety: an alternation object (and each clause object) is used by one thread at a
// time; the channels in it may be shared freely. Memory ordering is that of the channel
// operation performed.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "sluice/channel.hpp"
#include "sluice/internal/alt_engine.hpp"
#include "sluice/timer.hpp"

namespace sluice {

inline constexpr std::size_t npos = static_cast<std::size_t>(-1);

struct alt_result {
  std::size_t index;
  sluice::status status;
};

class alternation;

namespace internal {
template <class... C>
alt_result run_clauses(bool fair, C&... cs);
struct clause_access;  // the awaitable forms' view of a clause (async.hpp)
}  // namespace internal

namespace internal {

// The parts of a receive clause that depend only on T: one set of engine functions per T,
// shared by every handler type (fewer indirect-branch targets and less code per call site).
template <class T>
class recv_core {
 protected:
  explicit recv_core(channel<T>& ch) : handle_(&ch), core_(core_of(ch)) {}

  static recv_core* self(void* c) { return static_cast<recv_core*>(c); }
  static status try_now(void* c) {
    self(c)->val_.reset();
    return self(c)->core_->recv(self(c)->val_, deadline::now());
  }
  static void* slot(void* c) {
    self(c)->val_.reset();
    return &self(c)->val_;
  }
  static bool publish(void* c, offer* o, const waiter* w) { return self(c)->core_->enlist_ready(o, false, w); }
  static void delist(void* c, offer* o) { self(c)->core_->delist(o, false); }
  static bool hint(void* c) { return self(c)->core_->hint(false); }
  static bool hands_off(void* c) { return self(c)->core_->hands_off(); }
  static bool probe(void* c, std::uint64_t& stamp) { return self(c)->core_->probe(false, stamp); }

  channel<T>* handle_;  // the caller's handle (an alternation re-points it at its own copy)
  chan<T>* core_;       // cached: one pointer less to chase per clause and round
  std::optional<T> val_;
};

// The parts of a send clause that depend only on T.
//
// The value a send clause offers is always one it owns or one it may move from: an lvalue
// is copied in (by the clause's constructor, and by alternation::run before each round), so
// no copy runs once the alternation has started, let alone after a commit.
template <class T>
class send_core {
 protected:
  explicit send_core(channel<T>& ch) : handle_(&ch), core_(core_of(ch)) {}

  // For alternation::add: take ownership of an rvalue the clause only pointed at (the
  // temporary dies with the add() statement). Lvalues stay borrowed.
  void own() {
    if (!owned_ && !copy_) owned_.emplace(std::move(*ptr_));
  }
  // For an operation that outlives the caller's expression (an Asio alternation): own the
  // value outright; an lvalue's copy, made when the clause was, is what will be sent.
  void own_value() {
    own();
    copy_ = false;
  }
  // A copy that cannot throw is made where the value is offered (current); one that can is
  // made before each round of a dynamic alternation (refresh), never once it has started.
  static constexpr bool nothrow_copy = std::is_nothrow_copy_constructible_v<T>;
  bool needs_refresh() const noexcept { return copy_ && !nothrow_copy; }
  // A borrowed lvalue: copy its current value in (before a round; strong guarantee).
  void refresh() {
    if constexpr (std::is_copy_constructible_v<T>) {
      if (!copy_) return;
      T fresh(*ptr_);
      owned_.reset();
      owned_.emplace(std::move(fresh));
    }
  }
  source<T>& current() {
    if constexpr (nothrow_copy) {
      if (copy_) {
        owned_.reset();
        owned_.emplace(*ptr_);  // cannot throw
      }
    }
    src_.emplace(source<T>::moving(owned_ ? *owned_ : *ptr_));
    return *src_;
  }

  static send_core* self(void* c) { return static_cast<send_core*>(c); }
  static status try_now(void* c) { return self(c)->core_->send(self(c)->current(), deadline::now()); }
  static void* slot(void* c) { return &self(c)->current(); }
  static bool publish(void* c, offer* o, const waiter* w) { return self(c)->core_->enlist_ready(o, true, w); }
  static void delist(void* c, offer* o) { self(c)->core_->delist(o, true); }
  static bool hint(void* c) { return self(c)->core_->hint(true); }
  static bool hands_off(void* c) { return self(c)->core_->hands_off(); }
  static bool probe(void* c, std::uint64_t& stamp) { return self(c)->core_->probe(true, stamp); }

  channel<T>* handle_;
  chan<T>* core_;
  T* ptr_ = nullptr;    // the caller's object: moved from on commit (rvalue), or copied (lvalue)
  bool copy_ = false;   // ptr_ is a borrowed lvalue: owned_ holds the copy that is sent
  std::optional<T> owned_;
  std::optional<source<T>> src_;
};

// The guard every clause carries: `.when(b)` (on a temporary or a named clause).
template <class Clause>
class guarded {
 public:
  Clause&& when(bool enabled) && {
    enabled_ = enabled_ && enabled;
    return std::move(static_cast<Clause&>(*this));
  }
  Clause& when(bool enabled) & {
    enabled_ = enabled_ && enabled;
    return static_cast<Clause&>(*this);
  }
  bool enabled() const noexcept { return enabled_; }

 private:
  bool enabled_ = true;
};

}  // namespace internal

template <class T, class F>
class recv_clause : private internal::recv_core<T>, public internal::guarded<recv_clause<T, F>> {
  using base = internal::recv_core<T>;

 public:
  recv_clause(channel<T>& ch, F f) : base(ch), f_(std::move(f)) {}

 private:
  friend class alternation;
  template <class... C>
  friend alt_result internal::run_clauses(bool fair, C&... cs);
  friend struct internal::clause_access;
  static constexpr bool takes_rvalue = std::is_invocable_v<F&, T&&>;
  static constexpr bool takes_value = takes_rvalue || std::is_invocable_v<F&, T&>;  // T, const T&, T&& or T&
  static constexpr bool takes_result = !takes_value && std::is_invocable_v<F&, recv_result<T>&&>;
  static_assert(takes_value || takes_result || std::is_invocable_v<F&>,
                "on_recv handler must take T, recv_result<T>, or nothing");

  void* erased() noexcept { return static_cast<base*>(this); }
  void own() {}  // nothing borrowed but the channel handle (alternation keeps a copy)
  void own_value() {}
  bool needs_refresh() const noexcept { return false; }
  void refresh() {}

  static void fire(void* c, status s) {
    auto* self = static_cast<recv_clause*>(static_cast<base*>(c));
    if constexpr (takes_rvalue) {
      if (s == status::ok) self->f_(std::move(*self->val_));
    } else if constexpr (takes_value) {
      if (s == status::ok) self->f_(*self->val_);
    } else if constexpr (takes_result) {
      self->f_(recv_result<T>(s, std::move(self->val_)));
    } else {
      if (s == status::ok) self->f_();
    }
    self->val_.reset();
  }
  static constexpr internal::clause_vtable vtable{&base::try_now, &base::slot,      &base::publish, &base::delist,
                                                  &base::hint,    &base::hands_off, &fire,          &base::probe};

  F f_;
};

template <class T, class U, class F>
class send_clause : private internal::send_core<T>, public internal::guarded<send_clause<T, U, F>> {
  using base = internal::send_core<T>;

 public:
  send_clause(channel<T>& ch, U&& v, F f) : base(ch), f_(std::move(f)) {
    using V = std::remove_cvref_t<U>;
    if constexpr (std::is_same_v<V, T>) {
      constexpr bool lvalue = std::is_lvalue_reference_v<U> || std::is_const_v<std::remove_reference_t<U>>;
      this->ptr_ = const_cast<T*>(std::addressof(v));
      this->copy_ = lvalue;
      if constexpr (lvalue) this->owned_.emplace(v);  // copy now: a throwing copy commits nothing
    } else if constexpr (std::is_constructible_v<T, const V&>) {
      this->owned_.emplace(static_cast<const V&>(v));  // convert; the caller's object is only read
    } else {
      this->owned_.emplace(std::forward<U>(v));
    }
  }

 private:
  friend class alternation;
  template <class... C>
  friend alt_result internal::run_clauses(bool fair, C&... cs);
  friend struct internal::clause_access;
  static_assert(std::is_invocable_v<F&>, "on_send handler must take no arguments");
  static_assert(!(std::is_same_v<std::remove_cvref_t<U>, T> && std::is_lvalue_reference_v<U>) ||
                    std::is_copy_constructible_v<T>,
                "on_send copies an lvalue: T is move-only, pass std::move(value)");

  void* erased() noexcept { return static_cast<base*>(this); }

  static void fire(void* c, status s) {
    if (s == status::ok) static_cast<send_clause*>(static_cast<base*>(c))->f_();
  }
  static constexpr internal::clause_vtable vtable{&base::try_now, &base::slot,      &base::publish, &base::delist,
                                                  &base::hint,    &base::hands_off, &fire,          &base::probe};

  F f_;
};

template <class F>
class otherwise_clause {
 public:
  otherwise_clause(F f, std::optional<std::chrono::nanoseconds> timeout) : f_(std::move(f)), timeout_(timeout) {}

 private:
  friend class alternation;
  template <class... C>
  friend alt_result internal::run_clauses(bool fair, C&... cs);
  friend struct internal::clause_access;
  internal::deadline deadline() const {
    return timeout_ ? internal::deadline::after(*timeout_) : internal::deadline::now();
  }
  F f_;
  std::optional<std::chrono::nanoseconds> timeout_;
};

template <class T, class F>
recv_clause<T, std::decay_t<F>> on_recv(channel<T>& ch, F&& handler) {
  return recv_clause<T, std::decay_t<F>>(ch, std::forward<F>(handler));
}

template <class T, class U, class F>
send_clause<T, U, std::decay_t<F>> on_send(channel<T>& ch, U&& value, F&& handler) {
  return send_clause<T, U, std::decay_t<F>>(ch, std::forward<U>(value), std::forward<F>(handler));
}

namespace internal {
struct nothing_to_do {
  void operator()() const noexcept {}
};
}  // namespace internal

// on_send(ch, v): a send clause with nothing to run after the send.
template <class T, class U>
send_clause<T, U, internal::nothing_to_do> on_send(channel<T>& ch, U&& value) {
  return send_clause<T, U, internal::nothing_to_do>(ch, std::forward<U>(value), {});
}

// on_recv(ch): a receive clause that drops the value it receives, as Go's `case <-ch:` (the
// result's index and status say that it ran, and whether the channel was closed).
template <class T>
recv_clause<T, internal::nothing_to_do> on_recv(channel<T>& ch) {
  return recv_clause<T, internal::nothing_to_do>(ch, {});
}

// otherwise(d): give up after d with nothing to run (the result's index says it happened).
template <class Rep, class Period>
otherwise_clause<internal::nothing_to_do> otherwise(std::chrono::duration<Rep, Period> timeout) {
  return otherwise_clause<internal::nothing_to_do>({}, internal::saturating_ns(timeout));
}

template <class F>
otherwise_clause<std::decay_t<F>> otherwise(F&& handler) {
  return otherwise_clause<std::decay_t<F>>(std::forward<F>(handler), std::nullopt);
}

template <class Rep, class Period, class F>
otherwise_clause<std::decay_t<F>> otherwise(std::chrono::duration<Rep, Period> timeout, F&& handler) {
  // Saturating: a timeout too long for the clock is "never" (nanoseconds::max()).
  return otherwise_clause<std::decay_t<F>>(std::forward<F>(handler), internal::saturating_ns(timeout));
}

namespace internal {
template <class C>
struct is_otherwise : std::false_type {};
template <class F>
struct is_otherwise<otherwise_clause<F>> : std::true_type {};
}  // namespace internal

template <class... C>
alt_result internal::run_clauses(bool fair, C&... cs) {
  constexpr std::size_t n_other = (std::size_t{0} + ... + internal::is_otherwise<C>::value);
  static_assert(n_other <= 1, "an alternation takes at most one otherwise clause");
  constexpr std::size_t cap = sizeof...(C) - n_other > 0 ? sizeof...(C) - n_other : 1;
  std::array<internal::clause_ref, cap> refs;
  std::array<internal::offer, cap> offers;
  std::array<std::uint32_t, cap> order;
  std::size_t n = 0;
  std::size_t other_index = npos;
  internal::deadline d = internal::deadline::never();
  auto visit = [&](auto& c, std::size_t arg) {
    using Cl = std::remove_cvref_t<decltype(c)>;
    if constexpr (internal::is_otherwise<Cl>::value) {
      other_index = arg;
      d = c.deadline();
    } else {
      if (c.enabled()) refs[n++] = internal::clause_ref{c.erased(), &Cl::vtable, arg};
    }
  };
  [&]<std::size_t... I>(std::index_sequence<I...>) { (visit(cs, I), ...); }(std::index_sequence_for<C...>{});
  if (n == 0 && other_index == npos) return {npos, status::empty};
  internal::alt_pick p = internal::run_alt(refs.data(), offers.data(), order.data(), n, fair, d);
  if (p.pos != npos) {
    refs[p.pos].vt->fire(refs[p.pos].obj, p.st);
    return {refs[p.pos].arg_index, p.st};
  }
  auto run_otherwise = [&](auto& c, std::size_t arg) {
    using Cl = std::remove_cvref_t<decltype(c)>;
    if constexpr (internal::is_otherwise<Cl>::value) {
      if (arg == other_index) c.f_();
    }
  };
  [&]<std::size_t... I>(std::index_sequence<I...>) { (run_otherwise(cs, I), ...); }(std::index_sequence_for<C...>{});
  return {other_index, status::timeout};
}

// Perform the first ready clause in the order given (blocking as described above).
template <class... Clauses>
alt_result pri_alt(Clauses&&... clauses) {
  return internal::run_clauses(false, clauses...);
}

// Perform one ready clause chosen uniformly at random (per-thread generator).
template <class... Clauses>
alt_result fair_alt(Clauses&&... clauses) {
  return internal::run_clauses(true, clauses...);
}

// An alternation whose clauses are chosen at run time (Calispel's OPERATION-ALTERNATE).
// add() copies the clause in: the channel handle is copied (the channel stays alive), an
// rvalue send value is moved into the alternation, an lvalue send value stays borrowed (keep
// it alive while the alternation is used). pri()/fair() may be called again: each call is a
// new round over the same clauses (a send clause whose value was sent sends the moved-from
// object next time; add a fresh alternation for fresh values). No allocation per call.
class alternation {
 public:
  alternation() = default;
  alternation(const alternation&) = delete;
  alternation& operator=(const alternation&) = delete;
  alternation(alternation&&) = default;
  alternation& operator=(alternation&&) = default;

  // Strong guarantee: a failed add (bad_alloc, a throwing copy) leaves the alternation as it
  // was. Everything that can throw happens before the first change.
  template <class Clause>
  std::size_t add(Clause&& c) {
    using Cl = std::remove_cvref_t<Clause>;
    if constexpr (internal::is_otherwise<Cl>::value) {
      if (otherwise_) throw std::logic_error("sluice::alternation: at most one otherwise clause");
      otherwise_ = std::make_unique<other_holder<Cl>>(std::forward<Clause>(c));
      otherwise_index_ = count_;
    } else {
      auto h = std::make_unique<holder<Cl>>(std::forward<Clause>(c));
      bool enabled = h->clause.enabled();
      room_for_one(clauses_);
      if (enabled) {
        room_for_one(refs_);
        room_for_one(offers_);
        room_for_one(order_);
        if (h->clause.needs_refresh()) room_for_one(copies_);
      }
      // Nothing below throws: every vector has room.
      if (enabled) {
        refs_.push_back(internal::clause_ref{h->clause.erased(), &Cl::vtable, count_});
        offers_.emplace_back();
        order_.push_back(0);
        if (h->clause.needs_refresh()) copies_.push_back(h.get());
      }
      clauses_.push_back(std::move(h));
    }
    return count_++;
  }

  alt_result pri() { return run(false); }
  alt_result fair() { return run(true); }
  std::size_t size() const noexcept { return count_; }

 private:
  struct holder_base {
    virtual ~holder_base() = default;
    virtual void refresh() = 0;
  };
  template <class Cl>
  struct holder final : holder_base {
    explicit holder(Cl&& c) : clause(std::move(c)), keep(*clause.handle_) {
      clause.handle_ = &keep;
      clause.own();
    }
    explicit holder(const Cl& c) : clause(c), keep(*clause.handle_) {
      clause.handle_ = &keep;
      clause.own();
    }
    void refresh() override { clause.refresh(); }
    Cl clause;
    std::remove_pointer_t<decltype(Cl::handle_)> keep;
  };

  // Grow geometrically, so that the push_back that follows cannot throw.
  template <class V>
  static void room_for_one(V& v) {
    if (v.size() == v.capacity()) v.reserve(v.capacity() < 4 ? 4 : v.capacity() * 2);
  }
  struct other_base {
    virtual ~other_base() = default;
    virtual internal::deadline deadline() const = 0;
    virtual void fire() = 0;
  };
  template <class Cl>
  struct other_holder final : other_base {
    explicit other_holder(Cl c) : clause(std::move(c)) {}
    internal::deadline deadline() const override { return clause.deadline(); }
    void fire() override { clause.f_(); }
    Cl clause;
  };

  alt_result run(bool fair) {
    if (refs_.empty() && !otherwise_) return {npos, status::empty};
    for (holder_base* h : copies_) h->refresh();  // borrowed lvalues: copy before the round
    internal::deadline d = otherwise_ ? otherwise_->deadline() : internal::deadline::never();
    internal::alt_pick p = internal::run_alt(refs_.data(), offers_.data(), order_.data(), refs_.size(), fair, d);
    if (p.pos != npos) {
      refs_[p.pos].vt->fire(refs_[p.pos].obj, p.st);
      return {refs_[p.pos].arg_index, p.st};
    }
    otherwise_->fire();
    return {otherwise_index_, status::timeout};
  }

  std::vector<std::unique_ptr<holder_base>> clauses_;
  std::vector<internal::clause_ref> refs_;
  std::vector<internal::offer> offers_;
  std::vector<std::uint32_t> order_;
  std::vector<holder_base*> copies_;  // clauses that send a borrowed lvalue whose copy may throw
  std::unique_ptr<other_base> otherwise_;
  std::size_t otherwise_index_ = npos;
  std::size_t count_ = 0;
};

}  // namespace sluice
