// TLS between a sluice node and real AnyEvent::MP 2.02 nodes (Perl, from
// ../shared/oracles/aemp-perl, driven by tests/interop/tls_node.pl), in both TCP roles.
// Skipped, and said to be, when the oracle or Perl's modules (Net::SSLeay included) are
// missing. Loopback ports 14110-14113 only. Every node here has the same fresh PEM (made by
// the test, in a scratch folder) and no secret: TLS alone authenticates (tls_sha3_512).
//
// Covered: we connect to a Perl node (we are the TCP client) and it connects to us (we are
// the TCP server); snd both ways (Perl's echo answers us); mon on a Perl port that does not
// exist (Perl's kil0); a Perl node monitors our port and we kill it (our kil0 reaches Perl);
// kill -9 of a Perl node seen by our monitor as transport_error; Perl's side of each
// connection says it ran TLS; a Perl node with another certificate never comes up.
#include <sluice/node.hpp>

#include <gtest/gtest.h>

#include "perl_node.hpp"
#include "port_inbox.hpp"
#include "tls_test_pem.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <fstream>
#include <iterator>
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

std::string node_script() {
  const char* e = std::getenv("SLUICE_TLS_NODE_SCRIPT");
  return e ? e : "";
}

bool perl_ready(const std::string& dir) {
  std::string cmd = "perl -I" + dir + "/lib -MAnyEvent::MP -MNet::SSLeay -MAnyEvent::TLS -e1 >/dev/null 2>&1";
  return !dir.empty() && access(node_script().c_str(), R_OK) == 0 && std::system(cmd.c_str()) == 0;
}

// A Perl node running tests/interop/tls_node.pl.
struct perl_node : sluice_test::perl_node {
  perl_node(std::vector<std::string> env, const std::string& logname)
      : sluice_test::perl_node(oracle(), node_script(), std::move(env), "tls-" + logname) {}
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

// The PEMs, in a scratch folder removed when the test ends.
struct scratch {
  std::string dir, network, other;
  scratch() {
    char tmpl[] = "/tmp/sluice-interop-tls-XXXXXX";
    if (mkdtemp(tmpl)) dir = tmpl;
    network = dir + "/network.pem";
    other = dir + "/other.pem";
  }
  ~scratch() {
    unlink(network.c_str());
    unlink(other.c_str());
    rmdir(dir.c_str());
  }
};

using sluice_test::inbox;

}  // namespace

TEST(InteropPerlTls, ASluiceNodeAndPerlNodesTalkOverTlsInBothTcpRoles) {
  if (!perl_ready(oracle())) {
    GTEST_SKIP() << "skipped: no AnyEvent::MP oracle at \"" << oracle() << "\" (or its Perl modules, Net::SSLeay), or no "
                 << "node script at \"" << node_script() << "\"";
  }
  scratch s;
  const std::string pem = sluice_test::make_node_pem();
  ASSERT_FALSE(pem.empty());
  ASSERT_TRUE(sluice_test::write_text(s.network, pem));
  ASSERT_TRUE(sluice_test::write_text(s.other, sluice_test::make_node_pem()));
  const char* f = std::getenv("SLUICE_INTEROP_FRAMING");
  const std::string framing = f ? f : "cbor";

  // Step 1: a Perl node that we connect to (its address is our seed): we are the TCP client.
  perl_node listener({"NODEID=perl-listener", "BIND=127.0.0.1:14112", "CERT_FILE=" + s.network, "LIFETIME=40"}, "listener");
  mp::node_config cfg;
  cfg.nodeid = "sluice-tls";
  cfg.cert = pem;  // and no secret
  cfg.binds = {"127.0.0.1:14110"};
  cfg.seeds = {"127.0.0.1:14112"};
  cfg.framing = {framing};
  cfg.monitor_timeout = 2s;
  cfg.use_rc_file = false;
  mp::configure(cfg);
  ASSERT_TRUE(wait_until([] { return is_up("perl-listener"); }, 15s)) << "never connected to perl-listener:\n" << listener.output();
  ASSERT_TRUE(wait_until([&] { return listener.said("node event sluice-tls up tls="); }, 5s)) << listener.output();
  EXPECT_FALSE(listener.said("tls=none")) << "Perl's side did not run TLS:\n" << listener.output();
  inbox replies;
  mp::snd(mp::port_id::parse("perl-listener#echo"), {"hello", replies.port});
  ASSERT_TRUE(replies.wait_for(1)) << listener.output();
  EXPECT_EQ(replies.got[0], mp::message::parse(R"(["echo_reply", "hello"])"));
  inbox none;
  mp::mon(mp::port_id::parse("perl-listener#doesnotexist"), none.port, mp::message::array({"gone"}));
  ASSERT_TRUE(none.wait_for(1));
  EXPECT_EQ(none.got[0], mp::message::parse(
                             R"(["gone", "no_such_port", "cannot monitor nonexistent port", "perl-listener#doesnotexist"])"));

  // Step 2: a Perl node that connects to us (we are its seed): we are the TCP server. It
  // monitors our port; we kill the port; its monitor gets our reason.
  mp::port_id target = mp::named_port("target", [](const mp::message&) {});
  perl_node connector({"NODEID=perl-connector", "BIND=127.0.0.1:14111", "SEED=127.0.0.1:14110", "CERT_FILE=" + s.network,
                       "MON=sluice-tls#target", "LIFETIME=40"}, "connector");
  ASSERT_TRUE(wait_until([] { return is_up("perl-connector"); }, 15s)) << "perl-connector never connected:\n" << connector.output();
  ASSERT_TRUE(wait_until([&] { return connector.said("node event sluice-tls up tls="); }, 5s)) << connector.output();
  EXPECT_FALSE(connector.said("tls=none")) << connector.output();
  std::printf("  Perl's side: %s\n  Perl's side: %s\n", listener.line_with("node event sluice-tls up").c_str(),
              connector.line_with("node event sluice-tls up").c_str());
  inbox replies2;
  mp::snd(mp::port_id::parse("perl-connector#echo"), {"hello2", replies2.port});
  ASSERT_TRUE(replies2.wait_for(1)) << connector.output();
  EXPECT_EQ(replies2.got[0], mp::message::parse(R"(["echo_reply", "hello2"])"));
  ASSERT_TRUE(wait_until([&] { return connector.said("perl-connector: mon sluice-tls#target"); }, 10s)) << connector.output();
  std::this_thread::sleep_for(300ms);  // its mon1 on the wire before the kill
  mp::kil(target, {"custom", "over tls"});
  ASSERT_TRUE(wait_until([&] { return connector.said("MON sluice-tls#target fired [\"custom\",\"over tls\"]"); }, 10s))
      << connector.output();

  // Step 3: kill -9 of the Perl node we connected to, seen by our monitor.
  inbox down;
  mp::mon(mp::port_id::parse("perl-listener#echo"), down.port, mp::message::array({"down"}));
  std::this_thread::sleep_for(200ms);  // the mon1 is on its way
  listener.kill9();
  ASSERT_TRUE(down.wait_for(1, 5s));
  EXPECT_EQ(down.got[0][1], "transport_error");
  EXPECT_EQ(down.got[0][2], "perl-listener");

  // Step 4: a Perl node with another certificate (we are its seed) never comes up.
  perl_node stranger({"NODEID=perl-stranger", "BIND=127.0.0.1:14113", "SEED=127.0.0.1:14110", "CERT_FILE=" + s.other,
                      "LIFETIME=10"}, "stranger");
  ASSERT_TRUE(wait_until([&] { return stranger.said("perl-stranger: up"); }, 10s)) << stranger.output();
  EXPECT_FALSE(wait_until([] { return is_up("perl-stranger"); }, 3s)) << "a Perl node with another certificate got in";
  EXPECT_FALSE(stranger.said("node event sluice-tls up")) << stranger.output();
}
