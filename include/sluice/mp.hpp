// sluice/mp.hpp - ports, monitors and selective receive (AnyEvent::MP, Coro::MP, Erlang),
// within one process. Namespace sluice::mp.
//
// A port is an address that messages are sent to by id. Messages are JSON arrays
// (nlohmann::json), element 0 usually a tag string: snd(p, {"ping", 42, self()}).
//
//   auto p = port([](const message& m) { ... });       // default handler
//   rcv(p, "ping", [](const message& rest) { ... });   // tag handler: message without its tag
//   snd(p, {"ping", 1});                                // never blocks
//   auto m = mon(p, [](const message& reason) { ... }); // one-shot, m.cancel() stops it
//   kil(p, {"bored"});                                  // abnormal death; kil(p) is normal
//
// Scheduling: handlers of one port run one at a time, in arrival order, on a pool of worker
// threads (set_scheduler_threads before first use; default: hardware threads). Messages
// between a pair of ports (or from one thread to a port) keep their order. An exception
// escaping a handler kills the port with reason ["die", what()]. A message that finds no
// handler (no matching tag handler and no default) kills the port with ["die", "no handler
// for message", message].
//
// Ports die once. A port's death is reported to its monitors with the reason: empty for a
// normal death. snd to a dead (or never existing) port is silently dropped; mon on one fires
// promptly with ["no_such_port"]. Port ids are never reused. A bounded port (set_bound) whose
// mailbox overflows is killed with ["overflow"], which its monitors see: nothing is dropped
// silently.
//
// port_async runs a body on its own thread with a mailbox for selective receive
// (Coro::MP): get() takes the next message, get(tag, timeout) the next with that tag (found
// through a per-tag index, without scanning the rest), get_cond(pred, timeout) the first that
// matches; everything passed over stays queued in order. A timeout too long to represent
// (nanoseconds::max(), hours::max(), 300 years) waits without limit. The body returning
// kills the port normally; throwing kills it with ["die", what()]. If the port is killed
// from outside, the mailbox's waiting calls throw sluice::mp::port_killed.
//
// Names: node ids and port ids are printable ("NODE#NAME") and cross the network as strings
// (<sluice/node.hpp>); spawn takes a node id: this one, or another once configure() ran.
//
// Thread-safety: every function may be called from any thread. Callbacks (handlers, monitor
// callbacks, spawn init functions, psub bodies) run on scheduler threads with self() set.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "sluice/internal/deadline.hpp"

namespace sluice::mp {

using message = nlohmann::json;

// A port's address: its node and its name, printed "NODE#NAME". Ports made in this process
// are numbered (the name is the decimal number); ports of other nodes may have any name (an
// AnyEvent::MP node names its ports with random alphanumerics, and well-known ports with
// words: "nodeA#echo").
class port_id {
 public:
  port_id() = default;  // refers to no port
  port_id(std::string node, std::uint64_t id)
      : node_(std::move(node)), name_(id ? std::to_string(id) : std::string()), id_(id) {}
  port_id(std::string node, std::string name) : node_(std::move(node)), name_(std::move(name)), id_(number(name_)) {}

  const std::string& node() const noexcept { return node_; }
  const std::string& name() const noexcept { return name_; }
  std::uint64_t id() const noexcept { return id_; }  // the number if the name is one, else 0
  std::string str() const { return node_ + "#" + name_; }
  bool valid() const noexcept { return !name_.empty(); }

  // Parses "NODE#NAME" (split at the first '#', as AnyEvent::MP does); throws
  // std::invalid_argument for a missing '#', an empty node or an empty name.
  static port_id parse(std::string_view s);

  friend bool operator==(const port_id& a, const port_id& b) noexcept {
    return a.id_ == b.id_ && a.name_ == b.name_ && a.node_ == b.node_;
  }

 private:
  // The decimal number a name spells (no sign, no leading zero, fits 64 bits), else 0.
  static std::uint64_t number(const std::string& name) noexcept {
    if (name.empty() || name.size() > 19 || name[0] == '0') return 0;
    std::uint64_t v = 0;
    for (char c : name) {
      if (c < '0' || c > '9') return 0;
      v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return v;
  }

  std::string node_;
  std::string name_;
  std::uint64_t id_ = 0;
};

// A port id in a message is its string.
void to_json(message& j, const port_id& p);
void from_json(const message& j, port_id& p);

// This process's node id, unique per process start.
std::string node_id();

// Ports.
port_id port();                                              // no handler yet
port_id port(std::function<void(const message&)> on_message);  // with a default handler
port_id rcv(const port_id& p, std::function<void(const message&)> on_message);
port_id rcv(const port_id& p, std::string tag, std::function<void(const message& rest)> on_tag);  // empty f unregisters
void snd(const port_id& p, message msg);
void kil(const port_id& p, message reason = message::array());
const port_id& self();  // throws std::logic_error outside a port context

// Bound a port's queue of unprocessed messages; overflowing it kills the port with
// ["overflow"]. 0 means unbounded (the default). (A run of messages from another node that
// was already queued, as one task, when the bound was set counts as one.)
void set_bound(const port_id& p, std::size_t max_queued);

// Size of the scheduler's worker pool; takes effect if called before the first port exists.
void set_scheduler_threads(unsigned n);

class monitor {
 public:
  monitor() = default;
  void cancel();  // the monitor will not fire (if it has not already)
  struct state;

 private:
  friend monitor make_monitor(std::shared_ptr<state>);
  std::shared_ptr<state> s_;
};

monitor mon(const port_id& p, std::function<void(const message& reason)> on_death);
monitor mon(const port_id& p, const port_id& other);               // kil other with the reason, if abnormal
monitor mon(const port_id& p, const port_id& other, message msg);  // snd other msg + reason's elements

// Spawning by name.
void register_function(std::string qualified_name, std::function<void(const message& args)> init);
port_id spawn(const std::string& node, const std::string& qualified_name, message args = message::array());

namespace detail {
port_id psub_self();  // self(), with psub's error message
void psub_run(const port_id& owner, const std::function<void()>& body);
}  // namespace detail

// AnyEvent::MP's psub: returns a callable that, when called later from any thread (a timer,
// another library's callback), runs f on that thread with self() set to the port that was
// current when psub was called, passing its arguments through; if f throws, that port is
// killed with ["die", what()]. If the port is dead by then, f does not run. Note: the call
// is not serialized with the port's handlers (it runs on the caller's thread, as in
// AnyEvent::MP's single-threaded world). Must be called in a port context.
template <class F>
auto psub(F f) {
  port_id owner = detail::psub_self();
  return [owner, f = std::move(f)](auto&&... args) mutable {
    detail::psub_run(owner, [&] { f(std::forward<decltype(args)>(args)...); });
  };
}

// Thrown by a mailbox's waiting calls once its port has been killed from outside.
class port_killed : public std::runtime_error {
 public:
  explicit port_killed(message reason);
  const message& reason() const noexcept { return reason_; }

 private:
  message reason_;
};

namespace detail {
struct mailbox_state;
}

class mailbox {
 public:
  message get();  // next message in arrival order (blocks)
  std::optional<message> get(std::string_view tag, std::chrono::nanoseconds timeout);  // next with this tag
  std::optional<message> get_cond(std::function<bool(const message&)> pred, std::chrono::nanoseconds timeout);
  // Any other duration type converts saturating: too long to represent means no timeout.
  template <class Rep, class Period>
  std::optional<message> get(std::string_view tag, std::chrono::duration<Rep, Period> timeout) {
    return get(tag, sluice::internal::saturating_ns(timeout));
  }
  template <class Rep, class Period>
  std::optional<message> get_cond(std::function<bool(const message&)> pred,
                                  std::chrono::duration<Rep, Period> timeout) {
    return get_cond(std::move(pred), sluice::internal::saturating_ns(timeout));
  }
  std::size_t size() const;  // messages queued now (a snapshot)

  explicit mailbox(std::shared_ptr<detail::mailbox_state> s) : s_(std::move(s)) {}

 private:
  std::shared_ptr<detail::mailbox_state> s_;
};

port_id port_async(std::function<void(mailbox&)> body);

}  // namespace sluice::mp

template <>
struct std::hash<sluice::mp::port_id> {
  std::size_t operator()(const sluice::mp::port_id& p) const noexcept {
    return std::hash<std::string>{}(p.name()) ^ (std::hash<std::string>{}(p.node()) << 1);
  }
};
