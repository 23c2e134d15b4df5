// Issue 11: the AEMP handshake state machine (sluice/internal/aemp/handshake.hpp): replaying
// a real AnyEvent::MP 2.02 connection (tests/data/aemp) byte for byte from either side, two
// machines talking to each other, and every way a handshake fails.
#include <sluice/internal/aemp/handshake.hpp>

#include <gtest/gtest.h>

#include "aemp_test_data.hpp"

#include <fstream>
#include <iterator>
#include <string>

namespace aemp = sluice::mp::aemp;
using step = aemp::handshake::step;

namespace {

const std::string& secret = sluice_test::aemp_secret;
const auto read_file = sluice_test::read_aemp_file;

struct captured {
  std::string line1, line2, auth, handshake_bytes, data;
};

captured split(const std::string& stream) {
  captured c;
  std::size_t a = stream.find('\n'), b = stream.find('\n', a + 1), e = stream.find('\n', b + 1);
  c.line1 = stream.substr(0, a);
  c.line2 = stream.substr(a + 1, b - a - 1);
  c.auth = stream.substr(b + 1, e - b - 1);
  c.handshake_bytes = stream.substr(0, e + 1);
  c.data = stream.substr(e + 1);
  return c;
}

// A machine that announces exactly what the captured side announced, with its nonce.
aemp::handshake as_captured(const captured& side) {
  std::string why;
  auto g = aemp::parse_greeting(side.line1, why);
  EXPECT_TRUE(g) << why;
  aemp::handshake_config cfg;
  cfg.nodeid = g->nodeid;
  cfg.secret = secret;
  cfg.auths = g->auths;
  cfg.framings = g->framings;
  cfg.keys = g->keys;
  return aemp::handshake(cfg, side.line2);
}

// Plays `me` (a captured side) against the bytes the other captured side sent: what we send
// must be what Perl sent, byte for byte, and the peer must be accepted.
void replay(const std::string& dir, const char* mine, const char* theirs, aemp::framing f) {
  captured me = split(read_file(dir + "/" + mine)), peer = split(read_file(dir + "/" + theirs));
  aemp::handshake h = as_captured(me);
  std::string sent = h.take_output();
  EXPECT_EQ(sent, me.line1 + "\n" + me.line2 + "\n");
  // The peer's whole stream in one read: handshake and the first data together.
  EXPECT_EQ(h.feed(peer.handshake_bytes + peer.data), step::done) << h.error();
  sent += h.take_output();
  EXPECT_EQ(sent, me.handshake_bytes) << "our greeting and authentication line differ from Perl's";
  EXPECT_EQ(h.send_framing(), f);
  EXPECT_EQ(h.recv_framing(), f);
  EXPECT_EQ(h.take_rest(), peer.data);
}

aemp::handshake_config config(std::string node, std::optional<std::string> s = secret) {
  aemp::handshake_config c;
  c.nodeid = std::move(node);
  c.secret = std::move(s);
  return c;
}

// Passes bytes between two machines until neither has anything to send.
void pump(aemp::handshake& a, aemp::handshake& b) {
  for (int i = 0; i < 8; ++i) {
    std::string x = a.take_output(), y = b.take_output();
    if (x.empty() && y.empty()) return;
    b.feed(x);
    a.feed(y);
  }
}

}  // namespace

TEST(AempHandshake, ReplaysAPerlConnectorAndListenerByteForByte) {
  replay("tap-json", "conn1.c2s.bin", "conn1.s2c.bin", aemp::framing::json);
  replay("tap-json", "conn1.s2c.bin", "conn1.c2s.bin", aemp::framing::json);
  replay("tap-cbor", "conn1.c2s.bin", "conn1.s2c.bin", aemp::framing::cbor);
  replay("tap-cbor", "conn1.s2c.bin", "conn1.c2s.bin", aemp::framing::cbor);
}

TEST(AempHandshake, TwoNodesAgreeAndEachSendsThePeersPreferredFraming) {
  auto ca = config("a"), cb = config("b");
  cb.framings = {"json", "cbor"};
  aemp::handshake a(ca), b(cb);
  pump(a, b);
  ASSERT_EQ(a.state(), step::done) << a.error();
  ASSERT_EQ(b.state(), step::done) << b.error();
  EXPECT_EQ(a.peer().nodeid, "b");
  EXPECT_EQ(a.send_framing(), aemp::framing::json) << "b prefers json";
  EXPECT_EQ(b.send_framing(), aemp::framing::cbor) << "a prefers cbor";
  EXPECT_EQ(a.recv_framing(), b.send_framing());
}

TEST(AempHandshake, EveryFailureNamesItsStep) {
  {
    aemp::handshake a(config("a")), b(config("b", std::string("other secret")));
    pump(a, b);
    EXPECT_EQ(a.state(), step::failed);
    EXPECT_EQ(a.error(), "auth: authentication failed (wrong secret or certificate)");
  }
  {
    aemp::handshake a(config("a")), b(config("b", std::nullopt));
    pump(a, b);
    EXPECT_EQ(b.error(), "nonce: no authentication method in common (a shared secret on both sides?)");
  }
  {
    aemp::handshake a(config("a")), a2(config("a"));
    pump(a, a2);
    EXPECT_EQ(a.error(), "greeting: I refuse to talk to myself");
  }
  {
    aemp::handshake a(config("a"));
    a.feed(a.take_output());  // a connection to itself through a reflector
    EXPECT_EQ(a.error(), "greeting: I refuse to talk to myself");
  }
  {
    aemp::handshake a(config("a"));
    a.feed("GET / HTTP/1.1\r\n");
    EXPECT_EQ(a.error(), "greeting: not an AEMP greeting");
  }
  {
    aemp::handshake a(config("a"));
    a.feed(std::string(5000, 'x'));
    EXPECT_EQ(a.error(), "greeting: line too long");
  }
  {
    auto cb = config("b");
    cb.framings = {"storable"};
    aemp::handshake a(config("a")), b(cb);
    pump(a, b);
    EXPECT_EQ(a.error(), "nonce: no framing in common");
  }
  {
    aemp::handshake a(config("a"));
    a.feed("aemp;1;b;hmac_sha3_512;json\nnonce\nhmac_sha3_512;00;json\n");
    EXPECT_EQ(a.error(), "auth: authentication failed (wrong secret or certificate)");
    EXPECT_EQ(a.feed("more"), step::failed) << "a failed handshake stays failed";
  }
}
