// tools/aemp/seed.cc - `aemp seed [profile NAME]`: a standalone global node (see aemp.hpp).
//
// The profile (default "seed") must have binds with a fixed port. The node is configured from
// the resolved profile with its own bind addresses added to its seeds ("*" or 0.0.0.0 as
// 127.0.0.1): a node that finds itself behind a seed address becomes global, so sluice and
// Perl nodes that list this address as a seed use it as their master. It logs connections
// (node_config::log, on stderr) and, on stdout with UTC timestamps, node up/down and the
// changes of the directory family "'l" (which node listens where). SIGINT or SIGTERM (taken
// with sigwait in the main thread) ends it with exit 0.
#include <signal.h>

#include <cstring>

#include "aemp.hpp"
#include "sluice/internal/aemp/rcfile.hpp"
#include "sluice/node.hpp"

namespace aemp_tool {
namespace {

namespace mp = sluice::mp;
namespace rc = sluice::mp::aemp;

// "host:port" with a fixed port -> the address to reach it on this host; "" if none.
std::string reachable(const std::string& bind) {
  auto colon = bind.rfind(':');
  if (colon == std::string::npos) return {};
  std::string host = bind.substr(0, colon), port = bind.substr(colon + 1);
  if (port.empty() || port == "*" || port == "0") return {};
  if (host == "*" || host == "0.0.0.0" || host.empty()) host = "127.0.0.1";
  return host + ":" + port;
}

std::vector<std::string> strings(const json& list) {
  std::vector<std::string> v;
  for (const auto& x : list)
    if (x.is_string()) v.push_back(x.get<std::string>());
  return v;
}

mp::node_config config_of(const std::string& profile) {
  std::string why;
  auto file = rc::load_rc(rc::rc_path(), why);
  if (!file) throw failure(exit_error, why);
  auto conf = rc::resolve_profile(*file, profile, json::object(), false, why);
  if (!conf) throw failure(exit_error, "seed: profile " + profile + ": " + why);
  auto pattern = rc::nodeid_pattern(*conf, profile, why);
  auto binds = pattern ? rc::binds_of(*conf, why) : std::nullopt;
  auto seeds = binds ? rc::seeds_of(*conf, why) : std::nullopt;
  if (!seeds) throw failure(exit_error, "seed: profile " + profile + ": " + why);
  mp::node_config cfg;
  cfg.use_rc_file = false;  // resolved here, so that our seed addresses are not overridden
  cfg.profile = profile;
  cfg.nodeid = *pattern;
  cfg.binds = strings(*binds);
  cfg.seeds = strings(*seeds);
  bool fixed = false;
  for (const auto& b : cfg.binds) {
    std::string self = reachable(b);
    if (self.empty()) continue;
    fixed = true;
    if (std::find(cfg.seeds.begin(), cfg.seeds.end(), self) == cfg.seeds.end()) cfg.seeds.push_back(self);
  }
  if (!fixed)
    throw failure(exit_usage, "seed: profile " + profile + " has no bind with a fixed port (aemp profile " + profile +
                                  " setbinds 127.0.0.1:PORT)");
  if (conf->contains("secret") && (*conf)["secret"].is_string()) cfg.secret = (*conf)["secret"].get<std::string>();
  if (conf->contains("cert") && (*conf)["cert"].is_string()) cfg.cert = (*conf)["cert"].get<std::string>();
  if (conf->contains("framing_format") && (*conf)["framing_format"].is_array())
    for (const auto& f : strings((*conf)["framing_format"]))
      if (f == "cbor" || f == "json") cfg.framing.push_back(f);  // storable is Perl's only
  auto secs = [&](const char* key) -> std::optional<std::chrono::milliseconds> {
    if (!conf->contains(key) || !(*conf)[key].is_number()) return std::nullopt;
    return std::chrono::milliseconds(static_cast<long long>((*conf)[key].get<double>() * 1000));
  };
  cfg.connect_interval = secs("connect_interval");
  cfg.monitor_timeout = secs("monitor_timeout");
  cfg.secure = !conf->contains("secure") || rc::perl_true((*conf)["secure"]);
  cfg.log = true;
  return cfg;
}

}  // namespace

int run_seed(words& w, const options& o, const std::string& given_profile) {
  std::string profile = given_profile.empty() ? "seed" : given_profile;
  if (!w.done() && w.peek() == "profile") {
    ++w.i;
    profile = w.next("seed profile", "NAME");
  }
  if (!w.done()) throw failure(exit_usage, "seed: unexpected argument \"" + w.peek() + "\"");
  mp::node_config cfg = config_of(profile);
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);  // before configure: every thread inherits it
  try {
    mp::configure(cfg);
  } catch (const std::exception& e) {
    throw failure(exit_error, std::string("seed: ") + e.what());
  }
  json seeds = cfg.seeds, binds = cfg.binds;
  out(o, timestamp() + " seed " + mp::node_id() + " binds " + binds.dump() + " seeds " + seeds.dump(),
      json{{"time", timestamp()}, {"event", "start"}, {"node", mp::node_id()}, {"binds", binds}, {"seeds", seeds}});
  mp::monitor nodes = mp::mon_nodes([&o](const std::string& n, bool up, const mp::message& reason) {
    std::string line = timestamp() + " " + (up ? "up " : "down ") + n;
    if (!up && !reason.empty()) line += " " + reason.dump(-1, ' ', false, json::error_handler_t::replace);
    out(o, line, json{{"time", timestamp()}, {"event", up ? "up" : "down"}, {"node", n}, {"reason", reason}});
  });
  mp::monitor dir = mp::db_mon("'l", [&o](const mp::message& all, const std::vector<std::string>& added,
                                          const std::vector<std::string>& changed, const std::vector<std::string>& deleted) {
    for (const auto* list : {&added, &changed})
      for (const auto& k : *list) {
        json addrs = all.contains(k) ? all[k] : json();
        out(o, timestamp() + " directory " + k + " " + (list == &added ? "listens " : "moved ") + human(addrs),
            json{{"time", timestamp()}, {"event", list == &added ? "listens" : "moved"}, {"node", k}, {"addresses", addrs}});
      }
    for (const auto& k : deleted)
      out(o, timestamp() + " directory " + k + " left", json{{"time", timestamp()}, {"event", "left"}, {"node", k}});
  });
  int sig = 0;
  while (sigwait(&stop, &sig) != 0) {
  }
  dir.cancel();
  nodes.cancel();
  out(o, timestamp() + " stopping (" + (sig == SIGINT ? "SIGINT" : "SIGTERM") + ")",
      json{{"time", timestamp()}, {"event", "stop"}, {"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}});
  return exit_ok;
}

}  // namespace aemp_tool
