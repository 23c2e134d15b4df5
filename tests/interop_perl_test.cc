// Issue 11: a sluice node against real AnyEvent::MP 2.02 nodes (Perl, from
// ../shared/oracles/aemp-perl; tools/setup --interop installs its Debian packages). Skipped,
// and said to be, when the oracle or Perl's modules are missing. The framing comes from
// SLUICE_INTEROP_FRAMING (cbor or json: CTest runs both); the oracle's folder from
// SLUICE_AEMP_ORACLE.
//
// Covered: our node connects to a Perl seed (nodeA, 127.0.0.1:14040) and authenticates with
// HMAC-SHA3-512; snd to nodeA#echo and its reply (Perl -> sluice); mon on a port that does
// not exist (Perl's kil0 no_such_port); spawn of a Perl function as a port we name; a Perl node that connects to us as its seed and
// monitors our port, which we kill (our kil0 reaches Perl); kill -9 of the Perl node seen as
// transport_error by our monitor; an idle connection to Perl kept alive by our probes
// (monitor_timeout 1 s: Perl answers the node port's "time").
// The directory test (a second process; tests/interop/db_node.pl is our Perl node script):
// Perl's global node serving us (db_mon, db_family, g_find to reach a Perl node we never met,
// our entries reaching a Perl slave), us serving a Perl node (it seeds us: we become global,
// its entries and ours meet, global-to-global merge with Perl's nodeA, a killed Perl node's
// entries go), and Perl spawning our registered function, Perl killing our port, us killing
// a Perl port (the reason reaches our monitor, its db_reg entry goes).
#include <sluice/node.hpp>

#include <gtest/gtest.h>

#include "perl_node.hpp"
#include "port_inbox.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
namespace mp = sluice::mp;

namespace {

std::string oracle() {
  const char* e = std::getenv("SLUICE_AEMP_ORACLE");
  return e ? e : "";
}

bool perl_ready(const std::string& dir) {
  std::string cmd = "perl -I" + dir + "/lib -MAnyEvent::MP -e1 >/dev/null 2>&1";
  return !dir.empty() && access((dir + "/scripts/node_a.pl").c_str(), R_OK) == 0 && std::system(cmd.c_str()) == 0;
}

// A bare script name is one of the oracle's scripts; a path is one of ours (tests/interop).
struct perl_node : sluice_test::perl_node {
  perl_node(const std::string& script, std::vector<std::string> env, const std::string& logname)
      : sluice_test::perl_node(oracle(), script.find('/') == std::string::npos ? oracle() + "/scripts/" + script : script,
                               std::move(env), logname) {}
};

bool wait_until(const std::function<bool()>& f, std::chrono::milliseconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (f()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return f();
}

bool is_up(const std::string& node) {
  for (const auto& n : mp::up_nodes()) {
    if (n == node) return true;
  }
  return false;
}

using sluice_test::inbox;

// Cancels a db_mon when the test is over.
struct monitor_holder {
  mp::monitor m;
  ~monitor_holder() { m.cancel(); }
};

// What db_mon has reported for one family, readable from the test's thread.
struct family_view {
  std::mutex m;
  mp::message contents = mp::message::object();
  monitor_holder watch;
  bool has_key_with_prefix(const std::string& prefix, std::string* key = nullptr) {
    std::lock_guard<std::mutex> g(m);
    for (const auto& [k, v] : contents.items()) {
      if (k.rfind(prefix, 0) == 0) {
        if (key) *key = k;
        return true;
      }
    }
    return false;
  }
};

std::shared_ptr<family_view> watch_family(const std::string& family) {
  auto v = std::make_shared<family_view>();
  v->watch.m = mp::db_mon(family, [v](const mp::message& contents, const std::vector<std::string>&,
                                      const std::vector<std::string>&, const std::vector<std::string>&) {
    std::lock_guard<std::mutex> g(v->m);
    v->contents = contents;
  });
  return v;
}

std::string test_script(const char* name) { return std::string(SLUICE_TEST_SOURCE_DIR) + "/interop/" + name; }

}  // namespace

TEST(InteropPerl, ASluiceNodeAndPerlNodesTalkBothWays) {
  const std::string dir = oracle();
  if (!perl_ready(dir)) GTEST_SKIP() << "skipped: no AnyEvent::MP oracle at \"" << dir << "\" (or its Perl modules)";
  const char* f = std::getenv("SLUICE_INTEROP_FRAMING");
  const std::string framing = f ? f : "cbor";
  // Step 1: Perl's nodeA, a seed and global node on 127.0.0.1:14040, speaking only `framing`.
  perl_node a("node_a.pl", {"PERL_ANYEVENT_MP_RC=" + dir + "/perl-anyevent-mp.json", "LIFETIME=30",
                            "AEMP_FRAMING=" + framing}, "nodeA");
  // Step 2: our node, with nodeA as its seed.
  mp::node_config cfg;
  cfg.nodeid = "sluice1";
  cfg.secret = "interop-test-secret";
  cfg.binds = {"127.0.0.1:14045"};
  cfg.seeds = {"127.0.0.1:14040"};
  cfg.framing = {framing};
  cfg.monitor_timeout = 1s;  // idle connections are probed with the node port's "time"
  cfg.use_rc_file = false;
  mp::configure(cfg);
  ASSERT_TRUE(wait_until([] { return is_up("nodeA"); }, 15s)) << "never connected to Perl's nodeA:\n" << a.output();
  inbox downs;
  auto watch = mp::mon_nodes([&](const std::string& node, bool up, const mp::message& reason) {
    if (!up) mp::snd(downs.port, {node, reason});
  });
  std::this_thread::sleep_for(2500ms);  // idle for 2.5 monitor_timeouts: Perl answers the probes
  EXPECT_TRUE(is_up("nodeA"));
  EXPECT_EQ(downs.count(), 0u) << "an idle Perl peer was declared down";
  watch.cancel();  // before `downs` goes: later node events must not reach it
  // Step 3: snd to a Perl port, and its reply.
  inbox replies;
  mp::snd(mp::port_id::parse("nodeA#echo"), {"hello", replies.port});
  ASSERT_TRUE(replies.wait_for(1)) << a.output();
  EXPECT_EQ(replies.got[0], mp::message::parse(R"(["echo_reply", "pong", "hello"])"));
  // Step 4: mon on a Perl port that does not exist.
  inbox none;
  mp::mon(mp::port_id::parse("nodeA#doesnotexist"), none.port, mp::message::array({"gone"}));
  ASSERT_TRUE(none.wait_for(1));
  EXPECT_EQ(none.got[0], mp::message::parse(
                             R"(["gone", "no_such_port", "cannot monitor nonexistent port", "nodeA#doesnotexist"])"));
  // Step 4b: spawn a Perl function on nodeA as a port we name, then talk to that port.
  mp::port_id spawned = mp::spawn("nodeA", "main::spawned", {"arg1", 7});
  mp::snd(spawned, {"msg-to-spawned"});
  ASSERT_TRUE(wait_until([&] {
    std::string out = a.output();
    return out.find("spawned port " + spawned.str() + " created, init args [\"arg1\",7]") != std::string::npos &&
           out.find("spawned port " + spawned.str() + " received [\"msg-to-spawned\"]") != std::string::npos;
  }, 10s)) << a.output();
  // Step 5: a Perl node that connects to us as its seed and monitors our port; we kill it.
  mp::port_id target = mp::named_port("target", [](const mp::message&) {});
  perl_node c("node_generic.pl", {"NODEID=nodeC", "BIND=127.0.0.1:14046", "SEED=127.0.0.1:14045",
                                  "MON=sluice1#target", "LIFETIME=20"}, "nodeC");
  ASSERT_TRUE(wait_until([] { return is_up("nodeC"); }, 15s)) << "Perl's nodeC never connected to us:\n" << c.output();
  ASSERT_TRUE(wait_until([&] { return c.output().find("nodeC: mon sluice1#target") != std::string::npos; }, 10s))
      << c.output();
  std::this_thread::sleep_for(300ms);  // its mon1 on the wire before the kill
  mp::kil(target, {"custom", "from sluice"});
  ASSERT_TRUE(wait_until([&] { return c.output().find("MON sluice1#target fired [\"custom\",\"from sluice\"]") != std::string::npos; }, 10s))
      << c.output();
  // Step 6: kill -9 of nodeA, seen by our monitor as a transport error.
  inbox down;
  mp::mon(mp::port_id::parse("nodeA#echo"), down.port, mp::message::array({"down"}));
  std::this_thread::sleep_for(200ms);  // the mon1 is on its way
  auto t0 = std::chrono::steady_clock::now();
  a.kill9();
  ASSERT_TRUE(down.wait_for(1, 5s));
  EXPECT_EQ(down.got[0][0], "down");
  EXPECT_EQ(down.got[0][1], "transport_error");
  EXPECT_EQ(down.got[0][2], "nodeA");
  std::printf("  kill -9 of the Perl node noticed in %.1f ms\n",
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
}

// The directory (gproto 1) with Perl in both roles: Perl's nodeA is our master first; then a
// Perl node whose seed is us makes us a global node beside nodeA.
TEST(InteropPerl, TheDirectoryWorksBothWays) {
  const std::string dir = oracle();
  if (!perl_ready(dir)) GTEST_SKIP() << "skipped: no AnyEvent::MP oracle at \"" << dir << "\" (or its Perl modules)";
  const char* f = std::getenv("SLUICE_INTEROP_FRAMING");
  const std::string framing = f ? f : "cbor";
  // Step 1: Perl's nodeA (a seed, hence global) and our node, whose seed and master it is.
  perl_node a("node_a.pl", {"PERL_ANYEVENT_MP_RC=" + dir + "/perl-anyevent-mp.json", "LIFETIME=40",
                            "AEMP_FRAMING=" + framing}, "dbA");
  mp::node_config cfg;
  cfg.nodeid = "sluice1";
  cfg.secret = "interop-test-secret";
  cfg.binds = {"127.0.0.1:14045"};
  cfg.seeds = {"127.0.0.1:14040"};
  cfg.framing = {framing};
  cfg.use_rc_file = false;
  mp::configure(cfg);
  ASSERT_TRUE(wait_until([] { return is_up("nodeA"); }, 15s)) << a.output();
  // Step 2: Perl's directory to us: the port nodeA registered, by db_mon and by db_family.
  auto demo = watch_family("demo_service");
  ASSERT_TRUE(wait_until([&] { return demo->has_key_with_prefix("nodeA#"); }, 10s)) << a.output();
  auto fam = mp::db_family("demo_service", 5s);
  ASSERT_TRUE(fam.has_value());
  EXPECT_EQ(fam->size(), 1u) << fam->dump();
  // Step 3: our entry reaches a Perl slave of nodeA (nodeD) through nodeA.
  mp::db_set("sluice_family", "k1", {{"v", 1}});
  perl_node d(test_script("db_node.pl"), {"NODEID=nodeD", "BIND=127.0.0.1:14047", "SEED=127.0.0.1:14040",
                                          "DBMON=sluice_family", "DBREG=d_family", "FRAMING=" + framing, "LIFETIME=30"},
              "dbD");
  ASSERT_TRUE(wait_until([&] { return d.output().find(R"(nodeD: DBMON [{"k1":{"v":1}})") != std::string::npos; }, 15s))
      << d.output();
  // Step 4: we never met nodeD: nodeA's directory tells us where it listens (g_find).
  auto dfam = watch_family("d_family");
  std::string dport;
  ASSERT_TRUE(wait_until([&] { return dfam->has_key_with_prefix("nodeD#", &dport); }, 10s)) << d.output();
  EXPECT_FALSE(is_up("nodeD"));
  mp::snd(mp::port_id::parse(dport), {"hello-from-sluice", 7});
  ASSERT_TRUE(wait_until([&] { return d.output().find(R"(nodeD: GOT ["hello-from-sluice",7])") != std::string::npos; }, 10s))
      << d.output();
  // Step 5: a Perl node whose seed is us (nodeE) makes us global: its entries and ours meet
  // here, and nodeA's slaves' entries come over from nodeA (global to global).
  // nodeE also spawns a function of ours here, and kills one of our ports.
  mp::register_function("test::from_perl", [](const mp::message& args) {
    mp::snd(mp::port_id::parse(args.at(0).get<std::string>()), {"spawned-here", mp::self().str()});
  });
  inbox victim_died;
  mp::port_id victim = mp::named_port("victim", [](const mp::message&) {});
  mp::mon(victim, victim_died.port, mp::message::array({"victim"}));
  perl_node e(test_script("db_node.pl"), {"NODEID=nodeE", "BIND=127.0.0.1:14048", "SEED=127.0.0.1:14045",
                                          "DBSET=e_family,ek,\"ev\"", "DBMON=sluice_family2", "DBREG=e_reg",
                                          "SPAWN=sluice1,test::from_perl", "KILL=sluice1#victim",
                                          "FRAMING=" + framing, "LIFETIME=30"},
              "dbE");
  ASSERT_TRUE(wait_until([] { return is_up("nodeE"); }, 15s)) << e.output();
  mp::db_set("sluice_family2", "k2", "v2");
  ASSERT_TRUE(wait_until([&] { return e.output().find(R"(nodeE: DBMON [{"k2":"v2"})") != std::string::npos; }, 10s))
      << e.output();
  EXPECT_TRUE(wait_until([] { return mp::db_family("e_family", 1s) == mp::message::parse(R"({"ek": "ev"})"); }, 10s));
  EXPECT_TRUE(wait_until([&] {
    auto got = mp::db_family("d_family", 1s);
    return got && got->contains(dport);
  }, 10s)) << "nodeA's slave's entry never reached us";
  // Step 5b: Perl spawns our registered function here and kills our port.
  ASSERT_TRUE(wait_until([&] { return e.output().find(R"(nodeE: GOT ["spawned-here","sluice1#)") != std::string::npos; }, 10s))
      << e.output();
  ASSERT_TRUE(victim_died.wait_for(1, 10s)) << e.output();
  EXPECT_EQ(victim_died.got[0], mp::message::parse(R"(["victim", "killed_by_perl", 42])"));
  // Step 5c: we kill nodeE's registered port: our monitor sees the reason; its entry goes.
  auto ereg = watch_family("e_reg");
  std::string eport;
  ASSERT_TRUE(wait_until([&] { return ereg->has_key_with_prefix("nodeE#", &eport); }, 10s));
  inbox e_died;
  mp::mon(mp::port_id::parse(eport), e_died.port, mp::message::array({"eport"}));
  mp::kil(mp::port_id::parse(eport), {"bye", "from sluice"});
  ASSERT_TRUE(e_died.wait_for(1, 10s));
  EXPECT_EQ(e_died.got[0], mp::message::parse(R"(["eport", "bye", "from sluice"])"));
  EXPECT_TRUE(wait_until([&] { return !ereg->has_key_with_prefix("nodeE#"); }, 10s));
  // Step 6: kill -9 of nodeD: nodeA drops its entries and tells us, a global node.
  ASSERT_TRUE(wait_until([&] { return dfam->has_key_with_prefix("nodeD#"); }, 10s));
  d.kill9();
  EXPECT_TRUE(wait_until([&] { return !dfam->has_key_with_prefix("nodeD#"); }, 10s)) << a.output();
}
