// The in-process runtime behind sluice/mp.hpp (private header).
//
// Invariants:
//   - The registry maps a port's number to its state; a port is in it from creation until
//     kil removes it, and numbers are never reused (a 64-bit counter), so a message or
//     monitor addressed to a dead port can never reach another one.
//   - A scheduled port's inbox is a sluice unbounded channel (lock-free, many producers).
//     `scheduled` is true while the port is on the run queue or being run: at most one
//     worker runs a port at a time, which is what makes its handlers run one at a time and in
//     arrival order. One task may carry a run of messages from another node (up to 32, see
//     encoded_message); the worker dispatches them in order, and stops at the port's death.
//   - A port's bound counts inbox tasks: a bounded port gets one task per message
//     (snd_encoded), so it counts messages, except runs already queued when set_bound was
//     called, which count one each.
//   - Death is decided once (the `dead` exchange). Monitors attached before it fire once with
//     the reason; monitors attached after it fire with the stored reason; monitors on a port
//     no longer in the registry fire with ["no_such_port"]. Every monitor fires at most once
//     (its own `fired` exchange), and never after cancel().
//   - User callbacks never run under a runtime lock.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <iterator>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "sluice/channel.hpp"
#include "sluice/internal/dispose.hpp"
#include "sluice/mp.hpp"
#include "packed.hpp"

namespace sluice::mp::detail {

using handler = std::function<void(const message&)>;

// Messages still in another node's wire encoding, for one port: `count` of them in `bytes`,
// each its length (a std::size_t, host order) followed by its encoded form. The worker that runs the
// port decodes each (decode) just before dispatching it, so one thread allocates the message's
// tree and frees it (see aemp::incoming); a run of messages to one port travels as one task
// (one inbox slot, one lookup of the port) and is decoded into one reused message.
// decode throws only what allocation throws.
struct encoded_message {
  std::string bytes;
  std::uint32_t count = 0;
  void (*decode)(std::string_view one, message& out) = nullptr;  // out: reused, any value

  // Room for n more messages of `payload` bytes in all (add's layout: each behind its length).
  void reserve(std::size_t payload, std::size_t n) { bytes.reserve(bytes.size() + payload + n * sizeof(std::size_t)); }
  void add(std::string_view one) {
    const std::size_t n = one.size();
    bytes.append(reinterpret_cast<const char*>(&n), sizeof n);
    bytes.append(one);
    ++count;
  }
  // f(one) for each message, in order, until f returns false.
  template <class F>
  void each(F&& f) const {
    std::size_t at = 0;
    for (std::uint32_t i = 0; i < count; ++i) {
      std::size_t n;
      std::memcpy(&n, bytes.data() + at, sizeof n);
      at += sizeof n;
      if (!f(std::string_view(bytes).substr(at, n))) return;
      at += n;
    }
  }
};

// A unit of work for a port: a message to dispatch (decoded, packed by this node's snd, or
// still in another node's encoding), or a function to run as the port (spawn's init, psub
// bodies).
using task = std::variant<message, std::function<void()>, encoded_message, packed_message>;
static_assert(sizeof(packed_message) <= sizeof(encoded_message), "a packed task needs no bigger inbox slot");

struct mailbox_state;

}  // namespace sluice::mp::detail

namespace sluice::mp {

monitor make_monitor(std::shared_ptr<monitor::state> s);

struct monitor::state {
  enum class kind { callback, kill_other, send_other };
  kind k = kind::callback;
  std::function<void(const message&)> on_death;
  port_id other;
  message msg;
  port_id creator;  // self() while the callback runs (when created in a port context)
  std::atomic<bool> fired{false};
  std::atomic<bool> cancelled{false};
  // Run once by the first cancel() (another node's port: tell that node, mon0). Set before
  // the monitor's handle is handed out, never changed after.
  std::function<void()> on_cancel;
};

}  // namespace sluice::mp

namespace sluice::mp::detail {

using monitor_state = monitor::state;

struct port_state : std::enable_shared_from_this<port_state> {
  port_id id;
  channel<task> inbox{unbounded};
  std::atomic<std::size_t> bound{0};
  std::atomic<bool> scheduled{false};
  std::atomic<bool> dead{false};
  std::shared_ptr<mailbox_state> mbox;  // set for port_async ports: messages go there

  std::mutex m;  // guards the handlers, monitors and reason below
  std::atomic<std::uint64_t> handlers_version{0};  // bumped (under m) by every rcv
  std::shared_ptr<handler> deflt;
  std::unordered_map<std::string, std::shared_ptr<handler>> tags;
  std::vector<std::shared_ptr<monitor_state>> monitors;
  message reason;  // once dead
  bool reason_set = false;

  // The running worker's copy of the handlers (only the worker running the port touches
  // these; the scheduled flag and the run queue order one run before the next).
  std::uint64_t seen_version = ~std::uint64_t{0};
  std::shared_ptr<handler> seen_deflt;
  std::unordered_map<std::string, std::shared_ptr<handler>> seen_tags;
};

// This process's node id, without a copy (node_id() returns one). Fixed at its first use;
// set_node_id (configure) may choose it before that and returns false after.
const std::string& this_node();
bool set_node_id(const std::string& id);

// The network layer (sluice/node.hpp) plugs in here. Without it other nodes' ports are
// unreachable: snd drops, mon fires ["no_such_port"], kil does nothing.
struct remote_hooks {
  virtual ~remote_hooks() = default;
  virtual void send(const port_id& p, message msg) = 0;
  virtual void kill(const port_id& p, message reason) = 0;
  virtual void monitor(const port_id& p, std::shared_ptr<monitor_state> m) = 0;
  virtual port_id spawn(const std::string& node, const std::string& qualified_name, message args) = 0;
};
void set_remote(remote_hooks* r);  // once, by configure; never unset
remote_hooks* remote();

// snd for messages still encoded, to this node's port p: false, with m untouched, if p
// takes only decoded messages (a port_async or port_co mailbox, which looks into each message
// as it arrives); the caller then decodes each and calls snd. A port with a bound gets them
// one task each (the bound counts messages).
bool snd_encoded(const port_id& p, encoded_message& m);

// Registry.
std::shared_ptr<port_state> find(const port_id& p);
std::shared_ptr<port_state> create_port();
port_id create_port_with_mailbox(std::shared_ptr<mailbox_state> mb);
std::shared_ptr<port_state> create_named_port(const std::string& name);  // throws if taken or a number
// Runs the registered function `qualified_name` as port ps's first task (spawn).
void start_spawned(const std::shared_ptr<port_state>& ps, const std::string& qualified_name, message args);
bool remove(const port_id& p);

// Scheduler.
void schedule(port_state& ps);
void push_task(port_state& ps, task t);  // into a scheduled port's inbox (its bound applies), then schedule
port_state* cached(const port_id& p);        // find, through a per-thread cache (which keeps the state alive)
port_state* cached_named(const port_id& p);  // likewise, for a named port
void post(std::function<void()> f);  // run f once on a worker (monitor callbacks)
// Whether a message pushed to ps now would most likely be dispatched by this thread (a
// worker whose schedule(ps) would make ps its runnext). A racy hint.
bool likely_runs_here(const port_state& ps);
void run_port(const std::shared_ptr<port_state>& ps);  // a worker's turn at a port

// Death.
void fire(const std::shared_ptr<monitor_state>& m, const message& reason);

// Moves the elements pred picks from v to out, for the caller to destroy once its lock is
// released: a user's callback (and what it captured) is never destroyed under a port's or a
// node's lock, where a destructor that calls back into sluice would deadlock.
template <class T, class Pred>
void move_out_if(std::vector<T>& v, std::vector<T>& out, Pred pred) {
  auto first_out = std::stable_partition(v.begin(), v.end(), [&](const T& x) { return !pred(x); });
  out.reserve(out.size() + static_cast<std::size_t>(v.end() - first_out));  // the moves cannot throw
  std::move(first_out, v.end(), std::back_inserter(out));
  v.erase(first_out, v.end());
}

// Empties a message bottom-up before it is destroyed (sluice/internal/dispose.hpp): for a
// message the port layer owns once its handler has returned, a malloc and a free less.
using sluice::internal::dispose;

// The thread's current port (self()).
struct current_port {
  explicit current_port(const port_id* p);
  ~current_port();
  const port_id* saved;
};

// Selective-receive mailbox of a port_async port.
struct mailbox_state {
  struct entry {
    std::uint64_t seq;
    message msg;
  };
  mutable std::mutex m;  // guards everything below
  std::list<entry> arrival;  // every queued message, in arrival order
  std::unordered_map<std::string, std::deque<std::list<entry>::iterator>> by_tag;  // per-tag, in order
  std::uint64_t next_seq = 0;
  bool killed = false;
  message reason;
  channel<int> doorbell{1, overflow::drop_newest};  // rung on every arrival and on kill

  void push(message msg);
  void kill(message reason);
  std::size_t size_hint() const;
};

// Taking messages out of a mailbox (the caller holds mb.m): the oldest; the oldest with this
// tag; the oldest at or after sequence `seen` that pred accepts (else `seen` moves past all).
message take_first(mailbox_state& mb);
std::optional<message> take_tagged(mailbox_state& mb, const std::string& tag);
std::optional<message> take_matching(mailbox_state& mb, const std::function<bool(const message&)>& pred,
                                     std::uint64_t& seen);

}  // namespace sluice::mp::detail
