// The worker pool that runs ports' handlers (see runtime.hpp for the invariants).
#include <algorithm>
#include <thread>
#include <variant>

#include "runtime.hpp"

namespace sluice::mp {
namespace {

std::atomic<unsigned> configured_threads{0};

class scheduler {
 public:
  using item = std::variant<std::shared_ptr<detail::port_state>, std::function<void()>>;

  static scheduler& get() {
    static scheduler s;
    return s;
  }

  void push(item it) { runq_.send(std::move(it)); }

  ~scheduler() {
    runq_.close();
    for (auto& t : workers_) t.join();
  }

 private:
  scheduler() {
    unsigned n = configured_threads.load();
    if (n == 0) n = std::max(2u, std::thread::hardware_concurrency());
    for (unsigned i = 0; i < n; ++i) workers_.emplace_back([this] { work(); });
  }

  void work() {
    for (auto& it : runq_) {
      if (auto* ps = std::get_if<std::shared_ptr<detail::port_state>>(&it)) {
        detail::run_port(*ps);
      } else {
        std::get<std::function<void()>>(it)();
      }
    }
  }

  channel<item> runq_{unbounded};
  std::vector<std::thread> workers_;
};

}  // namespace

void set_scheduler_threads(unsigned n) { configured_threads.store(n); }

namespace detail {

void schedule(const std::shared_ptr<port_state>& ps) {
  if (!ps->scheduled.exchange(true)) scheduler::get().push(ps);
}

void post(std::function<void()> f) { scheduler::get().push(std::move(f)); }

namespace {

void die(const port_id& p, const char* what) { kil(p, message::array({"die", what})); }

void dispatch(const std::shared_ptr<port_state>& ps, message& msg) {
  std::shared_ptr<handler> h;
  bool tagged = false;
  {
    std::lock_guard<std::mutex> g(ps->m);
    if (msg.is_array() && !msg.empty() && msg[0].is_string()) {
      auto it = ps->tags.find(msg[0].get_ref<const std::string&>());
      if (it != ps->tags.end()) {
        h = it->second;
        tagged = true;
      }
    }
    if (!h) h = ps->deflt;
  }
  if (!h) {
    kil(ps->id, message::array({"die", "no handler for message", msg}));
    return;
  }
  try {
    if (tagged) msg.erase(msg.begin());  // a tag handler gets the message without its tag
    (*h)(msg);
  } catch (const std::exception& e) {
    die(ps->id, e.what());
  } catch (...) {
    die(ps->id, "unknown exception");
  }
}

}  // namespace

void run_port(const std::shared_ptr<port_state>& ps) {
  current_port as(&ps->id);
  constexpr int batch = 64;  // then give other ports a turn
  for (int i = 0; i < batch; ++i) {
    auto t = ps->inbox.try_recv();
    if (!t) break;
    ps->queued.fetch_sub(1, std::memory_order_relaxed);  // a count for the bound only
    if (ps->dead.load()) continue;
    if (auto* m = std::get_if<message>(&*t)) {
      dispatch(ps, *m);
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
  }
  if (ps->inbox.size() > 0 && !ps->dead.load()) {
    scheduler::get().push(ps);  // still scheduled: more to do
    return;
  }
  ps->scheduled.store(false);
  // A sender that pushed after our last look saw `scheduled` still true and left it to us.
  if (ps->inbox.size() > 0 && !ps->scheduled.exchange(true)) scheduler::get().push(ps);
}

}  // namespace detail
}  // namespace sluice::mp
