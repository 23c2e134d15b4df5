// The worker pool that runs ports' handlers (see runtime.hpp for the invariants).
#include <algorithm>
#include <thread>
#include <utility>
#include <variant>

#include "netpoll.hpp"
#include "runtime.hpp"

namespace sluice::mp {
namespace {

std::atomic<unsigned> configured_threads{0};

class scheduler {
 public:
  using item = std::variant<std::shared_ptr<detail::port_state>, std::function<void()>>;

  // Never destroyed, and its workers are detached: ports may be used from threads that
  // outlive static destruction (port_async bodies, user threads at exit).
  static scheduler& get() {
    static auto* s = new scheduler();
    return *s;
  }

  // A worker asleep on the run queue takes `it`; with none asleep, one waiting in epoll is
  // told to look (netpoll.hpp). seq_cst load after the send, against the worker's seq_cst
  // increment before its recv: a worker counted as asleep finds the item.
  void push(item it) {
    runq_.send(std::move(it));
    if (sleepers_.load() == 0) detail::interrupt_poll();  // fences before it reads the token
  }

 private:
  scheduler() {
    unsigned n = configured_threads.load();
    if (n == 0) n = std::max(2u, std::thread::hardware_concurrency());
    threads_ = n;
    for (unsigned i = 0; i < n; ++i) std::thread([this] { work(); }).detach();
  }

  void work();
  void run(item& it);
  static bool has_work(void* s) { return static_cast<scheduler*>(s)->runq_.size() > 0; }

  channel<item> runq_{unbounded};
  unsigned threads_ = 0;
  std::atomic<unsigned> sleepers_{0};  // workers in a blocking recv on runq_
};

}  // namespace

void set_scheduler_threads(unsigned n) { configured_threads.store(n); }

namespace detail {

namespace {
// Go's runnext: a port that a handler makes runnable is run next by the same worker instead
// of going round the run queue (a message ping-ponging between two ports stays on one core).
// A worker takes at most max_runnext of them in a row before it serves the run queue again.
thread_local bool on_worker = false;
thread_local std::shared_ptr<port_state> runnext;
constexpr int max_runnext = 64;
}  // namespace

void schedule(port_state& ps) {
  // A seq_cst load first: when the port is already scheduled (its worker is busy with it)
  // this skips the read-modify-write. It pairs with run_port's store(false) + size() check.
  if (ps.scheduled.load() || ps.scheduled.exchange(true)) return;
  if (on_worker && !runnext) {
    runnext = ps.shared_from_this();
  } else {
    scheduler::get().push(ps.shared_from_this());
  }
}

void post(std::function<void()> f) { scheduler::get().push(std::move(f)); }

bool likely_runs_here(const port_state& ps) {
  // A hint, not a sync point: the port's state may change at once, which costs only speed.
  return on_worker && !runnext && !ps.scheduled.load(std::memory_order_relaxed);
}

}  // namespace detail

// A worker: the run queue first; with nothing there, the network (netpoll.hpp), whose handlers
// put the port they feed into runnext; with neither, a sleep on the run queue.
void scheduler::work() {
  detail::on_worker = true;
  for (;;) {
    auto t = runq_.try_recv();
    if (!t && detail::worker_poll(threads_ > 1, &scheduler::has_work, this)) {
      if (!detail::runnext) continue;
      auto next = std::move(detail::runnext);
      detail::runnext.reset();
      item it = std::move(next);
      run(it);
      continue;
    }
    if (!t) {
      sleepers_.fetch_add(1);  // seq_cst: pairs with push()'s load (see there)
      t = runq_.recv();
      sleepers_.fetch_sub(1);  // seq_cst, likewise
    }
    if (!t) break;
    run(*t);
  }
  detail::on_worker = false;
}

// One item, then what it made runnable next (at most max_runnext in a row).
void scheduler::run(item& it) {
  if (auto* ps = std::get_if<std::shared_ptr<detail::port_state>>(&it)) {
    detail::run_port(*ps);
  } else {
    std::get<std::function<void()>>(it)();
  }
  for (int i = 0; i < detail::max_runnext && detail::runnext; ++i) {
    auto next = std::move(detail::runnext);
    detail::runnext.reset();
    detail::run_port(next);
  }
  if (detail::runnext) {
    push(std::move(detail::runnext));
    detail::runnext.reset();
  }
}

namespace detail {

namespace {

void die(const port_id& p, const char* what) { kil(p, message::array({"die", what})); }

// Refresh the running worker's copy of the handlers if rcv changed them.
// The copies it replaces are destroyed after m is released: a handler's last reference may
// be here, and a destructor of what it captured may call rcv or kil on this port.
void refresh_handlers(port_state& ps) {
  if (ps.handlers_version.load(std::memory_order_acquire) == ps.seen_version) return;  // pairs with rcv's release
  std::shared_ptr<handler> old_deflt;
  std::unordered_map<std::string, std::shared_ptr<handler>> old_tags;
  std::lock_guard<std::mutex> g(ps.m);
  ps.seen_version = ps.handlers_version.load(std::memory_order_relaxed);  // under m
  old_deflt = std::exchange(ps.seen_deflt, ps.deflt);
  old_tags = std::exchange(ps.seen_tags, ps.tags);
}

void dispatch(const std::shared_ptr<port_state>& ps, message& msg) {
  refresh_handlers(*ps);
  handler* h = nullptr;
  bool tagged = false;
  if (msg.is_array() && !msg.empty() && msg[0].is_string() && !ps->seen_tags.empty()) {
    auto it = ps->seen_tags.find(msg[0].get_ref<const std::string&>());
    if (it != ps->seen_tags.end()) {
      h = it->second.get();
      tagged = true;
    }
  }
  if (!h) h = ps->seen_deflt.get();
  if (!h) {
    kil(ps->id, message::array({"die", "no handler for message", msg}));
    return;
  }
  try {
    if (tagged) {  // a tag handler gets the message without its tag, which then goes back:
      message tag = std::move(msg[0]);  // run_encoded decodes the next message over this one
      msg.erase(msg.begin());
      (*h)(msg);
      msg.insert(msg.begin(), std::move(tag));  // within the capacity: no allocation
    } else {
      (*h)(msg);
    }
  } catch (const std::exception& e) {
    die(ps->id, e.what());
  } catch (...) {
    die(ps->id, "unknown exception");
  }
}

// Decoded here, by the worker that dispatches and then frees them: each over the one before
// (aemp::decode_rest), so a run of messages of one shape reuses the array and its strings'
// storage. Stops early if the port dies (the rest is dropped, as its inbox is). Returns how
// many it ran.
int run_encoded(const std::shared_ptr<port_state>& ps, const encoded_message& e) {
  message msg;
  int ran = 0;
  e.each([&](std::string_view one) {
    if (ps->dead.load()) return false;
    ++ran;
    try {
      e.decode(one, msg);
    } catch (const std::exception& ex) {  // bad_alloc: the message is lost, and the port says so,
      die(ps->id, ex.what());             // as when a handler throws
      return false;
    }
    dispatch(ps, msg);
    return true;
  });
  dispose(msg);
  return ran;
}

// A packed message (packed.hpp), unpacked over the one this worker unpacked before, in this
// turn or an earlier one: a stream of messages of one shape, or a ping-pong between two
// ports, then costs the worker no allocation. Safe to reuse because run_port runs only from
// the worker's loop (scheduler::run), never from inside a handler.
thread_local message unpacked;

void run_packed(const std::shared_ptr<port_state>& ps, const packed_message& p, message& over) {
  try {
    unpack(p, over);
  } catch (const std::exception& ex) {  // bad_alloc: lost, and the port says so, as above
    die(ps->id, ex.what());
    return;
  }
  dispatch(ps, over);
}

}  // namespace

void run_port(const std::shared_ptr<port_state>& ps) {
  current_port as(&ps->id);
  constexpr int batch = 64;  // then give other ports a turn
  for (int i = 0; i < batch; ++i) {  // messages, not tasks: an encoded run counts each of its own
    auto t = ps->inbox.try_recv();
    if (!t) break;
    if (ps->dead.load()) continue;
    if (auto* p = std::get_if<packed_message>(&*t)) {
      run_packed(ps, *p, unpacked);
    } else if (auto* m = std::get_if<message>(&*t)) {
      dispatch(ps, *m);
      dispose(*m);
    } else if (auto* e = std::get_if<encoded_message>(&*t)) {
      i += std::max(run_encoded(ps, *e), 1) - 1;
    } else {
      try {
        std::get<std::function<void()>>(*t)();
      } catch (const std::exception& e) {
        die(ps->id, e.what());
      } catch (...) {
        die(ps->id, "unknown exception");
      }
    }
  }
  if (ps->dead.load()) {
    while (ps->inbox.try_recv()) {}  // a dead port's mail is dropped
    // And the worker's copies of its handlers go now (kil scheduled this run for it), not
    // whenever the last reference to the port's state does: senders' lookup caches may hold
    // that for long, and what a handler captured must not be destroyed inside a lookup.
    ps->seen_deflt.reset();
    ps->seen_tags.clear();
  }
  if (ps->inbox.size() > 0 && !ps->dead.load()) {
    scheduler::get().push(ps);  // still scheduled: more to do, after the others had a turn
    return;
  }
  ps->scheduled.store(false);
  // A sender that pushed after our last look saw `scheduled` still true and left it to us.
  if (ps->inbox.size() > 0 && !ps->scheduled.exchange(true)) scheduler::get().push(ps);
}

}  // namespace detail
}  // namespace sluice::mp
