// run_server's core: the accepting loop, one thread per connection, the watchdog that cuts
// connections at their time limit and joins finished threads, and the stop.
//
// Invariants:
//   - Threads: the accepting thread (run_server's caller, or the handle's thread), one
//     watchdog, one thread per live connection (plus what its handler spawn()s, joined by that
//     thread). Every connection thread is joined: whichever of the acceptor (after making
//     the thread) and the thread (at its end) comes second under m_ moves the std::thread to
//     finished_, and the watchdog joins finished_ outside m_.
//   - live_ holds exactly the connections whose thread has not finished; live_.size() <=
//     max_connections (the acceptor checks under m_ before admitting; beyond it the stream is
//     destroyed at once: accepted and closed).
//   - A connection with a time limit is in deadlines_ from admission until it finishes or the
//     watchdog takes it out to cut it. A connection is cut at most once (connection_state::cut
//     set by CAS); cutting sets the reason, then stops the connection's stop_source (its
//     at_shutdown callbacks run), then shuts the stream down - always with no lock held (no
//     wake-up under a lock).
//   - A stream lives as long as any shared_ptr to its connection_state: shutdown() is never
//     called on a destroyed stream, and its fd is never closed while a shutdown is running.
//   - Stop: the listener is interrupted (a stop_callback), the accepting loop ends, the close
//     hook runs, handlers get grace_period, the rest are cut (cut_reason::stopping), then
//     serve waits for live_ to empty and joins the watchdog, which joins finished_ first.
#include "core.hpp"

#include <pthread.h>
#include <signal.h>

namespace sluice::detail {

std::string describe(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
    return "unknown exception";
  }
}

void report(const server_options& opt, const std::string& peer, std::exception_ptr e) noexcept {
  try {
    if (opt.on_error) return opt.on_error(peer, e);
  } catch (...) {
  }
  try {
    std::string what = describe(e);
    std::fprintf(stderr, "sluice::run_server: connection %s: %s\n", peer.empty() ? "?" : peer.c_str(), what.c_str());
  } catch (...) {
  }
}

server_core::server_core(std::uint16_t port, connection_handler handler,
                         std::optional<std::chrono::milliseconds> timeout, server_options opt)
    : handler_(std::move(handler)), timeout_(timeout), opt_(std::move(opt)) {
  if (!handler_) throw std::invalid_argument("sluice::run_server: no handler");
  if (timeout_ && timeout_->count() < 0) throw std::invalid_argument("sluice::run_server: negative timeout");
  if (!opt_.listen) opt_.listen = tcp_listen;
  if (!opt_.accept) opt_.accept = tcp_accept;
  if (!opt_.close) opt_.close = tcp_close;
  if (opt_.max_connections == 0) opt_.max_connections = 1;
  listener_ = opt_.listen(port, opt_);
  if (!listener_) throw std::runtime_error("sluice::run_server: the listen hook returned no listener");
  port_ = listener_->port();
  watchdog_ = std::thread([this] { watchdog(); });
}

server_core::~server_core() { stop_watchdog(); }

std::size_t server_core::active() const {
  std::lock_guard<std::mutex> g(m_);
  return live_.size();
}

void server_core::serve(std::stop_token stop) {
  try {
    if (opt_.on_listen) opt_.on_listen(port_);
  } catch (...) {
    report(opt_, "(on_listen)", std::current_exception());
  }
  {
    std::stop_callback interrupt(stop, [this] { listener_->interrupt(); });
    bool failing = false;  // reported once per run of failed accepts
    for (;;) {
      std::unique_ptr<stream> s;
      try {
        s = opt_.accept(*listener_);
      } catch (...) {
        if (stop.stop_requested()) break;
        if (!failing) report(opt_, "(accept)", std::current_exception());
        failing = true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));  // fds exhausted: let some close
        continue;
      }
      failing = false;
      if (!s) break;
      admit(std::move(s));
    }
  }
  try {
    opt_.close(*listener_);
  } catch (...) {
    report(opt_, "(close)", std::current_exception());
  }
  drain();
  {
    std::lock_guard<std::mutex> g(m_);
    done_ = true;
  }
  cv_.notify_all();
}

void server_core::wait_done() {
  std::unique_lock<std::mutex> lk(m_);
  cv_.wait(lk, [&] { return done_; });
}

void server_core::admit(std::unique_ptr<stream> s) {
  auto st = std::make_shared<connection_state>();
  st->io = std::shared_ptr<stream>(std::move(s));
  st->peer = st->io->peer();
  st->opt = &opt_;
  st->timeout = timeout_;
  bool earliest = false, refuse = false;
  {
    std::lock_guard<std::mutex> g(m_);
    refuse = live_.size() >= opt_.max_connections;
    if (!refuse) {
      live_.insert(st);
      if (timeout_) {
        st->deadline = deadlines_.emplace(clock::now() + *timeout_, st);
        st->has_deadline = true;
        earliest = st->deadline == deadlines_.begin();
      }
    }
  }
  if (refuse) {
    refused_.fetch_add(1);
    return;  // st, the only owner, goes: the stream closes with no thread made
  }
  if (earliest) cv_.notify_all();
  std::thread t;
  try {
    t = std::thread([this, st] { run_connection(st); });
  } catch (...) {
    {
      std::lock_guard<std::mutex> g(m_);
      live_.erase(st);
      if (st->has_deadline) deadlines_.erase(st->deadline), st->has_deadline = false;
    }
    cv_.notify_all();
    report(opt_, st->peer, std::current_exception());
    return;
  }
  accepted_.fetch_add(1);
  bool hand_over = false;
  {
    std::lock_guard<std::mutex> g(m_);
    if (st->done) {
      finished_.push_back(std::move(t));
      hand_over = true;
    } else {
      st->thread = std::move(t);
    }
  }
  if (hand_over) cv_.notify_all();
}

// Marks st finished: out of live_ and deadlines_, its std::thread to the reaper when the
// acceptor has stored it.
void server_core::finished(const std::shared_ptr<connection_state>& st) {
  {
    std::lock_guard<std::mutex> g(m_);
    st->done = true;
    live_.erase(st);
    if (st->has_deadline) deadlines_.erase(st->deadline), st->has_deadline = false;
    if (st->thread.joinable()) finished_.push_back(std::move(st->thread));
  }
  cv_.notify_all();
}

void server_core::watchdog() {
  std::unique_lock<std::mutex> lk(m_);
  for (;;) {
    std::vector<std::shared_ptr<connection_state>> cut;
    std::vector<std::thread> join;
    auto now = clock::now();
    while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
      auto st = deadlines_.begin()->second;
      deadlines_.erase(deadlines_.begin());
      st->has_deadline = false;
      cut.push_back(std::move(st));
    }
    join.swap(finished_);
    if (cut.empty() && join.empty()) {
      if (quit_) return;
      if (deadlines_.empty()) {
        cv_.wait(lk);
      } else {
        clock::time_point next = deadlines_.begin()->first;  // a copy: the entry may go while we wait
        cv_.wait_until(lk, next);
      }
      continue;
    }
    lk.unlock();
    for (auto& st : cut) st->cut_off(cut_reason::timeout);
    cut.clear();
    for (auto& t : join) t.join();
    join.clear();
    lk.lock();
  }
}

void server_core::drain() {
  std::vector<std::shared_ptr<connection_state>> rest;
  {
    std::unique_lock<std::mutex> lk(m_);
    cv_.wait_until(lk, clock::now() + opt_.grace_period, [&] { return live_.empty(); });
    rest.assign(live_.begin(), live_.end());
  }
  for (auto& st : rest) st->cut_off(cut_reason::stopping);
  rest.clear();
  {
    std::unique_lock<std::mutex> lk(m_);
    cv_.wait(lk, [&] { return live_.empty(); });
  }
  stop_watchdog();
}

void server_core::stop_watchdog() {
  {
    std::lock_guard<std::mutex> g(m_);
    quit_ = true;
  }
  cv_.notify_all();
  if (watchdog_.joinable()) watchdog_.join();
}

// The connection's thread: SIGPIPE blocked (a TLS library may write(2) to a closed peer; the
// error comes back as EPIPE instead), the stream started, the handler run, then Racket's
// custodian: stop, join what it spawned, release what it kept, close.
void server_core::run_connection(const std::shared_ptr<connection_state>& st) {
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  if (int e = pthread_sigmask(SIG_BLOCK, &pipe, nullptr)) die("pthread_sigmask", e);
  bool normal = false;
  try {
    st->io->start();
    st->check();
    connection c(*st);
    try {
      handler_(c);
      normal = true;
      c.flush();
    } catch (...) {
      bool ours = st->cut.load() != 0;
      try {
        throw;
      } catch (const connection_error&) {
        if (!ours && !normal) report(opt_, st->peer, std::current_exception());
      } catch (...) {
        if (!normal) report(opt_, st->peer, std::current_exception());
      }
    }
    st->stop.request_stop();
    for (auto& t : st->spawned) t.join();
    st->spawned.clear();
    st->callbacks.clear();
    while (!st->kept.empty()) st->kept.pop_back();
  } catch (...) {
    // start() failed (a TLS handshake), or was cut while starting.
    if (st->cut.load() == 0) report(opt_, st->peer, std::current_exception());
    st->stop.request_stop();
  }
  if (normal && st->cut.load() == 0) st->io->finish();
  st->io->shutdown();
  finished(st);
}

}  // namespace sluice::detail

namespace sluice {

void run_server(std::uint16_t port, connection_handler handler, std::optional<std::chrono::milliseconds> timeout,
                server_options opt) {
  detail::server_core core(port, std::move(handler), timeout, std::move(opt));
  core.serve(std::stop_token());
}

void run_server(std::stop_token stop, std::uint16_t port, connection_handler handler,
                std::optional<std::chrono::milliseconds> timeout, server_options opt) {
  detail::server_core core(port, std::move(handler), timeout, std::move(opt));
  core.serve(stop);
}

}  // namespace sluice
