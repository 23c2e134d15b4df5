// sluice/node.hpp - this process as an AnyEvent::MP node: ports reachable from other
// processes and machines, over authenticated TCP connections that speak AnyEvent::MP 2.02's
// protocol (../shared/notes/aemp-wire.md), so sluice nodes and Perl nodes talk to each other.
// Namespace sluice::mp.
//
//   sluice::mp::node_config cfg;
//   cfg.nodeid = "alpha";
//   cfg.secret = "shared secret";           // and/or cfg.cert = PEM (TLS)
//   cfg.binds = {"127.0.0.1:14040"};
//   sluice::mp::configure(cfg);             // before the first port
//   auto echo = sluice::mp::named_port("echo", [](const sluice::mp::message& m) { ... });
//   sluice::mp::snd(sluice::mp::port_id::parse("beta#inbox"), {"hello", 1});   // never blocks
//
// After configure, snd, kil and mon accept ports of other nodes. A message to a node that is
// not connected yet is queued and sent, in order, once a connection is up. Over one
// connection messages arrive in order. When a connection breaks, every monitor held on any
// port of that node fires with ["transport_error", NODE, text] and the messages still queued
// for it are dropped ("no holes": after mon, either every later message arrives or the
// monitor fires). A monitor on a port of a node that cannot be reached fires within
// connect_interval with ["transport_error", NODE, "no known address"] or "connect timeout".
//
// A peer that answers nothing is declared down within monitor_timeout: an idle connection is
// probed with the node port's "time" request, and a node that has written nothing for a
// quarter of monitor_timeout sends ["", "devnull"] unasked (a burst that delays the peer's
// answers to our probes is not silence). spawn(node, ...) runs a registered function on
// another node as a port whose name this node picks.
//
// Seeds and the directory: a node's seeds are global nodes (a node whose seed address is its
// own becomes one, as does a node asked to serve with g_slave); the first seed connected is the
// node's master, which keeps its directory entries and tells it where other nodes listen
// (g_find), so snd to any node of the network connects on demand.
//
// TLS: with `cert` (a PEM holding the private key and a self-signed certificate that every
// node of the network shares, as AnyEvent::MP's `aemp gencert` makes it) the node announces
// TLS, and a connection to a peer that announces it too runs over TLS from right after the
// greeting: the peer must present a certificate that the shared PEM verifies (it is the only
// CA; no host-name check), and authentication is tls_sha3_512. A cert alone is enough; a
// secret as well lets peers without a cert in through HMAC. Without a cert nothing changes.
//
// Thread-safety: every function may be called from any thread. The network runs on one
// thread of its own (Boost.Asio); callbacks run on the port scheduler's threads.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "sluice/mp.hpp"

namespace sluice::mp {

struct node_config {                        // AnyEvent::MP's configure arguments
  std::string profile;                      // profile in the rc file; "" = the host name
  std::optional<std::string> nodeid;        // "" or trailing "/" or "%u": 10 random alphanumerics appended; "%n": host name
  std::vector<std::string> binds;           // "host:port", "host:*", "*"; empty = from rc, else {"*"}
  std::vector<std::string> seeds;           // "host:port"
  std::optional<std::string> secret;        // shared secret
  std::optional<std::string> cert;          // PEM with private key and certificate (also the
                                            // only CA): enables TLS with peers that have one
  std::vector<std::string> framing;         // preference; empty = {"cbor", "json"}
  std::optional<std::chrono::milliseconds> connect_interval, monitor_timeout;   // 2 s, 30 s
  bool secure = true;                       // peers may spawn only registered functions
  bool use_rc_file = true;                  // $PERL_ANYEVENT_MP_RC, else ~/.perl-anyevent-mp
  bool force = false;                       // these values win over the rc file
  std::size_t max_queued_bytes = 64u << 20; // per peer, encoded, not yet written: beyond it the
                                            // connection breaks as a transport error
  bool log = false;                         // one line on stderr per connection up or ended (with
                                            // the reason) and per role change; also SLUICE_NODE_LOG=1
};

// Makes this process a node. Once, before the first port; throws std::invalid_argument for a
// bad configuration (no secret and no cert, a cert without its key or certificate, an
// unparsable bind or seed, an unknown framing),
// std::runtime_error when a bind fails (port in use), std::logic_error when called twice or
// after ports exist.
void configure(node_config cfg = {});

// The node part of a port id.
std::string node_of(const port_id& p);

// A well-known port "NODE#name" (like rcv "$NODE#name" in Perl); throws std::invalid_argument
// if the name is taken (or is a number: numbers name the ports port() makes).
port_id named_port(std::string name);
port_id named_port(std::string name, std::function<void(const message&)> on_message);

// AnyEvent::MP's cal: sends msg with a fresh reply port appended and calls f once, on a
// scheduler thread: with the reply's message, or nullopt when timeout passes first or p dies
// (a monitor on p: for another node's port, also when its connection breaks). Works for this
// node's ports as well. Never blocks.
void cal(const port_id& p, message msg, std::function<void(std::optional<message> reply)> f,
         std::chrono::milliseconds timeout = std::chrono::seconds(5));

// Nodes with a connection up now (a snapshot).
std::vector<std::string> up_nodes();

// f(node, true, []) when a connection to a node comes up, f(node, false, reason) when it goes.
monitor mon_nodes(std::function<void(const std::string& node, bool up, const message& reason)> f);

// The directory (AEMP's distributed database): family -> key -> value, kept by the global
// nodes (seeds). This node's entries go to its master (the first seed connected; a global node
// is its own) and are merged there with everyone's; they go when this node disconnects.
// db_set/db_del/db_reg never block: the change reaches the master when there is one.
void db_set(const std::string& family, const std::string& key, message value = nullptr);
void db_del(const std::string& family, const std::string& key);
// db_set(family, p.str(), value), deleted again when p dies (for another node's port, also
// when its connection breaks).
void db_reg(const std::string& family, const port_id& p, message value = nullptr);
// The family as the master has it (an object, {} when empty); blocks the caller up to timeout
// (nullopt: no master answered in time).
std::optional<message> db_family(const std::string& family, std::chrono::milliseconds timeout);
// f(contents, added, changed, deleted) on a scheduler thread: first with the whole family (all
// keys added), then at each change the master reports. Cancelling stops the calls (the master
// is told at the next change).
monitor db_mon(const std::string& family, std::function<void(const message& contents,
               const std::vector<std::string>& added, const std::vector<std::string>& changed,
               const std::vector<std::string>& deleted)> f);

}  // namespace sluice::mp
