// The node: configure, peers and their queues, remote monitors, and the node port's
// requests (see node.hpp for the Invariants, ../shared/notes/aemp-wire.md for the protocol).
#include "node.hpp"

#include "sluice/internal/aemp/rcfile.hpp"
#include "sluice/internal/aemp/tls.hpp"

#include <ifaddrs.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace sluice::mp::net {
namespace {

std::atomic<node*> the_node{nullptr};

message transport_error(const std::string& nodeid, const std::string& why) {
  return message::array({"transport_error", nodeid, why});
}

// "host:port" -> (host, port); "*" and "host:*" listen on a port the system picks.
std::pair<std::string, std::string> split_hostport(const std::string& s, const char* what) {
  if (s == "*") return {"0.0.0.0", "0"};
  auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == s.size()) {
    throw std::invalid_argument(std::string("sluice::mp::configure: ") + what + " \"" + s + "\" is not host:port");
  }
  std::string host = s.substr(0, colon), port = s.substr(colon + 1);
  if (port == "*") port = "0";
  if (port.find_first_not_of("0123456789") != std::string::npos || port.size() > 5 || std::stoul(port) > 65535) {
    throw std::invalid_argument(std::string("sluice::mp::configure: ") + what + " \"" + s + "\" has a bad port");
  }
  return {host, port};
}

// AnyEvent::MP's TLS settings: the one PEM is our certificate, our key and the only CA; the
// peer must present a certificate it verifies (either TLS role); no host-name check (nodes
// are named by node id, not by host). TLS 1.2 at least.
asio::ssl::context make_tls_context(const std::string& pem) {
  asio::ssl::context ctx(asio::ssl::context::tls);
  ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                  asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
  ctx.set_password_callback([](std::size_t, asio::ssl::context::password_purpose) { return std::string(); });
  ctx.use_certificate_chain(asio::buffer(pem));
  ctx.use_private_key(asio::buffer(pem), asio::ssl::context::pem);
  ctx.add_certificate_authority(asio::buffer(pem));
  ctx.set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
  return ctx;
}

}  // namespace

node* current() { return the_node.load(std::memory_order_acquire); }  // pairs with set_current
void set_current(node* n) { the_node.store(n, std::memory_order_release); }  // pairs with current()

node::node(settings s) : s_(std::move(s)), work_(asio::make_work_guard(io_)), dir_(s_.nodeid, *this) {
  if (!s_.cert) return;
  try {
    tls_.emplace(make_tls_context(*s_.cert));
  } catch (const boost::system::system_error& e) {  // check_node_pem passed: should not happen
    throw std::invalid_argument(std::string("sluice::mp::configure: cert: OpenSSL refused it: ") + e.what());
  }
}

aemp::handshake_config node::handshake_config() const {
  aemp::handshake_config c;
  c.nodeid = s_.nodeid;
  c.secret = s_.secret;
  c.framings = s_.framings;
  c.tls = s_.cert.has_value();
  return c;
}

// One line, written whole (stderr is unbuffered: one write per line).
void node::note(const std::string& what) const {
  if (!s_.log) return;
  std::string line = "sluice node " + s_.nodeid + ": " + what + "\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
}

void node::listen(const std::string& bind) {
  auto [host, port] = split_hostport(bind, "bind");
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) throw std::invalid_argument("sluice::mp::configure: bind \"" + bind + "\": not an IP address");
  auto a = std::make_unique<tcp::acceptor>(io_);
  tcp::endpoint ep(addr, static_cast<unsigned short>(std::stoul(port)));
  a->open(ep.protocol(), ec);
  if (!ec) a->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) a->bind(ep, ec);
  if (!ec) a->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("sluice::mp::configure: cannot listen on " + bind + ": " + ec.message());
  accept(*a);
  acceptors_.push_back(std::move(a));
}

void node::accept(tcp::acceptor& a) {
  a.async_accept([this, &a](const boost::system::error_code& ec, tcp::socket s) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) std::make_shared<connection>(*this, std::move(s), std::string())->start();
    accept(a);
  });
}

void node::add_seed(const std::string& hostport) {
  split_hostport(hostport, "seed");  // validates
  seeds_.push_back(hostport);
}

// What the directory lists under "'l" for this node: each listener's address, and for one on
// every interface ("*", 0.0.0.0) each non-loopback IPv4 address (127.0.0.1 when there is none).
std::vector<std::string> node::listen_addresses() const {
  std::vector<std::string> out;
  for (const auto& a : acceptors_) {
    tcp::endpoint ep = a->local_endpoint();
    std::string port = std::to_string(ep.port());
    if (!ep.address().is_unspecified()) {
      out.push_back(ep.address().to_string() + ":" + port);
      continue;
    }
    std::vector<std::string> hosts;
    ifaddrs* ifs = nullptr;
    if (getifaddrs(&ifs) == 0) {
      for (ifaddrs* i = ifs; i; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
        auto v4 = asio::ip::make_address_v4(ntohl(reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr.s_addr));
        if (!v4.is_loopback()) hosts.push_back(v4.to_string());
      }
      freeifaddrs(ifs);
    }
    if (hosts.empty()) hosts.push_back("127.0.0.1");
    for (const auto& h : hosts) out.push_back(h + ":" + port);
  }
  return out;
}

void node::run() {
  asio::post(io_, [this, binds = listen_addresses()] { dir_.set("'l", s_.nodeid, binds); });
  for (const auto& s : seeds_) asio::post(io_, [this, s] { connect_seed(s, std::chrono::milliseconds(600)); });
  detail::set_poller(this);  // idle port workers run io_ from now on
  thread_ = std::thread([] { detail::fallback_poll_loop(); });
  thread_.detach();  // the node lives as long as the process
}

// Seeds are tried until a connection is up, with back-off (0.6 s doubling, at most 30 s), and
// again whenever that connection ends (Perl's seed loop): at once after one that was up, after
// the back-off after one whose handshake failed (else a peer that refuses our secret or
// certificate would be asked again in a tight loop).
void node::connect_seed(const std::string& hostport, std::chrono::milliseconds backoff) {
  auto [host, port] = split_hostport(hostport, "seed");
  auto resolver = std::make_shared<tcp::resolver>(io_);
  auto sock = std::make_shared<tcp::socket>(io_);
  auto retry = [this, hostport, backoff] {
    auto t = std::make_shared<asio::steady_timer>(io_, backoff);
    auto next = std::min(backoff * 2, std::chrono::milliseconds(30000));
    t->async_wait([this, t, hostport, next](const boost::system::error_code&) { connect_seed(hostport, next); });
  };
  resolver->async_resolve(host, port, [this, resolver, sock, hostport, retry, backoff](const boost::system::error_code& ec,
                                                                               tcp::resolver::results_type rs) {
    if (ec) return retry();
    asio::async_connect(*sock, rs, [this, sock, hostport, retry, backoff](const boost::system::error_code& ec2, const tcp::endpoint&) {
      if (ec2) return retry();
      std::make_shared<connection>(*this, std::move(*sock), hostport, std::string(), backoff)->start();
    });
  });
}

// A connection finished its handshake: it becomes the peer's, and what waited goes first.
bool node::connection_up(const std::shared_ptr<connection>& c) {
  std::shared_ptr<asio::steady_timer> give_up;
  auto wake = connection::queued::done;
  {
    std::lock_guard<std::mutex> g(m_);
    peer& p = peers_[c->peer()];
    if (p.conn) return false;
    p.conn = c;
    give_up.swap(p.give_up);
    if (p.queued_bytes > s_.max_queued_bytes) {  // messages were dropped: no gap goes unnoticed
      c->stop_sending();
      wake = connection::queued::overflow;  // ends this connection: the monitors fire
    } else {
      for (auto& m : p.queued) {  // under m_: nothing sent later can overtake these
        if (auto q = c->queue(m); q != connection::queued::done) wake = q;  // overflow is the last
      }
    }
    p.queued.clear();
    p.queued_bytes = 0;
  }
  if (give_up) give_up->cancel();  // io thread, as the timer's arming (start_waiting)
  c->after(wake);
  notify(c->peer(), true, message::array());
  if (!c->seed().empty()) node_seed_[c->peer()] = c->seed();
  note("connection up with " + c->peer());
  dir_.node_up(c->peer(), node_seed_.count(c->peer()) != 0);
  return true;
}

void node::connection_ended(const std::shared_ptr<connection>& c, const std::string& why) {
  const bool myself = why.find("I refuse to talk to myself") != std::string::npos;
  if (!c->seed().empty() && myself) {  // the seed is this node: it serves the directory
    std::erase(seeds_, c->seed());
    note("seed " + c->seed() + " is this node: serving as a global node");
    dir_.become_global();
  } else if (!c->seed().empty()) {  // a seed connection is made again
    if (c->up()) {
      asio::post(io_, [this, s = c->seed()] { connect_seed(s, std::chrono::milliseconds(600)); });
    } else {  // its handshake failed (a wrong secret or certificate): back off, as for a failed connect
      auto t = std::make_shared<asio::steady_timer>(io_, c->seed_backoff());
      auto next = std::min(c->seed_backoff() * 2, std::chrono::milliseconds(30000));
      t->async_wait([this, t, s = c->seed(), next](const boost::system::error_code&) { connect_seed(s, next); });
    }
  }
  if (!c->up()) {
    if (!c->target().empty()) {  // a dialed connection failed its handshake: another try may come
      std::lock_guard<std::mutex> g(m_);
      auto it = peers_.find(c->target());
      if (it != peers_.end()) it->second.dialing = false;
    }
    return;
  }
  std::vector<std::shared_ptr<monitor::state>> fire;
  {
    std::lock_guard<std::mutex> g(m_);
    auto it = peers_.find(c->peer());
    if (it == peers_.end() || it->second.conn != c) return;  // a duplicate that never served
    for (auto& [name, ms] : it->second.monitors) fire.insert(fire.end(), ms.begin(), ms.end());
    peers_.erase(it);
  }
  message reason = transport_error(c->peer(), why);
  for (auto& m : fire) detail::fire(m, reason);
  notify(c->peer(), false, reason);
  dir_.node_down(c->peer(), node_seed_.count(c->peer()) != 0);
  if (std::find(keepalive_.begin(), keepalive_.end(), c->peer()) != keepalive_.end()) {
    asio::post(io_, [this] {
      if (!keepalive_ticking_) keepalive_tick(std::chrono::milliseconds(300));
    });
  }
}

// m_ held. A message for a node without a connection waits for one, at most connect_interval.
void node::enqueue(const std::string& nodeid, message wire, deferred& later) {
  peer& p = peers_[nodeid];
  if (p.conn) {
    if (auto q = p.conn->queue(wire); q != connection::queued::done) later.add([c = p.conn, q] { c->after(q); });
    return;
  }
  // What may throw (the estimate, the push) comes before start_waiting, whose timer must
  // be armed once it is in the peer (else every later wait would find it and return).
  const bool overflowed = p.queued_bytes > s_.max_queued_bytes;  // then given up below, once
  if (!overflowed) {
    // an estimate: CBOR is about half of JSON (invalid UTF-8 is replaced, as the encoder does)
    p.queued_bytes += 16 + wire.dump(-1, ' ', false, message::error_handler_t::replace).size() / 2;
    p.queued.push_back(std::move(wire));
  }
  start_waiting(nodeid, p, later);
  if (!overflowed && p.queued_bytes > s_.max_queued_bytes) {
    later.add([this, nodeid] { asio::post(io_, [this, nodeid] { unreachable(nodeid, "send queue overflow"); }); });
  }
}

// m_ held. The first wait for a node looks up where it listens and dials it; it ends after
// connect_interval ("connect timeout" when an address was tried, else "no known address").
// The timer is armed on the io thread (where connection_up cancels it), after m_ is
// released, so a connection may come up first: the handler then finds another timer (or
// none) in the peer and does nothing.
void node::start_waiting(const std::string& nodeid, peer& p, deferred& later) {
  if (p.give_up) return;
  auto t = std::make_shared<asio::steady_timer>(io_, s_.connect_interval);
  later.add([this, nodeid, t] {
    asio::post(io_, [this, nodeid, t] {
      t->async_wait([this, nodeid, t](const boost::system::error_code& ec) {
        if (ec) return;
        bool dialed = false;
        {
          std::lock_guard<std::mutex> g(m_);
          auto it = peers_.find(nodeid);
          if (it == peers_.end() || it->second.give_up != t) return;  // up since, or another wait's
          dialed = it->second.dialed;
        }
        unreachable(nodeid, dialed ? "connect timeout" : "no known address");
      });
      lookup(nodeid);
    });
  });
  p.give_up = std::move(t);  // only once its arming is sure to happen
}

// io thread. A global node knows the addresses (or knows that nobody does); any other node
// asks its master (g_find; the answer, g_found, comes back as connect_to).
void node::lookup(const std::string& nodeid) {
  if (nodeid == s_.nodeid || is_up(nodeid)) return;
  if (auto addrs = dir_.addresses(nodeid)) return connect_to(nodeid, *addrs);
  if (dir_.is_global()) return unreachable(nodeid, "no known address");
  dir_.find(nodeid);
}

void node::connect_to(const std::string& nodeid, const std::vector<std::string>& addresses) {
  {
    std::lock_guard<std::mutex> g(m_);
    auto it = peers_.find(nodeid);
    if (it == peers_.end() || it->second.conn || it->second.dialing) return;  // nobody waits, up, or dialing
    if (!addresses.empty()) it->second.dialing = it->second.dialed = true;
  }
  if (addresses.empty()) return unreachable(nodeid, "no known address");
  dial(nodeid, addresses, 0);
}

// io thread: the addresses one after another until one connects (the handshake decides the rest).
void node::dial(const std::string& nodeid, std::vector<std::string> addresses, std::size_t i) {
  auto give_up = [this, nodeid] {
    std::lock_guard<std::mutex> g(m_);
    auto it = peers_.find(nodeid);
    if (it != peers_.end()) it->second.dialing = false;
  };
  if (i >= addresses.size()) return give_up();
  std::pair<std::string, std::string> hp;
  try {
    hp = split_hostport(addresses[i], "address");
  } catch (const std::invalid_argument&) {
    return dial(nodeid, std::move(addresses), i + 1);
  }
  auto resolver = std::make_shared<tcp::resolver>(io_);
  auto sock = std::make_shared<tcp::socket>(io_);
  auto next = [this, nodeid, addresses, i] { dial(nodeid, addresses, i + 1); };
  resolver->async_resolve(hp.first, hp.second, [this, resolver, sock, nodeid, next](const boost::system::error_code& ec,
                                                                                    tcp::resolver::results_type rs) {
    if (ec) return next();
    asio::async_connect(*sock, rs, [this, sock, nodeid, next](const boost::system::error_code& ec2, const tcp::endpoint&) {
      if (ec2) return next();
      std::make_shared<connection>(*this, std::move(*sock), std::string(), nodeid)->start();
    });
  });
}

void node::send_request(const std::string& nodeid, message wire) {
  if (nodeid == s_.nodeid) {  // our own node port: later, on the io thread, as from us
    asio::post(io_, [this, wire = std::move(wire)] { dir_.request(s_.nodeid, wire); });
    return;
  }
  send_wire(nodeid, std::move(wire));
}

void node::send_wire(const std::string& nodeid, message wire) {
  deferred later;
  {
    std::lock_guard<std::mutex> g(m_);
    enqueue(nodeid, std::move(wire), later);
  }
  later.run();
}

bool node::is_up(const std::string& nodeid) {
  std::lock_guard<std::mutex> g(m_);
  auto it = peers_.find(nodeid);
  return it != peers_.end() && it->second.conn;
}

// Global nodes stay connected to each other: those down are dialed again, with back-off
// (0.3 s doubling up to monitor_timeout, as Perl's keepalive) while any stays down.
void node::keep_connected(std::vector<std::string> nodes) {
  keepalive_ = std::move(nodes);
  if (!keepalive_ticking_) keepalive_tick(std::chrono::milliseconds(300));
}

void node::keepalive_tick(std::chrono::milliseconds backoff) {
  bool any_down = false;
  deferred later;
  for (const auto& n : keepalive_) {
    std::lock_guard<std::mutex> g(m_);
    peer& p = peers_[n];
    if (p.conn) continue;
    any_down = true;
    start_waiting(n, p, later);
  }
  later.run();
  keepalive_ticking_ = any_down;
  if (!any_down) return;
  auto t = std::make_shared<asio::steady_timer>(io_, backoff);
  auto next = std::min(backoff * 2, s_.monitor_timeout);
  t->async_wait([this, t, next](const boost::system::error_code&) { keepalive_tick(next); });
}

// No connection came up in time: drop what waited, fire the monitors.
void node::unreachable(const std::string& nodeid, const std::string& why) {
  std::vector<std::shared_ptr<monitor::state>> fire;
  {
    std::lock_guard<std::mutex> g(m_);
    auto it = peers_.find(nodeid);
    if (it == peers_.end() || it->second.conn) return;
    for (auto& [name, ms] : it->second.monitors) fire.insert(fire.end(), ms.begin(), ms.end());
    peers_.erase(it);
  }
  message reason = transport_error(nodeid, why);
  for (auto& m : fire) detail::fire(m, reason);
}

namespace {

// node::send's lock-free path: the connection this thread last sent through, and its peer.
// Held by shared_ptr, so it stays valid however long the thread keeps it; a connection that
// stopped sending (connection::end sets that under out_m_ before node::connection_ended
// takes m_ to drop it) refuses the message and the thread takes m_ instead. The node lives
// until the process exits, and there is one per process (configure throws on a second
// call), so a filled cache is always this node's.
struct send_cache {
  std::string nodeid;
  std::shared_ptr<connection> conn;
};
thread_local send_cache last_sent;

}  // namespace

// A message to a port of another node. With a connection up, encoded straight from msg:
// through the connection this thread used last without taking m_, else under m_.
// Why skipping m_ keeps the no-holes guarantee: a connection is the peer's until
// connection_ended drops it under m_, and end() stops it sending (under out_m_) before that.
// So a message the cached connection refuses takes the locked path, and one it accepts is
// sent or dropped with that connection, whose end fires every monitor registered before its
// drop from peers_; a monitor this thread registered later was registered under m_ after the
// drop, so this thread's next message sees the connection stopped. Per sender, messages keep
// their order: they all go to the one connection of the peer, in program order.
void node::send(const port_id& p, message msg) {
  send_cache& last = last_sent;
  if (last.conn && last.nodeid == p.node()) {
    if (auto wake = last.conn->queue_if_sending(p.name(), msg)) {
      detail::dispose(msg);
      if (*wake != connection::queued::done) last.conn->after(*wake);
      return;
    }
    last.conn.reset();  // stopped: the locked path finds the peer's connection, if any
  }
  std::shared_ptr<connection> kick;
  auto wake = connection::queued::done;
  bool queued = false;
  {  // the common case, a connection up: encoded straight from msg
    std::lock_guard<std::mutex> g(m_);
    auto it = peers_.find(p.node());
    if (it != peers_.end() && it->second.conn) {
      wake = it->second.conn->queue(p.name(), msg);
      queued = true;
      kick = it->second.conn;
    }
  }
  if (queued) {
    detail::dispose(msg);
    if (wake != connection::queued::done) kick->after(wake);
    try {  // the message went: a cache that cannot be filled (bad_alloc) stays empty instead
      last.conn.reset();
      last.nodeid = p.node();
      last.conn = std::move(kick);
    } catch (...) {
      last.conn.reset();
    }
    return;
  }
  message wire = message::array({p.name()});
  if (msg.is_array()) {
    for (auto& x : msg) wire.push_back(std::move(x));
  } else {
    wire.push_back(std::move(msg));
  }
  send_wire(p.node(), std::move(wire));
}

void node::kill(const port_id& p, message reason) {
  message wire = message::array({"", "kil1", p.name()});
  for (auto& x : reason) wire.push_back(std::move(x));
  send_wire(p.node(), std::move(wire));
}

// The first monitor on a remote port sends mon1; kil0 or the connection's end fires it.
void node::monitor(const port_id& p, std::shared_ptr<monitor::state> m) {
  deferred later;
  std::vector<std::shared_ptr<monitor::state>> gone;  // destroyed after m_ is released
  {
    std::lock_guard<std::mutex> g(m_);
    auto& list = peers_[p.node()].monitors[p.name()];
    detail::move_out_if(list, gone, [](const auto& x) { return x->cancelled.load() || x->fired.load(); });
    m->on_cancel = [this, nodeid = p.node(), name = p.name()] {
      asio::post(io_, [this, nodeid, name] { unmonitor(nodeid, name); });
    };
    list.push_back(std::move(m));
    if (list.size() == 1) enqueue(p.node(), message::array({"", "mon1", p.name()}), later);
  }
  later.run();
}

// io thread: a monitor was cancelled; with the last one on that port, the peer is told (mon0).
void node::unmonitor(const std::string& nodeid, const std::string& name) {
  deferred later;
  std::vector<std::shared_ptr<monitor::state>> gone;  // destroyed after m_ is released
  {
    std::lock_guard<std::mutex> g(m_);
    auto it = peers_.find(nodeid);
    if (it == peers_.end()) return;
    auto mit = it->second.monitors.find(name);
    if (mit == it->second.monitors.end()) return;
    detail::move_out_if(mit->second, gone, [](const auto& x) { return x->cancelled.load() || x->fired.load(); });
    if (!mit->second.empty()) return;
    it->second.monitors.erase(mit);
    if (it->second.conn || !it->second.queued.empty()) enqueue(nodeid, message::array({"", "mon0", name}), later);
  }
  later.run();
}

// AnyEvent::MP's spawn: the caller names the new port and returns its id at once; the other
// node runs the function as that port (aemp-wire.md section 3).
port_id node::spawn(const std::string& nodeid, const std::string& qualified_name, message args) {
  port_id p(nodeid, aemp::random_alnum10());
  message wire = message::array({"", "AnyEvent::MP::_spawn", p.name(), qualified_name});
  if (args.is_array()) {
    for (auto& x : args) wire.push_back(std::move(x));
  } else {
    wire.push_back(std::move(args));
  }
  send_wire(nodeid, std::move(wire));
  return p;
}

void node::fire_remote(const std::string& peer_id, const std::string& name, const message& reason) {
  std::vector<std::shared_ptr<monitor::state>> fire;
  {
    std::lock_guard<std::mutex> g(m_);
    auto it = peers_.find(peer_id);
    if (it == peers_.end()) return;
    auto mit = it->second.monitors.find(name);
    if (mit == it->second.monitors.end()) return;
    fire.swap(mit->second);
    it->second.monitors.erase(mit);
  }
  for (auto& m : fire) detail::fire(m, reason);
}

// ["", tag, args...] from a peer: the node port (aemp-wire.md section 3).
void node::request(const std::shared_ptr<connection>& c, const message& m) {
  if (m.size() < 2 || !m[1].is_string()) return;
  const std::string tag = m[1].get<std::string>();
  auto arg = [&](std::size_t i) { return i < m.size() && m[i].is_string() ? m[i].get<std::string>() : std::string(); };
  auto rest = [&](std::size_t from) {
    message r = message::array();
    for (std::size_t i = from; i < m.size(); ++i) r.push_back(m[i]);
    return r;
  };
  if (tag.rfind("g_", 0) == 0) return dir_.request(c->peer(), m);  // the directory
  if (tag == "mon1") {  // the peer watches our port
    std::string name = arg(2);
    port_id p(s_.nodeid, name);
    std::weak_ptr<connection> weak = c;
    c->served[name] = mp::mon(p, [weak, name, me = p.str()](const message& reason) {
      auto conn = weak.lock();
      if (!conn) return;
      message kil0 = message::array({"", "kil0", name});
      if (reason == message::array({"no_such_port"})) {
        kil0.insert(kil0.end(), {"no_such_port", "cannot monitor nonexistent port", me});
      } else {
        for (const auto& x : reason) kil0.push_back(x);
      }
      conn->send(kil0);
    });
  } else if (tag == "mon0") {
    auto it = c->served.find(arg(2));
    if (it != c->served.end()) {
      it->second.cancel();
      c->served.erase(it);
    }
  } else if (tag == "kil1") {
    mp::kil(port_id(s_.nodeid, arg(2)), rest(3));
  } else if (tag == "kil0") {
    fire_remote(c->peer(), arg(2), rest(3));
  } else if (tag == "snd") {
    try {
      mp::snd(port_id::parse(arg(2)), rest(3));
    } catch (const std::invalid_argument&) {  // not a port id: nothing to deliver
    }
  } else if (tag == "AnyEvent::MP::_spawn") {  // _spawn NAME FUNCTION ARGS...: only registered functions
    std::shared_ptr<detail::port_state> ps;
    try {
      ps = detail::create_named_port(arg(2));
    } catch (const std::invalid_argument&) {
      return;  // a name taken (or a number): nothing to run it as
    }
    detail::start_spawned(ps, arg(3), rest(4));
  } else if (tag == "can") {  // can TAG REPLYPORT ARGS...: snd REPLYPORT ARGS..., "1" or ""
    static const char* const known[] = {"mon1", "mon0", "kil1", "kil0", "snd", "can", "time", "devnull", "",
                                        "AnyEvent::MP::_spawn", "g_global", "g_slave", "g_set", "g_upd", "g_find",
                                        "g_found", "g_db_family", "g_db_keys", "g_db_values", "g_reply", "g_mon1",
                                        "g_mon0", "g_chg1", "g_chg2"};
    bool yes = false;
    for (const char* k : known) yes = yes || arg(2) == k;
    reply(m, 3, yes ? "1" : "");
  } else if (tag == "time") {  // time REPLYPORT ARGS...: snd REPLYPORT ARGS..., seconds
    reply(m, 2, std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
  }
  // devnull, "" and anything else: ignored.
}

// Perl's `snd @reply, value`: m[at] is the reply port, the elements after it its message.
void node::reply(const message& m, std::size_t at, message value) {
  if (at >= m.size() || !m[at].is_string()) return;
  const std::string& to = m[at].get_ref<const std::string&>();
  auto hash = to.find('#');
  if (hash == std::string::npos) return;  // not a port id: nobody to answer
  std::string nodeid = to.substr(0, hash), name = to.substr(hash + 1);
  message out = message::array();
  for (std::size_t i = at + 1; i < m.size(); ++i) out.push_back(m[i]);
  out.push_back(std::move(value));
  if (nodeid == s_.nodeid) {  // ours; "NODE#" (our node port) is a probe's answer: ignored
    if (!name.empty()) mp::snd(port_id(nodeid, name), std::move(out));
    return;
  }
  message wire = message::array({name});  // an empty name: that node's node port
  for (auto& x : out) wire.push_back(std::move(x));
  send_wire(nodeid, std::move(wire));
}

void node::notify(const std::string& nodeid, bool up, const message& reason) {
  std::vector<std::shared_ptr<const watcher>> ws, gone;  // gone: destroyed after m_ is released
  {
    std::lock_guard<std::mutex> g(m_);
    detail::move_out_if(watchers_, gone, [](const auto& w) { return w->st->cancelled.load(); });
    ws = watchers_;
  }
  for (auto& w : ws) {
    auto call = [w, nodeid, up, reason] {
      if (!w->st->cancelled.load()) w->f(nodeid, up, reason);
    };
    if (w->calls->push(std::move(call))) detail::post([calls = w->calls] { calls->drain(); });
  }
}

std::vector<std::string> node::up_nodes() {
  std::lock_guard<std::mutex> g(m_);
  std::vector<std::string> out;
  for (auto& [id, p] : peers_) {
    if (p.conn) out.push_back(id);
  }
  return out;
}

mp::monitor node::watch(std::function<void(const std::string&, bool, const message&)> f) {
  auto st = std::make_shared<monitor::state>();
  auto w = std::make_shared<const watcher>(watcher{st, std::move(f)});
  std::lock_guard<std::mutex> g(m_);
  watchers_.push_back(std::move(w));
  return make_monitor(st);
}

}  // namespace sluice::mp::net

namespace sluice::mp {

namespace {

[[noreturn]] void bad(const std::string& why) { throw std::invalid_argument("sluice::mp::configure: " + why); }

// The program's arguments as AnyEvent::MP's configure takes them (only what was given).
message arguments_of(const node_config& cfg) {
  message a = message::object();
  // The issue's contract: nodeid = "" is a random id (10 alphanumerics), as "%u". (Perl's
  // configure croaks on an empty node ID; an rc file's "" still does here.)
  if (cfg.nodeid) a["nodeid"] = cfg.nodeid->empty() ? std::string("%u") : *cfg.nodeid;
  if (!cfg.binds.empty()) a["binds"] = cfg.binds;
  if (!cfg.seeds.empty()) a["seeds"] = cfg.seeds;
  if (cfg.secret) a["secret"] = *cfg.secret;
  if (cfg.cert) a["cert"] = *cfg.cert;
  if (!cfg.framing.empty()) a["framing_format"] = cfg.framing;
  if (cfg.connect_interval) a["connect_interval"] = cfg.connect_interval->count() / 1000.0;
  if (cfg.monitor_timeout) a["monitor_timeout"] = cfg.monitor_timeout->count() / 1000.0;
  a["secure"] = cfg.secure ? 1 : 0;
  return a;
}

std::vector<std::string> strings(const message& list, const char* what) {
  std::vector<std::string> out;
  for (const auto& x : list) {
    if (!x.is_string()) bad(std::string(what) + ": not a list of strings");
    out.push_back(x.get<std::string>());
  }
  return out;
}

std::chrono::milliseconds seconds(const message& v, const char* what) {
  if (!v.is_number() || v.get<double>() <= 0 || v.get<double>() > 1e6) bad(std::string(what) + ": not a number of seconds");
  return std::chrono::milliseconds(static_cast<long long>(v.get<double>() * 1000));
}

// The rc file's or the program's `cert`: a PEM with the private key and its certificate
// (checked now, so that a bad one fails configure, not every connection later).
std::optional<std::string> cert_of(const message& conf) {
  if (!conf.contains("cert") || conf["cert"].is_null()) return std::nullopt;
  if (!conf["cert"].is_string()) bad("cert: not a PEM string");
  std::string pem = conf["cert"].get<std::string>(), why;
  if (!aemp::check_node_pem(pem, why)) bad(why);
  return pem;
}

// Step 1-3 of configure: the rc file, the profile's precedence, then every value checked.
net::settings resolve(const node_config& cfg, std::vector<std::string>& binds, std::vector<std::string>& seeds) {
  std::string why;
  message rc = message::object();
  if (cfg.use_rc_file) {
    auto loaded = aemp::load_rc(aemp::rc_path(), why);
    if (!loaded) bad(why);
    rc = std::move(*loaded);
  }
  const std::string profile = cfg.profile.empty() ? aemp::host_name() : cfg.profile;
  auto conf = aemp::resolve_profile(rc, profile, arguments_of(cfg), cfg.force, why);
  if (!conf) bad(why);
  net::settings s;
  auto pattern = aemp::nodeid_pattern(*conf, profile, why);
  if (!pattern) bad(why);
  s.nodeid = aemp::expand_nodeid(*pattern, aemp::host_name(), aemp::random_alnum10).id;
  if (!aemp::valid_nodeid(s.nodeid)) bad("bad node id \"" + s.nodeid + "\"");
  if (conf->contains("secret") && (*conf)["secret"].is_string()) s.secret = (*conf)["secret"].get<std::string>();
  s.cert = cert_of(*conf);
  if (!s.secret && !s.cert) bad("no secret and no cert: peers could not authenticate");
  for (const auto& f : strings(conf->value("framing_format", message::array()), "framing_format")) {
    if (aemp::framing_of(f)) s.framings.push_back(f);  // Perl's default also lists storable
    else if (!cfg.framing.empty()) bad("unknown framing \"" + f + "\"");
  }
  if (s.framings.empty()) bad("no framing this node speaks (json, cbor)");
  s.connect_interval = seconds(conf->value("connect_interval", message(2)), "connect_interval");
  s.monitor_timeout = seconds(conf->value("monitor_timeout", message(30)), "monitor_timeout");
  s.secure = !conf->contains("secure") || aemp::perl_true((*conf)["secure"]);
  s.max_queued_bytes = cfg.max_queued_bytes;
  const char* env_log = std::getenv("SLUICE_NODE_LOG");
  s.log = cfg.log || (env_log && *env_log && std::string(env_log) != "0");
  auto b = aemp::binds_of(*conf, why);
  auto sd = b ? aemp::seeds_of(*conf, why) : std::nullopt;
  if (!b || !sd) bad(why);
  binds = strings(*b, "binds");
  seeds = strings(*sd, "seeds");
  return s;
}

}  // namespace

// Step 4: listen and remember seeds (errors before anything runs); step 5: fix the node id,
// plug the network layer into the port runtime, start the io thread.
void configure(node_config cfg) {
  static std::mutex once;
  std::lock_guard<std::mutex> g(once);
  if (net::current()) throw std::logic_error("sluice::mp::configure: called twice");
  // The io thread outlives main (it is never joined): OpenSSL must not tear its globals down
  // at exit under it (TSan saw the io thread's last RAND lock use race with that cleanup).
  OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, nullptr);
  OPENSSL_init_ssl(OPENSSL_INIT_NO_ATEXIT, nullptr);  // the same for libssl (TLS)
  std::vector<std::string> binds, seeds;
  net::settings s = resolve(cfg, binds, seeds);
  std::string id = s.nodeid;
  auto n = std::make_unique<net::node>(std::move(s));
  for (const auto& b : binds) n->listen(b);
  for (const auto& seed : seeds) n->add_seed(seed);
  if (!detail::set_node_id(id)) throw std::logic_error("sluice::mp::configure: must be called before the first port");
  net::node* raw = n.release();  // lives as long as the process (its thread runs until exit)
  detail::set_remote(raw);
  net::set_current(raw);
  raw->run();
}

}  // namespace sluice::mp

namespace sluice::mp {

std::string node_of(const port_id& p) { return p.node(); }

port_id named_port(std::string name) { return detail::create_named_port(name)->id; }

port_id named_port(std::string name, std::function<void(const message&)> on_message) {
  port_id p = named_port(std::move(name));
  rcv(p, std::move(on_message));
  return p;
}

std::vector<std::string> up_nodes() {
  net::node* n = net::current();
  return n ? n->up_nodes() : std::vector<std::string>{};
}

monitor mon_nodes(std::function<void(const std::string& node, bool up, const message& reason)> f) {
  net::node* n = net::current();
  if (!n) throw std::logic_error("sluice::mp::mon_nodes: configure() first");
  return n->watch(std::move(f));
}

}  // namespace sluice::mp
