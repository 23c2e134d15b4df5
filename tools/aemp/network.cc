// tools/aemp/network.cc - snd, cal, mon, nodes, db, ping, trace (see aemp.hpp).
//
// aemp joins the network as a temporary node of profile "aemp" (configure reads the rc file:
// the node id defaults to "aemp/<random>", and the seeds, secret and cert come from the
// profile or the top level), does its one thing, and exits. Every wait ends after --timeout.
//
// AnyEvent::MP 2.02 has no request that shows what another node's node port receives, so
// `trace NODE` shows what the protocol does let us see: the node's round trip and clock (the
// node port's "time"), its listen addresses in the directory (family "'l"), and then, until
// the timeout, every connection up/down this node sees and every change of "'l" (nodes
// joining and leaving the network), each line with a UTC timestamp.
#include <atomic>
#include <cstdio>
#include <future>
#include <memory>
#include <set>
#include <thread>

#include "aemp.hpp"
#include "sluice/node.hpp"

namespace aemp_tool {
namespace {

namespace mp = sluice::mp;
using namespace std::chrono;

const std::set<std::string> network_commands = {"snd", "cal", "mon", "nodes", "db", "ping", "trace"};

void join_network() {
  mp::node_config cfg;
  cfg.profile = "aemp";
  try {
    mp::configure(cfg);
  } catch (const std::exception& e) {
    throw failure(exit_error, std::string("cannot start the aemp node: ") + e.what());
  }
}

mp::port_id parse_port(const std::string& cmd, const std::string& s) {
  try {
    return mp::port_id::parse(s);
  } catch (const std::invalid_argument&) {
    throw failure(exit_usage, cmd + ": \"" + s + "\" is not a port id (NODE#NAME)");
  }
}

void no_more(const words& w, const std::string& cmd) {
  if (!w.done()) throw failure(exit_usage, cmd + ": unexpected argument \"" + w.peek() + "\"");
}

mp::message rest_as_message(words& w) {
  mp::message m = mp::message::array();
  while (!w.done()) m.push_back(json_or_string(w.w[w.i++]));
  return m;
}

// Something a callback on another thread fills in once.
template <class T>
struct once {
  std::promise<T> p;
  std::atomic<bool> set{false};
  void put(T v) {
    if (!set.exchange(true)) p.set_value(std::move(v));
  }
};

std::string seconds_text(milliseconds t) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g s", static_cast<double>(t.count()) / 1000.0);
  return buf;
}

// The node port's "time" request: [round trip in ms, the node's clock].
std::optional<std::pair<double, double>> time_request(const std::string& node, milliseconds timeout) {
  auto got = std::make_shared<once<mp::message>>();
  auto fut = got->p.get_future();
  mp::port_id reply = mp::port([got](const mp::message& m) { got->put(m); });
  auto t0 = steady_clock::now();
  mp::snd(mp::port_id(node, std::string()), mp::message::array({"time", reply.str()}));
  bool ok = fut.wait_for(timeout) == std::future_status::ready;
  double rtt = duration<double, std::milli>(steady_clock::now() - t0).count();
  mp::kil(reply);
  if (!ok) return std::nullopt;
  mp::message m = fut.get();
  double clock = !m.empty() && m.back().is_number() ? m.back().get<double>() : 0.0;
  return std::make_pair(rtt, clock);
}

void require_reply(const std::optional<std::pair<double, double>>& r, const std::string& node, const options& o) {
  if (!r) throw failure(exit_timeout, "no answer from node " + node + " within " + seconds_text(o.timeout));
}

int cmd_snd(words& w, const options& o) {
  mp::port_id p = parse_port("snd", w.next("snd", "PORT"));
  mp::message m = rest_as_message(w);
  join_network();
  mp::snd(p, std::move(m));
  // Messages over one connection arrive in order: the answer to this request means the
  // message above was delivered to the node (not that the port exists: AEMP drops messages
  // to unknown ports silently).
  require_reply(time_request(p.node(), o.timeout), p.node(), o);
  return exit_ok;
}

int cmd_cal(words& w, const options& o) {
  mp::port_id p = parse_port("cal", w.next("cal", "PORT"));
  mp::message m = rest_as_message(w);
  join_network();
  auto got = std::make_shared<once<std::optional<mp::message>>>();
  auto fut = got->p.get_future();
  mp::cal(p, std::move(m), [got](std::optional<mp::message> r) { got->put(std::move(r)); }, o.timeout);
  if (fut.wait_for(o.timeout + seconds(2)) != std::future_status::ready)
    throw failure(exit_timeout, "cal " + p.str() + ": no reply within " + seconds_text(o.timeout));
  auto r = fut.get();
  if (!r) throw failure(exit_timeout, "cal " + p.str() + ": no reply (timeout after " + seconds_text(o.timeout) + ", or the port died)");
  std::string line;
  for (const auto& x : *r) line += (line.empty() ? "" : " ") + human(x);
  out(o, line, *r);
  return exit_ok;
}

int cmd_mon(words& w, const options& o) {
  mp::port_id p = parse_port("mon", w.next("mon", "PORT"));
  no_more(w, "mon");
  join_network();
  auto got = std::make_shared<once<mp::message>>();
  auto fut = got->p.get_future();
  mp::monitor m = mp::mon(p, [got](const mp::message& reason) { got->put(reason); });
  if (fut.wait_for(o.timeout) != std::future_status::ready) {
    m.cancel();
    throw failure(exit_timeout, "mon " + p.str() + ": still alive after " + seconds_text(o.timeout));
  }
  mp::message reason = fut.get();
  std::string line = p.str() + " died: ";
  if (reason.empty()) line += "normal";
  for (std::size_t i = 0; i < reason.size(); ++i) line += (i ? " " : "") + human(reason[i]);
  out(o, line, reason);
  return exit_ok;
}

// Waits until some connection (to a seed) is up; false at the deadline.
bool wait_connected(steady_clock::time_point deadline) {
  while (mp::up_nodes().empty()) {
    if (steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return true;
}

int cmd_nodes(words& w, const options& o) {
  no_more(w, "nodes");
  join_network();
  auto deadline = steady_clock::now() + o.timeout;
  if (!wait_connected(deadline))
    throw failure(exit_timeout, "nodes: no seed reachable within " + seconds_text(o.timeout) + " (seeds of profile aemp)");
  auto left = duration_cast<milliseconds>(deadline - steady_clock::now());
  auto listed = mp::db_family("'l", std::max(left, milliseconds(1)));
  if (!listed) throw failure(exit_timeout, "nodes: the master did not answer within " + seconds_text(o.timeout));
  std::set<std::string> up;
  for (const auto& n : mp::up_nodes()) up.insert(n);
  up.erase(mp::node_id());
  for (const auto& [node, addrs] : listed->items()) {
    if (node == mp::node_id()) continue;  // ourselves, the temporary node
    std::string line = node;
    for (const auto& a : addrs) line += " " + human(a);
    if (up.count(node)) line += " (connected)";
    out(o, line, json{{"node", node}, {"addresses", addrs}, {"connected", up.count(node) > 0}});
    up.erase(node);
  }
  for (const auto& node : up) out(o, node + " (connected, not in the directory)", json{{"node", node}, {"addresses", json::array()}, {"connected", true}});
  return exit_ok;
}

int cmd_db(words& w, const options& o) {
  std::string family = w.next("db", "FAMILY");
  no_more(w, "db");
  join_network();
  auto f = mp::db_family(family, o.timeout);
  if (!f) throw failure(exit_timeout, "db " + family + ": no master answered within " + seconds_text(o.timeout));
  if (o.json) {
    out(o, "", *f);
    return exit_ok;
  }
  for (const auto& [k, v] : f->items()) out(o, k + "\t" + human(v), v);
  return exit_ok;
}

int cmd_ping(words& w, const options& o) {
  std::string node = w.next("ping", "NODE");
  no_more(w, "ping");
  join_network();
  auto r = time_request(node, o.timeout);
  require_reply(r, node, o);
  char buf[160];
  std::snprintf(buf, sizeof buf, "%s: round trip %.3f ms, its clock %.6f", node.c_str(), r->first, r->second);
  out(o, buf, json{{"node", node}, {"rtt_ms", r->first}, {"time", r->second}});
  return exit_ok;
}

int cmd_trace(words& w, const options& o) {
  std::string node = w.next("trace", "NODE");
  no_more(w, "trace");
  join_network();
  auto t0 = steady_clock::now();
  mp::monitor nodes = mp::mon_nodes([&o](const std::string& n, bool up, const mp::message& reason) {
    std::string line = timestamp() + " " + (up ? "up " : "down ") + n;
    if (!up && !reason.empty()) line += " " + reason.dump(-1, ' ', false, json::error_handler_t::replace);
    out(o, line, json{{"time", timestamp()}, {"event", up ? "up" : "down"}, {"node", n}, {"reason", reason}});
  });
  auto r = time_request(node, o.timeout);
  require_reply(r, node, o);
  char buf[160];
  std::snprintf(buf, sizeof buf, "%s ping %s: round trip %.3f ms, its clock %.6f", timestamp().c_str(), node.c_str(),
                r->first, r->second);
  out(o, buf, json{{"time", timestamp()}, {"event", "ping"}, {"node", node}, {"rtt_ms", r->first}, {"clock", r->second}});
  mp::monitor dir = mp::db_mon("'l", [&o, node](const mp::message& all, const std::vector<std::string>& added,
                                                const std::vector<std::string>& changed, const std::vector<std::string>& deleted) {
    for (const auto* list : {&added, &changed}) {
      for (const auto& k : *list) {
        std::string what = list == &added ? "listens" : "moved";
        json addrs = all.contains(k) ? all[k] : json();
        out(o, timestamp() + " directory " + k + " " + what + " " + human(addrs),
            json{{"time", timestamp()}, {"event", what}, {"node", k}, {"addresses", addrs}});
      }
    }
    for (const auto& k : deleted)
      out(o, timestamp() + " directory " + k + " left", json{{"time", timestamp()}, {"event", "left"}, {"node", k}});
  });
  std::this_thread::sleep_until(t0 + o.timeout);
  dir.cancel();
  nodes.cancel();
  return exit_ok;
}

}  // namespace

bool is_network_command(const std::string& word) { return network_commands.count(word) > 0; }

int run_network_command(words& w, const options& o) {
  const std::string cmd = w.w[w.i++];
  int rc = exit_ok;
  if (cmd == "snd") rc = cmd_snd(w, o);
  else if (cmd == "cal") rc = cmd_cal(w, o);
  else if (cmd == "mon") rc = cmd_mon(w, o);
  else if (cmd == "nodes") rc = cmd_nodes(w, o);
  else if (cmd == "db") rc = cmd_db(w, o);
  else if (cmd == "ping") rc = cmd_ping(w, o);
  else if (cmd == "trace") rc = cmd_trace(w, o);
  return rc;
}

}  // namespace aemp_tool
