// Ports: the registry, snd, rcv, kil, monitors, spawn and psub (see runtime.hpp).
#include <array>
#include <cstdio>
#include <utility>

#include "runtime.hpp"

namespace sluice::mp {
namespace detail {
namespace {

thread_local const port_id* current = nullptr;

// The registry: port number -> state, in shards so that senders to different ports rarely
// meet on one lock.
struct shard {
  std::mutex m;
  std::unordered_map<std::uint64_t, std::shared_ptr<port_state>> ports;
};
constexpr std::size_t shard_count = 32;

// The runtime's globals are never destroyed: port_async threads and workers may still run
// while static destructors do, at process exit.
std::array<shard, shard_count>& shards() {
  static auto* s = new std::array<shard, shard_count>();
  return *s;
}
shard& shard_of(std::uint64_t id) { return shards()[id % shard_count]; }

std::atomic<std::uint64_t> next_id{1};

// Ports with a name instead of a number (named_port, and ports spawned by other nodes, whose
// names the spawning node chooses).
struct named_ports {
  std::mutex m;
  std::unordered_map<std::string, std::shared_ptr<port_state>> ports;
};
named_ports& named() {
  static auto* n = new named_ports();  // never destroyed (see shards)
  return *n;
}

std::atomic<remote_hooks*> remote_layer{nullptr};

struct function_table {
  std::mutex m;
  std::unordered_map<std::string, std::function<void(const message&)>> fns;
};
function_table& functions() {
  static auto* t = new function_table();  // never destroyed (see shards)
  return *t;
}

}  // namespace

std::shared_ptr<port_state> create_port_in(std::shared_ptr<mailbox_state> mb);

void set_remote(remote_hooks* r) { remote_layer.store(r, std::memory_order_release); }  // pairs with remote()
remote_hooks* remote() { return remote_layer.load(std::memory_order_acquire); }  // pairs with set_remote

current_port::current_port(const port_id* p) : saved(current) { current = p; }
current_port::~current_port() { current = saved; }

// A small per-thread cache of recent lookups, so that a stream of snd to one port does not
// take a registry lock (and bump a shared reference count) per message. Entries for dead
// ports are ignored (and replaced); they only delay freeing a dead port's state.
port_state* cached(const port_id& p) {
  struct entry {
    std::uint64_t id = 0;
    std::shared_ptr<port_state> ps;
  };
  thread_local entry cache[16];
  if (p.id() == 0) return cached_named(p);
  entry& e = cache[p.id() % 16];
  if (e.id == p.id() && e.ps && !e.ps->dead.load(std::memory_order_relaxed)) return e.ps.get();  // dead: a hint
  auto ps = find(p);
  e.id = p.id();
  e.ps = ps;
  return ps.get();
}

// The same for named ports (a peer node's messages mostly go to a well-known name). A name
// may be taken again once its port is dead, so a dead entry is looked up afresh. A dead
// port's state holds no user code (kil takes its handlers and monitors, and a worker its
// mail and the worker's handler copies), so letting an entry go runs none.
port_state* cached_named(const port_id& p) {
  struct entry {
    std::string name;
    std::shared_ptr<port_state> ps;
  };
  thread_local entry cache[8];
  entry& e = cache[std::hash<std::string>{}(p.name()) % 8];
  // Relaxed: a hint, paired with no store. A sender ordered after the kill (by a happens-before
  // chain, as when it learned of the new port from the thread that made it) sees the old port
  // dead. One that is not may still deliver to the dead port, where the message is dropped,
  // as one sent just before the kill would be.
  if (e.ps && e.name == p.name() && !e.ps->dead.load(std::memory_order_relaxed)) return e.ps.get();  // a hint, see above
  auto ps = find(p);
  e.name = p.name();
  auto old = std::exchange(e.ps, ps);  // the entry is whole before the old state is let go
  return ps.get();
}

std::shared_ptr<port_state> find(const port_id& p) {
  if (p.node() != this_node()) return nullptr;
  if (p.id() == 0) {
    named_ports& n = named();
    std::lock_guard<std::mutex> g(n.m);
    auto it = n.ports.find(p.name());
    return it == n.ports.end() ? nullptr : it->second;
  }
  shard& s = shard_of(p.id());
  std::lock_guard<std::mutex> g(s.m);
  auto it = s.ports.find(p.id());
  return it == s.ports.end() ? nullptr : it->second;
}

std::shared_ptr<port_state> create_port() { return create_port_in(nullptr); }

port_id create_port_with_mailbox(std::shared_ptr<mailbox_state> mb) { return create_port_in(std::move(mb))->id; }

std::shared_ptr<port_state> create_port_in(std::shared_ptr<mailbox_state> mb) {
  auto ps = std::make_shared<port_state>();
  ps->mbox = std::move(mb);  // before the port is findable
  ps->id = port_id(this_node(), next_id.fetch_add(1));
  shard& s = shard_of(ps->id.id());
  std::lock_guard<std::mutex> g(s.m);
  s.ports.emplace(ps->id.id(), ps);
  return ps;
}

std::shared_ptr<port_state> create_named_port(const std::string& name) {
  if (name.empty()) throw std::invalid_argument("sluice::mp::named_port: an empty name");
  if (port_id(this_node(), name).id() != 0) {
    throw std::invalid_argument("sluice::mp::named_port: \"" + name + "\" is a number, which names numbered ports");
  }
  auto ps = std::make_shared<port_state>();
  ps->id = port_id(this_node(), name);
  named_ports& n = named();
  std::lock_guard<std::mutex> g(n.m);
  if (!n.ports.emplace(name, ps).second) {
    throw std::invalid_argument("sluice::mp::named_port: \"" + name + "\" is taken");
  }
  return ps;
}

bool remove(const port_id& p) {
  if (p.id() == 0) {
    named_ports& n = named();
    std::lock_guard<std::mutex> g(n.m);
    return n.ports.erase(p.name()) > 0;
  }
  shard& s = shard_of(p.id());
  std::lock_guard<std::mutex> g(s.m);
  return s.ports.erase(p.id()) > 0;
}

void fire(const std::shared_ptr<monitor_state>& m, const message& reason) {
  if (m->cancelled.load() || m->fired.exchange(true)) return;
  switch (m->k) {
    case monitor_state::kind::callback:
      post([m, reason] {
        if (m->cancelled.load()) return;
        current_port as(m->creator.valid() ? &m->creator : nullptr);
        try {
          m->on_death(reason);
        } catch (const std::exception& e) {
          if (m->creator.valid()) kil(m->creator, message::array({"die", e.what()}));
        }
      });
      break;
    case monitor_state::kind::kill_other:
      if (!reason.empty()) kil(m->other, reason);
      break;
    case monitor_state::kind::send_other: {
      message out = m->msg.is_array() ? m->msg : message::array({m->msg});
      for (const auto& e : reason) out.push_back(e);
      snd(m->other, std::move(out));
      break;
    }
  }
}

port_id psub_self() {
  if (!current) throw std::logic_error("sluice::mp::psub: called outside a port context (no self())");
  return *current;
}

void psub_run(const port_id& owner, const std::function<void()>& body) {
  if (!find(owner)) return;  // the port is gone: nothing to run as
  current_port as(&owner);
  try {
    body();
  } catch (const std::exception& e) {
    kil(owner, message::array({"die", e.what()}));
  } catch (...) {
    kil(owner, message::array({"die", "unknown exception"}));
  }
}

}  // namespace detail

using detail::port_state;

const port_id& self() {
  if (!detail::current) throw std::logic_error("sluice::mp::self(): not in a port context (handler, spawn init, port_async body or psub)");
  return *detail::current;
}

port_id port() { return detail::create_port()->id; }

port_id port(std::function<void(const message&)> on_message) {
  auto ps = detail::create_port();
  if (on_message) ps->deflt = std::make_shared<detail::handler>(std::move(on_message));
  return ps->id;
}

// A replaced or removed handler is destroyed after the port's lock is released (here and in
// kil, attach and the worker's refresh): a destructor of what it captured may call rcv, kil
// or mon on the same port.
port_id rcv(const port_id& p, std::function<void(const message&)> on_message) {
  if (auto ps = detail::find(p)) {
    auto h = on_message ? std::make_shared<detail::handler>(std::move(on_message)) : nullptr;
    std::lock_guard<std::mutex> g(ps->m);
    std::swap(ps->deflt, h);  // h, the old one, outlives g
    ps->handlers_version.fetch_add(1, std::memory_order_release);  // pairs with the worker's acquire
  }
  return p;
}

port_id rcv(const port_id& p, std::string tag, std::function<void(const message& rest)> on_tag) {
  if (auto ps = detail::find(p)) {
    auto h = on_tag ? std::make_shared<detail::handler>(std::move(on_tag)) : nullptr;
    std::lock_guard<std::mutex> g(ps->m);
    if (h) {
      std::swap(ps->tags[std::move(tag)], h);  // h, the old one (if any), outlives g
    } else if (auto it = ps->tags.find(tag); it != ps->tags.end()) {
      h = std::move(it->second);
      ps->tags.erase(it);
    }
    ps->handlers_version.fetch_add(1, std::memory_order_release);  // pairs with the worker's acquire
  }
  return p;
}

void snd(const port_id& p, message msg) {
  if (p.node() != detail::this_node()) {
    if (auto* r = detail::remote()) r->send(p, std::move(msg));
    return;  // no network layer: unreachable, dropped as in AnyEvent::MP
  }
  port_state* ps = detail::cached(p);  // the thread's cache keeps the state alive
  if (!ps || ps->dead.load()) return;   // gone: dropped, as in AnyEvent::MP
  std::size_t bound = ps->bound.load(std::memory_order_relaxed);  // a setting, not a sync point
  if (ps->mbox) {
    if (bound != 0 && ps->mbox->size_hint() >= bound) {
      kil(p, message::array({"overflow"}));
      return;
    }
    ps->mbox->push(std::move(msg));
    return;
  }
  // A small message for another thread travels packed (packed.hpp): the sender frees its
  // tree here, on its own thread, and the port's worker unpacks it over the message it
  // unpacked before. One this thread will dispatch itself (a handler's message to a port that
  // becomes its runnext) goes as it is.
  if (!detail::likely_runs_here(*ps)) {
    detail::packed_message packed;  // not zeroed: pack writes what unpack reads
    if (detail::pack(msg, packed)) {
      detail::dispose(msg);
      detail::push_task(*ps, detail::task(packed));
      return;
    }
  }
  detail::push_task(*ps, detail::task(std::move(msg)));
}

namespace detail {

// A scheduled port's inbox, with the bound (overflow kills the port).
void push_task(port_state& ps, task t) {
  std::size_t bound = ps.bound.load(std::memory_order_relaxed);  // a setting, not a sync point
  if (bound != 0 && ps.inbox.size() >= bound) {
    const port_id id = ps.id;  // ps lives in the caller's cache, which the kill may refill
    kil(id, message::array({"overflow"}));
    return;
  }
  ps.inbox.send(std::move(t));
  schedule(ps);
}

bool snd_encoded(const port_id& p, encoded_message& m) {
  port_state* ps = cached(p);  // as in snd
  if (!ps || ps->dead.load()) return true;  // gone: dropped, as snd does
  if (ps->mbox) return false;
  if (m.count > 1 && ps->bound.load(std::memory_order_relaxed) != 0) {  // a setting, not a sync point
    // A bound counts messages in the inbox: each goes as its own task, and its own check.
    // An overflow's kil may refill the thread's cache, which holds ps: held here too.
    const std::shared_ptr<port_state> keep = ps->shared_from_this();
    m.each([&](std::string_view one) {
      encoded_message single;
      single.decode = m.decode;
      single.add(one);
      push_task(*ps, task(std::move(single)));
      return !ps->dead.load();  // an overflow killed it: the rest is dropped, as snd would
    });
    return true;
  }
  push_task(*ps, task(std::move(m)));
  return true;
}

}  // namespace detail

void kil(const port_id& p, message reason) {
  if (p.node() != detail::this_node()) {
    if (auto* r = detail::remote()) r->kill(p, reason.is_array() ? std::move(reason) : message::array({reason}));
    return;
  }
  auto ps = detail::find(p);
  if (!ps || ps->dead.exchange(true)) return;
  detail::remove(p);
  if (!reason.is_array()) reason = message::array({reason});
  std::vector<std::shared_ptr<detail::monitor_state>> ms;
  std::shared_ptr<detail::handler> old_deflt;  // destroyed after ps->m is released
  std::unordered_map<std::string, std::shared_ptr<detail::handler>> old_tags;
  {
    std::lock_guard<std::mutex> g(ps->m);
    ps->reason = reason;
    ps->reason_set = true;
    ms.swap(ps->monitors);
    old_deflt.swap(ps->deflt);
    old_tags.swap(ps->tags);
    ps->handlers_version.fetch_add(1, std::memory_order_release);  // pairs with the worker's acquire
  }
  if (ps->mbox) ps->mbox->kill(reason);
  for (auto& m : ms) detail::fire(m, reason);
  detail::schedule(*ps);  // a worker drops its mail and its worker's copies of the handlers
}

void set_bound(const port_id& p, std::size_t max_queued) {
  if (auto ps = detail::find(p)) ps->bound.store(max_queued, std::memory_order_relaxed);  // a setting
}

namespace {

monitor attach(const port_id& p, std::shared_ptr<detail::monitor_state> m) {
  if (detail::current) m->creator = *detail::current;
  if (p.node() != detail::this_node()) {
    if (auto* r = detail::remote()) {
      r->monitor(p, m);
    } else {
      detail::fire(m, message::array({"no_such_port"}));
    }
    return make_monitor(m);
  }
  auto ps = detail::find(p);
  if (!ps) {
    detail::fire(m, message::array({"no_such_port"}));
    return make_monitor(m);
  }
  message reason;
  std::vector<std::shared_ptr<detail::monitor_state>> pruned;  // destroyed after ps->m is released
  {
    std::lock_guard<std::mutex> g(ps->m);
    if (!ps->reason_set) {
      if (ps->monitors.size() >= 64) {  // drop cancelled ones now and then: no growth under mon/cancel churn
        detail::move_out_if(ps->monitors, pruned, [](const auto& x) { return x->cancelled.load(); });
      }
      ps->monitors.push_back(m);
      return make_monitor(m);
    }
    reason = ps->reason;
  }
  detail::fire(m, reason);  // died between the lookup and now
  return make_monitor(m);
}

}  // namespace

monitor make_monitor(std::shared_ptr<monitor::state> s) {
  monitor m;
  m.s_ = std::move(s);
  return m;
}

void monitor::cancel() {
  if (!s_ || s_->cancelled.exchange(true)) return;
  if (s_->on_cancel) s_->on_cancel();
}

monitor mon(const port_id& p, std::function<void(const message& reason)> on_death) {
  auto m = std::make_shared<detail::monitor_state>();
  m->k = detail::monitor_state::kind::callback;
  m->on_death = std::move(on_death);
  return attach(p, std::move(m));
}

monitor mon(const port_id& p, const port_id& other) {
  auto m = std::make_shared<detail::monitor_state>();
  m->k = detail::monitor_state::kind::kill_other;
  m->other = other;
  return attach(p, std::move(m));
}

monitor mon(const port_id& p, const port_id& other, message msg) {
  auto m = std::make_shared<detail::monitor_state>();
  m->k = detail::monitor_state::kind::send_other;
  m->other = other;
  m->msg = std::move(msg);
  return attach(p, std::move(m));
}

void register_function(std::string qualified_name, std::function<void(const message& args)> init) {
  auto& t = detail::functions();
  std::lock_guard<std::mutex> g(t.m);
  t.fns[std::move(qualified_name)] = std::move(init);
}

namespace detail {

// The init function is the port's first task: messages sent to the new id meanwhile queue
// behind it and reach the handlers it installs.
void start_spawned(const std::shared_ptr<port_state>& ps, const std::string& qualified_name, message args) {
  port_id id = ps->id;
  ps->inbox.send(task(std::function<void()>([id, qualified_name, args = std::move(args)] {
    std::function<void(const message&)> init;
    {
      auto& t = functions();
      std::lock_guard<std::mutex> g(t.m);
      auto it = t.fns.find(qualified_name);
      if (it != t.fns.end()) init = it->second;
    }
    if (!init) {
      kil(id, message::array({"spawn", "unknown function " + qualified_name}));
      return;
    }
    init(args);
  })));
  schedule(*ps);
}

}  // namespace detail

port_id spawn(const std::string& node, const std::string& qualified_name, message args) {
  if (node != node_id()) {
    if (auto* r = detail::remote()) return r->spawn(node, qualified_name, std::move(args));
    throw std::invalid_argument("sluice::mp::spawn: node \"" + node + "\" is not this node (" + node_id() +
                                ") and this process is not a node (sluice::mp::configure)");
  }
  auto ps = detail::create_port();
  detail::start_spawned(ps, qualified_name, std::move(args));
  return ps->id;
}

}  // namespace sluice::mp
