// TLS on AEMP connections, the pure parts (sluice/internal/aemp/tls.hpp and the handshake's
// TLS step): when TLS is used, who is the TLS client, how much of a peeked greeting may be
// taken, which PEM a node accepts, and the tls_sha3_512 token both ways.
#include <sluice/internal/aemp/handshake.hpp>
#include <sluice/internal/aemp/tls.hpp>

#include <gtest/gtest.h>

#include "tls_test_pem.hpp"

#include <string>

namespace aemp = sluice::mp::aemp;
using step = aemp::handshake::step;

namespace {

aemp::handshake_config config(std::string node, std::optional<std::string> secret, bool cert) {
  aemp::handshake_config c;
  c.nodeid = std::move(node);
  c.secret = std::move(secret);
  c.tls = cert;
  return c;
}

// Passes bytes between two machines until neither has anything to send; a machine in the
// TLS step gets nothing (its transport would be running TLS).
void pump(aemp::handshake& a, aemp::handshake& b) {
  for (int i = 0; i < 8; ++i) {
    std::string x = a.take_output(), y = b.take_output();
    if (x.empty() && y.empty()) return;
    if (!x.empty()) b.feed(x);
    if (!y.empty()) a.feed(y);
  }
}

aemp::greeting greeting_of(const std::string& line) {
  std::string why;
  auto g = aemp::parse_greeting(line, why);
  EXPECT_TRUE(g) << why;
  return g.value_or(aemp::greeting{});
}

std::string first_line(const std::string& bytes) { return bytes.substr(0, bytes.find('\n')); }

}  // namespace

TEST(AempTls, TheTlsKeyIsReadAsPerlsIntReadsIt) {
  EXPECT_EQ(aemp::perl_int("1.0"), 1);
  EXPECT_EQ(aemp::perl_int("1"), 1);
  EXPECT_EQ(aemp::perl_int("1.9"), 1);
  EXPECT_EQ(aemp::perl_int(" 1.0"), 1);
  EXPECT_EQ(aemp::perl_int("+1.5"), 1);
  EXPECT_EQ(aemp::perl_int("1abc"), 1);
  EXPECT_EQ(aemp::perl_int("1."), 1);
  EXPECT_EQ(aemp::perl_int("1e0"), 1);
  EXPECT_EQ(aemp::perl_int("10e-1"), 1);
  EXPECT_EQ(aemp::perl_int("2.0"), 2);
  EXPECT_EQ(aemp::perl_int("0.9"), 0);
  EXPECT_EQ(aemp::perl_int("-1"), -1);
  EXPECT_EQ(aemp::perl_int(""), 0);
  EXPECT_EQ(aemp::perl_int("abc"), 0);
  EXPECT_EQ(aemp::perl_int(".5"), 0);
  EXPECT_EQ(aemp::perl_int("e1"), 0);
  EXPECT_EQ(aemp::perl_int("1e999"), 0) << "out of range: not 1";
}

TEST(AempTls, TlsIsUsedOnlyWithACertificateAndAPeerOfferingVersion1) {
  auto with = greeting_of("aemp;1;p;tls_sha3_512;json;provider=AE-2.01;tls=1.0");
  auto v2 = greeting_of("aemp;1;p;tls_sha3_512;json;tls=2.0");
  auto bare = greeting_of("aemp;1;p;tls_sha3_512;json;tls");
  auto without = greeting_of("aemp;1;p;hmac_sha3_512;json;provider=AE-2.01");
  EXPECT_TRUE(aemp::use_tls(true, with));
  EXPECT_FALSE(aemp::use_tls(false, with)) << "no certificate here";
  EXPECT_FALSE(aemp::use_tls(true, v2));
  EXPECT_FALSE(aemp::use_tls(true, bare));
  EXPECT_FALSE(aemp::use_tls(true, without));
}

TEST(AempTls, TheLowerNonceLineIsTheClient) {
  EXPECT_EQ(aemp::tls_role_of("AAAA", "AAAB"), aemp::tls_role::client);
  EXPECT_EQ(aemp::tls_role_of("AAAB", "AAAA"), aemp::tls_role::server);
  EXPECT_EQ(aemp::tls_role_of("Z", "a"), aemp::tls_role::client) << "bytewise: 'Z' < 'a'";
  EXPECT_EQ(aemp::tls_role_of("+", "/"), aemp::tls_role::client);
  std::string a = aemp::make_nonce(), b = aemp::make_nonce();
  EXPECT_NE(aemp::tls_role_of(a, b), aemp::tls_role_of(b, a)) << "exactly one client";
}

TEST(AempTls, APeekedGreetingIsTakenOnlyThroughItsLastLine) {
  EXPECT_EQ(aemp::bytes_through_lines("l1\nnonce\n\x16\x03\x01", 2), 9u);
  EXPECT_EQ(aemp::bytes_through_lines("nonce\n\x16\x03\x01", 1), 6u);
  EXPECT_EQ(aemp::bytes_through_lines("l1\nnon", 2), 6u) << "all of it: line 2 is not complete";
  EXPECT_EQ(aemp::bytes_through_lines("partial", 1), 7u);
  EXPECT_EQ(aemp::bytes_through_lines("x\ny\n", 0), 0u);
  EXPECT_EQ(aemp::bytes_through_lines("", 2), 0u);
}

TEST(AempTls, ANodePemNeedsItsKeyAndAMatchingCertificate) {
  std::string pem = sluice_test::make_node_pem(), other = sluice_test::make_node_pem("other");
  ASSERT_FALSE(pem.empty());
  std::string key = sluice_test::pem_block(pem, "PRIVATE KEY"), cert = sluice_test::pem_block(pem, "CERTIFICATE");
  ASSERT_FALSE(key.empty());
  ASSERT_FALSE(cert.empty());
  std::string why;
  EXPECT_TRUE(aemp::check_node_pem(pem, why)) << why;
  EXPECT_TRUE(aemp::check_node_pem(cert + key, why)) << "either order: " << why;
  EXPECT_FALSE(aemp::check_node_pem(cert, why));
  EXPECT_NE(why.find("no (unencrypted) private key"), std::string::npos) << why;
  EXPECT_FALSE(aemp::check_node_pem(key, why));
  EXPECT_NE(why.find("no certificate"), std::string::npos) << why;
  EXPECT_FALSE(aemp::check_node_pem(key + sluice_test::pem_block(other, "CERTIFICATE"), why));
  EXPECT_NE(why.find("does not belong"), std::string::npos) << why;
  EXPECT_FALSE(aemp::check_node_pem("not a PEM at all", why));
  EXPECT_FALSE(aemp::check_node_pem("", why));
}

TEST(AempTls, ACertificateAddsTlsToTheGreetingAndTlsSha3First) {
  aemp::handshake both(config("a", std::string("s"), true)), cert_only(config("b", std::nullopt, true)),
      secret_only(config("c", std::string("s"), false));
  auto g = greeting_of(first_line(both.take_output()));
  EXPECT_EQ(g.key("tls"), "1.0");
  EXPECT_EQ(g.auths, (std::vector<std::string>{"tls_sha3_512", "hmac_sha3_512"}));
  g = greeting_of(first_line(cert_only.take_output()));
  EXPECT_EQ(g.key("tls"), "1.0");
  EXPECT_EQ(g.auths, (std::vector<std::string>{"tls_sha3_512"}));
  g = greeting_of(first_line(secret_only.take_output()));
  EXPECT_EQ(g.key("tls"), std::nullopt) << "no certificate: nothing changes";
  EXPECT_EQ(g.auths, (std::vector<std::string>{"hmac_sha3_512"}));
}

// Steps 1-5 with TLS: both machines stop after the nonce lines (nothing more to send: the
// authentication line must go through TLS), exactly one is the client, and after tls_up
// both authenticate with tls_sha3_512 and finish.
TEST(AempTls, TwoNodesWithCertificatesStopForTlsThenAuthenticateWithTlsSha3) {
  aemp::handshake a(config("a", std::nullopt, true)), b(config("b", std::nullopt, true));
  EXPECT_EQ(a.greeting_lines_left(), 2u);
  pump(a, b);
  ASSERT_EQ(a.state(), step::tls) << a.error();
  ASSERT_EQ(b.state(), step::tls) << b.error();
  EXPECT_EQ(a.greeting_lines_left(), 0u);
  EXPECT_NE(a.tls_client(), b.tls_client());
  EXPECT_EQ(a.take_rest(), "");
  a.tls_up();
  b.tls_up();
  std::string a_auth = a.take_output(), b_auth = b.take_output();
  EXPECT_EQ(a_auth.substr(0, 13), "tls_sha3_512;");
  a.feed(b_auth);
  b.feed(a_auth + "more");
  ASSERT_EQ(a.state(), step::done) << a.error();
  ASSERT_EQ(b.state(), step::done) << b.error();
  EXPECT_EQ(b.take_rest(), "more");
}

// Against a greeting as Perl writes it (with tls=1.0): the token is SHA3-512 over M, own
// lines first, lowercase hex; the peer's is checked from its side.
TEST(AempTls, TheTokenIsSha3OfTheFourLinesAndThePeersIsCheckedFromItsSide) {
  const std::string r1 = "aemp;1;perl;tls_sha3_512,hmac_sha3_512,tls_anon,cleartext;cbor,json,storable;tls=1.0;provider=AE-2.01";
  const std::string r2 = std::string(88, 'z');  // higher than any base64 nonce except 'z'*88: we are the client
  aemp::handshake h(config("me", std::nullopt, true));
  std::string mine = h.take_output();
  std::string l1 = first_line(mine), l2 = mine.substr(l1.size() + 1, 88);
  EXPECT_EQ(h.feed(r1 + "\n" + r2 + "\n"), step::tls);
  EXPECT_TRUE(h.tls_client());
  EXPECT_EQ(h.take_output(), "") << "nothing in the clear after the greeting";
  EXPECT_EQ(h.feed("x"), step::failed) << "bytes during the TLS step are the transport's mistake";
  aemp::handshake k(config("me", std::nullopt, true), l2);  // the same again, now through TLS
  k.take_output();
  k.feed(r1 + "\n" + r2 + "\n");
  k.tls_up();
  EXPECT_EQ(k.take_output(), "tls_sha3_512;" + aemp::sha3_512_hex(aemp::auth_message(l1, l2, r1, r2)) + ";cbor\n");
  EXPECT_EQ(k.feed("tls_sha3_512;" + aemp::sha3_512_hex(aemp::auth_message(r1, r2, l1, l2)) + ";json\n"), step::done)
      << k.error();
  EXPECT_EQ(k.recv_framing(), aemp::framing::json);
  aemp::handshake bad(config("me", std::nullopt, true), l2);
  bad.take_output();
  bad.feed(r1 + "\n" + r2 + "\n");
  bad.tls_up();
  EXPECT_EQ(bad.feed("tls_sha3_512;" + aemp::sha3_512_hex(aemp::auth_message(l1, l2, r1, r2)) + ";json\n"), step::failed)
      << "a token over the lines in my order is not the peer's";
  aemp::handshake anon(config("me", std::nullopt, true), l2);
  anon.take_output();
  anon.feed(r1 + "\n" + r2 + "\n");
  anon.tls_up();
  EXPECT_EQ(anon.feed("tls_anon;;json\n"), step::failed);
  EXPECT_EQ(anon.error(), "auth: peer used a method I did not offer: tls_anon");
}

TEST(AempTls, OneSideWithoutACertificateMeansNoTls) {
  {  // both have the secret: HMAC as before
    aemp::handshake a(config("a", std::string("s"), true)), b(config("b", std::string("s"), false));
    pump(a, b);
    EXPECT_EQ(a.state(), step::done) << a.error();
    EXPECT_EQ(b.state(), step::done) << b.error();
  }
  {  // a certificate alone cannot authenticate without TLS
    aemp::handshake a(config("a", std::nullopt, true)), b(config("b", std::string("s"), false));
    pump(a, b);
    EXPECT_EQ(a.state(), step::failed);
    EXPECT_EQ(a.error(), "nonce: no authentication method in common (a shared secret on both sides?)");
  }
}
