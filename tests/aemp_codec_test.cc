// Issue 11: the AEMP codecs (greeting, authentication, JSON and CBOR framing) on the byte
// streams of real AnyEvent::MP 2.02 connections (tests/data/aemp, captured from the Perl node
// in ../shared/oracles/aemp-perl with the secret "interop-test-secret"), then on bad input.
#include <sluice/internal/aemp/auth.hpp>
#include <sluice/internal/aemp/framing.hpp>
#include <sluice/internal/aemp/greeting.hpp>

#include <gtest/gtest.h>

#include "aemp_test_data.hpp"

#include <fstream>
#include <iterator>
#include <limits>
#include <regex>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

namespace aemp = sluice::mp::aemp;
using json = nlohmann::json;

namespace {

const std::string& secret = sluice_test::aemp_secret;
const auto read_file = sluice_test::read_aemp_file;

// One direction of a captured connection, split as the protocol splits it.
struct side {
  std::string line1, line2, auth;
  std::string data;  // everything after the authentication line
};

side split(const std::string& stream) {
  aemp::line_reader r;
  r.feed(stream);
  bool too_long = false;
  side s;
  s.line1 = r.next(too_long).value_or("");
  s.line2 = r.next(too_long).value_or("");
  s.auth = r.next(too_long).value_or("");
  EXPECT_FALSE(too_long);
  s.data = r.take_rest();
  return s;
}

// The messages decoded.txt lists for one direction ("  >" connector to listener, "  <" back),
// as JSON (the tool prints CBOR byte strings as b"...", which are UTF-8 text here).
std::vector<json> expected(const std::string& dir, const char* mark) {
  std::istringstream in(read_file(dir + "/decoded.txt"));
  std::vector<json> out;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(mark, 0) != 0) continue;
    std::string text = line.substr(4, line.find("    (") - 4);
    text = std::regex_replace(text, std::regex(R"((^|[\[{ ,:])b")"), "$1\"");
    out.push_back(json::parse(text));
  }
  return out;
}

std::vector<json> decode_all(aemp::framing f, const std::string& data, std::size_t chunk) {
  aemp::decoder d(f);
  std::vector<json> out;
  std::string why;
  for (std::size_t at = 0; at < data.size(); at += chunk) {
    EXPECT_TRUE(d.feed(std::string_view(data).substr(at, chunk), out, why)) << why;
  }
  EXPECT_EQ(d.pending(), 0u);
  return out;
}

void check_capture(const std::string& dir, aemp::framing f) {
  side c = split(read_file(dir + "/conn1.c2s.bin"));
  side s = split(read_file(dir + "/conn1.s2c.bin"));
  // Step 1: greetings.
  std::string why;
  auto gc = aemp::parse_greeting(c.line1, why);
  auto gs = aemp::parse_greeting(s.line1, why);
  ASSERT_TRUE(gc && gs) << why;
  EXPECT_EQ(gc->nodeid, "nodeB");
  EXPECT_EQ(gs->nodeid, "nodeA");
  EXPECT_EQ(gc->auths, (std::vector<std::string>{"tls_sha3_512", "hmac_sha3_512", "tls_anon", "cleartext"}));
  EXPECT_EQ(gs->key("provider"), "AE-2.01");
  EXPECT_EQ(c.line2.size(), 88u);
  EXPECT_EQ(aemp::format_greeting(*gc), c.line1) << "a parsed greeting prints as it was";
  // Step 2: both tokens, recomputed from each side's point of view.
  auto ac = aemp::parse_auth_line(c.auth, why);
  auto as = aemp::parse_auth_line(s.auth, why);
  ASSERT_TRUE(ac && as) << why;
  EXPECT_EQ(ac->method, "hmac_sha3_512");
  EXPECT_EQ(ac->framing, aemp::name_of(f));
  EXPECT_EQ(ac->token, aemp::hmac_sha3_512_hex(secret, aemp::auth_message(c.line1, c.line2, s.line1, s.line2)));
  EXPECT_EQ(as->token, aemp::hmac_sha3_512_hex(secret, aemp::auth_message(s.line1, s.line2, c.line1, c.line2)));
  aemp::auth_keys keys{secret, false, false};
  EXPECT_TRUE(aemp::check_token(*ac, keys, aemp::auth_message(c.line1, c.line2, s.line1, s.line2), why)) << why;
  aemp::auth_keys wrong{std::string("not-the-secret"), false, false};
  EXPECT_FALSE(aemp::check_token(*ac, wrong, aemp::auth_message(c.line1, c.line2, s.line1, s.line2), why));
  // Step 3: every message of both directions, whole and fed one byte at a time.
  for (auto [data, mark] : {std::pair{c.data, "  >"}, std::pair{s.data, "  <"}}) {
    auto want = expected(dir, mark);
    ASSERT_FALSE(want.empty());
    EXPECT_EQ(decode_all(f, data, data.size()), want);
    EXPECT_EQ(decode_all(f, data, 1), want);
    // What we encode, we decode the same way.
    std::string again;
    for (const auto& m : want) aemp::encode(f, m, again);
    EXPECT_EQ(decode_all(f, again, 7), want);
  }
}

}  // namespace

TEST(AempCodec, DecodesARealPerlConnectionWithJsonFraming) { check_capture("tap-json", aemp::framing::json); }

TEST(AempCodec, DecodesARealPerlConnectionWithCborFraming) { check_capture("tap-cbor", aemp::framing::cbor); }

TEST(AempCodec, GreetingsAreCheckedInOrder) {
  std::string why;
  EXPECT_FALSE(aemp::parse_greeting("HTTP/1.1 200 OK", why));
  EXPECT_EQ(why, "not an AEMP greeting");
  EXPECT_FALSE(aemp::parse_greeting("aemp;2;n;hmac_sha3_512;json", why));
  EXPECT_EQ(why, "version mismatch");
  EXPECT_FALSE(aemp::parse_greeting("aemp;1;n", why));
  EXPECT_FALSE(aemp::parse_greeting("aemp;1;a#b;hmac_sha3_512;json", why));
  EXPECT_FALSE(aemp::parse_greeting(std::string("aemp;1;a\x01;hmac_sha3_512;json"), why));
  auto g = aemp::parse_greeting("aemp;1;n;hmac_sha3_512;cbor,json;tls=1.0;bare", why);
  ASSERT_TRUE(g);
  EXPECT_EQ(g->key("tls"), "1.0");
  EXPECT_EQ(g->key("bare"), "");
  EXPECT_FALSE(g->key("absent"));
  EXPECT_EQ(aemp::first_shared(g->framings, {"json", "cbor"}), "cbor") << "the peer's preference wins";
}

TEST(AempCodec, HandshakeLinesAreBoundedAndLoseTheirCarriageReturn) {
  aemp::line_reader r;
  bool too_long = false;
  r.feed("one\r\ntw");
  EXPECT_EQ(r.next(too_long), "one");
  EXPECT_FALSE(r.next(too_long));
  r.feed("o\n[\"x\"]");
  EXPECT_EQ(r.next(too_long), "two");
  EXPECT_EQ(r.take_rest(), "[\"x\"]");
  aemp::line_reader big;
  big.feed(std::string(aemp::max_handshake_line + 1, 'a'));
  EXPECT_FALSE(big.next(too_long));
  EXPECT_TRUE(too_long);
}

TEST(AempCodec, NoncesAreFreshBase64Of66Bytes) {
  std::string a = aemp::make_nonce(), b = aemp::make_nonce();
  EXPECT_EQ(a.size(), 88u);
  EXPECT_NE(a, b);
  EXPECT_EQ(a.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"), std::string::npos);
}

TEST(AempCodec, TokensMatchTheStandardConstructions) {
  // SHA3-512("") and HMAC-SHA3-512 from NIST's and RFC-style known answers.
  EXPECT_EQ(aemp::sha3_512_hex(""),
            "a69f73cca23a9ac5c8b567dc185a756e97c982164fe25859e0d1dcc1475c80a6"
            "15b2123af1f5f94c11e3e9402c3ac558f500199d95b6d3e301758586281dcd26");
  aemp::auth_keys tls{std::nullopt, true, false};
  EXPECT_EQ(aemp::offered_methods(tls), std::vector<std::string>{"tls_sha3_512"});
  EXPECT_EQ(aemp::make_token("tls_sha3_512", tls, "m"), aemp::sha3_512_hex("m"));
  EXPECT_EQ(aemp::make_token("tls_anon", tls, "m"), "");
  EXPECT_FALSE(aemp::make_token("hmac_sha3_512", tls, "m")) << "no secret, no HMAC";
  std::string why;
  aemp::auth_keys keys{std::string("s"), false, false};
  EXPECT_FALSE(aemp::check_token({"cleartext", "73", "json"}, keys, "m", why)) << "cleartext is refused by default";
  keys.accept_cleartext = true;
  EXPECT_TRUE(aemp::check_token({"cleartext", "73", "json"}, keys, "m", why)) << why;
  EXPECT_FALSE(aemp::check_token({"tls_sha3_512", aemp::sha3_512_hex("m"), "json"}, keys, "m", why))
      << "a TLS method without TLS";
}

namespace {

// Feeds `bytes` to a fresh decoder; returns the error, or "" if it took them.
std::string error_of(aemp::framing f, const std::string& bytes, aemp::limits l = {}) {
  aemp::decoder d(f, l);
  std::vector<json> out;
  std::string why;
  if (d.feed(bytes, out, why)) return "";
  std::string again;
  EXPECT_FALSE(d.feed("[]", out, again)) << "a failed decoder stays failed";
  return why;
}

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int x : b) s += static_cast<char>(x);
  return s;
}

}  // namespace

TEST(AempCodec, BadJsonEndsTheConnectionWithAReason) {
  EXPECT_EQ(error_of(aemp::framing::json, "{\"a\":1}"), "message is not a JSON array");
  EXPECT_EQ(error_of(aemp::framing::json, "[1,}"), "malformed JSON");
  EXPECT_EQ(error_of(aemp::framing::json, std::string(100, '[')), "message nested too deeply");
  aemp::limits small;
  small.max_message = 16;
  EXPECT_EQ(error_of(aemp::framing::json, "[\"" + std::string(20, 'x'), small), "message too large");
  EXPECT_EQ(error_of(aemp::framing::json, "[\"ok\"] \n [\"a]\\\"\"]"), "") << "brackets and quotes inside strings";
  EXPECT_EQ(error_of(aemp::framing::json, "[\"\xff\"]"), "malformed JSON") << "invalid UTF-8";
}

TEST(AempCodec, BadCborEndsTheConnectionWithAReason) {
  EXPECT_EQ(error_of(aemp::framing::cbor, bytes({0xa0})), "message is not an array");
  EXPECT_EQ(error_of(aemp::framing::cbor, bytes({0x81, 0x1c})), "malformed CBOR: reserved additional information");
  EXPECT_EQ(error_of(aemp::framing::cbor, bytes({0xff})), "malformed CBOR: unexpected break");
  EXPECT_EQ(error_of(aemp::framing::cbor, bytes({0x81, 0x5b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})),
            "CBOR string longer than a message may be") << "a huge declared length is refused, not awaited";
  EXPECT_EQ(error_of(aemp::framing::cbor, bytes({0x9b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})),
            "CBOR container larger than a message may be");
  EXPECT_EQ(error_of(aemp::framing::cbor, std::string(100, '\x81')), "message nested too deeply");
  EXPECT_EQ(error_of(aemp::framing::cbor, bytes({0x81, 0x5f, 0x61, 0x61, 0xff})),
            "malformed CBOR: bad chunk in an indefinite string");
  EXPECT_EQ(error_of(aemp::framing::cbor, bytes({0x81, 0x1f})), "malformed CBOR: indefinite length on a type without one");
  // Indefinite array of an indefinite byte string of two chunks: ["ab"].
  aemp::decoder d(aemp::framing::cbor);
  std::vector<json> out;
  std::string why;
  ASSERT_TRUE(d.feed(bytes({0x9f, 0x5f, 0x41, 0x61, 0x41, 0x62, 0xff, 0xff}), out, why)) << why;
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], json::array({"ab"}));
}

TEST(AempCodec, CborByteStringsBecomeTextOnlyWhenTheyAreUtf8) {
  aemp::decoder d(aemp::framing::cbor);
  std::vector<json> out;
  std::string why;
  // [h'C3A9', h'FF'] : "é" and a byte that is no UTF-8.
  ASSERT_TRUE(d.feed(bytes({0x82, 0x42, 0xc3, 0xa9, 0x41, 0xff}), out, why)) << why;
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0][0], "\xc3\xa9");
  EXPECT_TRUE(out[0][1].is_binary());
}

TEST(AempCodec, CborScalarsMapKeysAndTagsDecodeAsPerlSendsThem) {
  aemp::decoder d(aemp::framing::cbor);
  std::vector<json> out;
  std::string why;
  // [-1, -500, 1.5 (half), 0.25 (single), true, null, undefined, tag 1 (42), {h'6B': 1}]
  ASSERT_TRUE(d.feed(bytes({0x89, 0x20, 0x39, 0x01, 0xf3, 0xf9, 0x3e, 0x00, 0xfa, 0x3e, 0x80, 0x00, 0x00, 0xf5,
                            0xf6, 0xf7, 0xc1, 0x18, 0x2a, 0xa1, 0x41, 0x6b, 0x01}),
                     out, why))
      << why;
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], json::parse(R"([-1, -500, 1.5, 0.25, true, null, null, 42, {"k": 1}])"));
  EXPECT_EQ(error_of(aemp::framing::cbor, bytes({0x81, 0x61, 0xff})), "malformed CBOR: text string is not UTF-8");
  EXPECT_EQ(error_of(aemp::framing::cbor, bytes({0x81, 0xa1, 0x01, 0x01})), "malformed CBOR: a map key that is not a string");
}

namespace {

// Decodes `stream` in the port layer's form: each message deferred or decoded.
bool feed_incoming(aemp::framing f, const std::string& stream, std::vector<aemp::incoming>& out, std::string& why) {
  aemp::decoder d(f);
  return d.feed(stream, out, why);
}

json rebuilt(aemp::framing f, const aemp::incoming& in) {
  if (!in.deferred) return in.msg;
  json whole = json::array({in.port});
  for (auto& x : aemp::decode_rest(f, in.rest)) whole.push_back(x);
  return whole;
}

}  // namespace

// A message to a named port may reach its port still encoded (the worker running the port
// decodes it): port name and rest, which must decode to exactly what the eager decoder gives.
// Messages the quick check does not cover are decoded at once; errors are the same either way.
TEST(AempCodec, ADeferredMessageDecodesToWhatTheEagerDecoderGives) {
  const std::vector<std::pair<json, bool>> cases = {  // message, deferred in both framings
      {json::array({"sink", "tag", 1}), true},
      {json::array({"sink"}), true},
      {json::array({"p", json::object({{"k", json::array({1.5, nullptr, false})}}), -7, "\xc3\xa9"}), true},
      {json::array({"p", std::string(300, 'x'), json::array()}), true},
      {json::array({"", "mon1", "x"}), false},  // the node port
      {json::array({1, 2}), false},              // no port name
      {json::array(), false},
  };
  for (auto f : {aemp::framing::json, aemp::framing::cbor}) {
    std::string stream;
    std::vector<json> eager;
    for (const auto& [m, d] : cases) aemp::encode(f, m, stream);
    std::string why;
    aemp::decoder d(f);
    ASSERT_TRUE(d.feed(stream, eager, why)) << why;
    std::vector<aemp::incoming> in;
    ASSERT_TRUE(feed_incoming(f, stream, in, why)) << why;
    ASSERT_EQ(in.size(), cases.size());
    for (std::size_t i = 0; i < cases.size(); ++i) {
      EXPECT_EQ(in[i].deferred, cases[i].second) << aemp::name_of(f) << " " << cases[i].first.dump();
      EXPECT_EQ(rebuilt(f, in[i]), eager[i]) << aemp::name_of(f) << " " << cases[i].first.dump();
    }
  }
  // Forms the quick check leaves to the eager decoder: an escaped JSON name, a CBOR name in an
  // indefinite string, a CBOR array under a tag. An indefinite CBOR array is deferred.
  std::vector<aemp::incoming> in;
  std::string why;
  ASSERT_TRUE(feed_incoming(aemp::framing::json, "[\"a\\u0062\",1]", in, why)) << why;
  ASSERT_EQ(in.size(), 1u);
  EXPECT_FALSE(in[0].deferred);
  EXPECT_EQ(in[0].msg, json::array({"ab", 1}));
  in.clear();
  ASSERT_TRUE(feed_incoming(aemp::framing::cbor, bytes({0x82, 0x7f, 0x61, 0x61, 0xff, 0x01,  // [(_ "a"), 1]
                                                        0xc1, 0x81, 0x61, 0x62,              // 1(["b"])
                                                        0x9f, 0x61, 0x63, 0x02, 0xff}),       // [_ "c", 2]
                            in, why))
      << why;
  ASSERT_EQ(in.size(), 3u);
  EXPECT_FALSE(in[0].deferred);
  EXPECT_FALSE(in[1].deferred);
  EXPECT_TRUE(in[2].deferred);
  EXPECT_EQ(rebuilt(aemp::framing::cbor, in[2]), json::array({"c", 2}));
  // A bad message after the port name is the same error, with the messages before it delivered.
  for (const auto& [f, bad, reason] : std::vector<std::tuple<aemp::framing, std::string, std::string>>{
           {aemp::framing::json, "[\"p\"][\"p\",}]", "malformed JSON"},
           {aemp::framing::cbor, bytes({0x81, 0x61, 0x70, 0x82, 0x61, 0x70, 0x61, 0xff}), "malformed CBOR: text string is not UTF-8"},
           {aemp::framing::cbor, bytes({0x81, 0x61, 0x70, 0x82, 0x61, 0x70, 0xa1, 0x41, 0xff, 0x01}),
            "malformed CBOR: a map key that is not a string"},
           {aemp::framing::cbor, bytes({0x81, 0x61, 0x70, 0x82, 0x61, 0x70, 0xf0}), "malformed CBOR: unknown simple value"}}) {
    in.clear();
    EXPECT_FALSE(feed_incoming(f, bad, in, why));
    EXPECT_EQ(why, reason);
    ASSERT_EQ(in.size(), 1u) << reason;
    EXPECT_EQ(rebuilt(f, in[0]), json::array({"p"})) << reason;
  }
}

// A CBOR message [name, arg...] that arrives whole is found and checked in one walk, without
// the scanner (decoder::defer_cbor): that walk must refuse whatever the scanner refuses, with
// the scanner's reason, and leave to it whatever it is not sure of (a message split across
// reads, nesting or length at the limits).
TEST(AempCodec, TheOneWalkPathGivesTheScannersVerdicts) {
  aemp::limits l;
  l.max_depth = 8;
  l.max_message = 64;
  auto incoming_error = [&](const std::string& stream, std::size_t read, std::vector<aemp::incoming>& in) {
    aemp::decoder d(aemp::framing::cbor, l);
    std::string why;
    for (std::size_t at = 0; at < stream.size(); at += read) {
      if (!d.feed(std::string_view(stream).substr(at, read), in, why)) return why;
    }
    return std::string();
  };
  const std::string p = bytes({0x82, 0x61, 0x70});  // [ "p", then one argument
  const std::vector<std::string> bad = {
      p + bytes({0x1c}),                          // reserved additional information
      p + bytes({0x1f}),                          // an indefinite integer
      p + bytes({0xdf, 0x01}),                    // an indefinite tag
      p + bytes({0x81, 0x9c}),                    // a reserved array head inside
      p + std::string(10, '\x81') + bytes({0x01}),  // nested deeper than 8
      p + bytes({0x78, 70}) + std::string(70, 'x'),  // a string longer than a message may be
      bytes({0x9f, 0x61, 0x70}) + std::string(70, '\x01') + bytes({0xff}),  // a message longer than 64 bytes
      bytes({0x98, 33, 0x61, 0x70}) + std::string(32, '\0'),  // a count above max_message / 2
      p + bytes({0x98, 33}) + std::string(33, '\0'),           // the same, nested
  };
  for (const auto& b : bad) {
    const std::string eager = error_of(aemp::framing::cbor, b, l);
    ASSERT_NE(eager, "") << "case " << &b - bad.data();
    for (std::size_t read : {b.size(), std::size_t{1}}) {
      std::vector<aemp::incoming> in;
      EXPECT_EQ(incoming_error(b, read, in), eager) << "case " << &b - bad.data() << ", reads of " << read;
      EXPECT_TRUE(in.empty());
    }
  }
  // At the limits, and split across reads: deferred, and what the eager decoder gives.
  const std::vector<std::string> good = {
      p + std::string(7, '\x81') + bytes({0x01}),                  // nested exactly 8 deep
      bytes({0x82, 0x61, 0x70, 0x78, 59}) + std::string(59, 'x'),  // exactly 64 bytes
      bytes({0x9f, 0x61, 0x70, 0x01, 0x02, 0xff}),                  // [_ "p", 1, 2]
  };
  for (const auto& g : good) {
    std::vector<json> eager;
    std::string why;
    aemp::decoder d(aemp::framing::cbor, l);
    ASSERT_TRUE(d.feed(g, eager, why)) << why;
    for (std::size_t read : {g.size(), std::size_t{1}, g.size() - 1}) {
      std::vector<aemp::incoming> in;
      ASSERT_EQ(incoming_error(g + g, read, in), "") << "case " << &g - good.data();
      ASSERT_EQ(in.size(), 2u);
      for (const auto& m : in) {
        EXPECT_TRUE(m.deferred) << "case " << &g - good.data();
        EXPECT_EQ(rebuilt(aemp::framing::cbor, m), eager[0]) << "case " << &g - good.data() << ", reads of " << read;
      }
    }
  }
}

// A port's worker decodes a run of deferred messages each over the one before (the array and
// its elements' storage are reused): every result must be what a fresh decode gives, type for
// type, whatever the shapes that came before (longer, shorter, nested, binary, indefinite).
TEST(AempCodec, DecodingOverTheLastMessageGivesWhatAFreshDecodeGives) {
  const std::vector<json> cases = {
      json::array({"p", "tag", 1}),
      json::array({"p", "a much longer tag than the one before", -2, json::array({1, 2, 3})}),
      json::array({"p", 7, "x"}),
      json::array({"p", json::array({"nested", json::array({"deeper"})}), json::object({{"k", "v"}})}),
      json::array({"p", json::array({5}), nullptr, true, 1.5}),
      json::array({"p"}),
      json::array({"p", "\xc3\xa9", std::string(300, 'y')}),
      json::array({"p", "tag", 2}),
  };
  for (auto f : {aemp::framing::json, aemp::framing::cbor}) {
    std::string stream;
    for (const auto& m : cases) aemp::encode(f, m, stream);
    if (f == aemp::framing::cbor) {  // Perl's forms: byte strings, some not UTF-8; an indefinite array
      stream += bytes({0x83, 0x41, 'p', 0x43, 'a', 'b', 'c', 0x42, 0xff, 0xfe});  // ["p", "abc", binary]
      stream += bytes({0x83, 0x41, 'p', 0x42, 0xff, 0xfe, 0x42, 'q', 'r'});       // ["p", binary, "qr"]
      stream += bytes({0x82, 0x41, 'p', 0x9f, 0x61, 's', 0xff});                  // ["p", [_ "s"]]
    }
    std::vector<json> eager;
    std::vector<aemp::incoming> in;
    std::string why;
    aemp::decoder d(f);
    ASSERT_TRUE(d.feed(stream, eager, why)) << why;
    ASSERT_TRUE(feed_incoming(f, stream, in, why)) << why;
    ASSERT_EQ(in.size(), eager.size());
    json reused;
    for (std::size_t i = 0; i < in.size(); ++i) {
      ASSERT_TRUE(in[i].deferred) << i;
      aemp::decode_rest(f, in[i].rest, reused);
      json whole = json::array({in[i].port});
      for (const auto& x : reused) whole.push_back(x);
      EXPECT_EQ(whole.dump(), eager[i].dump()) << aemp::name_of(f) << " " << i;  // dump: 1.0 is not 1
      EXPECT_EQ(whole, eager[i]) << aemp::name_of(f) << " " << i;
    }
  }
  // Forms the deferral check leaves to the eager decoder, decoded over all the same: an
  // indefinite text string over a longer string, a map over an array, an array over a map.
  json reused = json::array({std::string(40, 'z'), json::array({1, 2}), json::object({{"k", 1}})});
  aemp::decode_rest(aemp::framing::cbor, bytes({0x83, 0x7f, 0x61, 'a', 0x61, 'b', 0xff, 0xa1, 0x61, 'm', 0x01, 0x81, 0x02}), reused);
  EXPECT_EQ(reused.dump(), R"(["ab",{"m":1},[2]])");
  aemp::decode_rest(aemp::framing::cbor, bytes({0x81, 0xa1, 0x61, 'x', 0x80}), reused);  // [{"x": []}]
  EXPECT_EQ(reused.dump(), R"([{"x":[]}])");
  aemp::decode_rest(aemp::framing::json, R"(["json", [1]])", reused);
  EXPECT_EQ(reused.dump(), R"(["json",[1]])");
}

// The fast JSON reader takes the common shapes and builds nlohmann's values type for type;
// it refuses what it does not handle (nlohmann then decides) and everything invalid.
TEST(AempCodec, TheFastJsonReaderAgreesWithNlohmannOrStepsAside) {
  for (const char* text : {R"(["tag", 1, -2, 0, -0, 123456789012345678, true, false, null])",
                           R"( {"a": [], "b": {}, "a": "later", "s": "q\"\\\/\b\f\n\r\t", "u": ")" "\xc3\xa9" R"("} )",
                           "[[[[]]], {\"k\": [1, {\"x\": null}]}]"}) {
    json fast;
    ASSERT_TRUE(aemp::json_read_fast(text, fast)) << text;
    json slow = json::parse(text);
    EXPECT_EQ(fast, slow) << text;
    EXPECT_EQ(fast.dump(), slow.dump()) << text;
  }
  json types;
  ASSERT_TRUE(aemp::json_read_fast("[1, -1, -0]", types));
  EXPECT_TRUE(types[0].is_number_unsigned());
  EXPECT_TRUE(types[1].is_number_integer() && !types[1].is_number_unsigned());
  EXPECT_TRUE(types[2].is_number_integer() && !types[2].is_number_unsigned());
  json floats;
  ASSERT_TRUE(aemp::json_read_fast("[1.5, -0.0, 1e3, 2.5E-3, 0.1, 1.7976931348623157e308]", floats));
  EXPECT_EQ(floats, json::parse("[1.5, -0.0, 1e3, 2.5E-3, 0.1, 1.7976931348623157e308]"));
  EXPECT_TRUE(floats[2].is_number_float());
  // Left to nlohmann: a \u escape, 19 digits, a double's overflow, deep nesting.
  for (std::string text : {std::string(R"(["\u0041"])"), std::string("[1234567890123456789]"), std::string("[1e400]"),
                           std::string(100, '[') + std::string(100, ']')}) {
    json j;
    EXPECT_FALSE(aemp::json_read_fast(text, j)) << text;
    EXPECT_EQ(aemp::json_parse(text).dump(), json::parse(text, nullptr, false).dump()) << text;
  }
  // Invalid: refused by both.
  for (const char* text : {"[01]", "[1.]", "[.5]", "[1e]", "[1e+]", "[+1]", "[1,]", "[\"a\x01\"]", "[\"\xff\"]", "{\"a\" 1}", "[tru]", "[1] x", "[-]", "[\"\\x\"]"}) {
    json j;
    EXPECT_FALSE(aemp::json_read_fast(text, j)) << text;
    EXPECT_TRUE(aemp::json_parse(text).is_discarded()) << text;
  }
}

// A send's wire form, [port name, args...], encoded without building the array: the same bytes
// as encoding the array, in both framings, for short and long names, few and many arguments
// (CBOR's one-byte and longer array heads) and a non-array message (one argument).
// src/aemp/encode.cc writes the bytes nlohmann's to_cbor and dump write, edge by edge.
TEST(AempCodec, TheEncoderWritesNlohmannsBytes) {
  using nlohmann::json;
  std::vector<json> values = {nullptr, true, false, "", "plain", std::string(23, 'a'), std::string(24, 'b'),
                              std::string(256, 'c'), std::string(70000, 'd'), "q\"b\\s/\b\t\n\f\r\x01\x1f\x7f end",
                              "\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "bad \xff utf8", "\xc3", "half \xe2\x82",
                              std::string("nul\0in", 6), 1.0, 0.5, -2.25, 1e300, 3.4028234663852886e38,
                              std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
                              json::binary({1, 2, 3}), json::binary({4, 5}, 7), json::array(), json::object()};
  for (std::uint64_t u : {0ull, 1ull, 23ull, 24ull, 255ull, 256ull, 65535ull, 65536ull, 4294967295ull, 4294967296ull,
                          18446744073709551615ull}) {
    values.push_back(u);
  }
  for (std::int64_t i : {std::int64_t{-1}, std::int64_t{-24}, std::int64_t{-25}, std::int64_t{-256}, std::int64_t{-257},
                         std::int64_t{-65536}, std::int64_t{-65537}, std::int64_t{-4294967296}, std::int64_t{-4294967297},
                         std::numeric_limits<std::int64_t>::min(), std::int64_t{7}, std::numeric_limits<std::int64_t>::max()}) {
    values.push_back(i);
  }
  json nested = json::array({values, json::object({{"k", values}, {"\x01key\"\xc3\xa9", 1}, {"", nullptr}})});
  values.push_back(nested);
  std::vector<std::uint8_t> many_elements(300, 9);
  values.push_back(json(many_elements));
  // Around the encoder's 256-byte stack buffer and its depth of 8 (small_cbor): each side of
  // the edge must give the same bytes.
  for (std::size_t n = 248; n <= 258; ++n) {
    values.push_back(std::string(n, 'e'));
    values.push_back(json::array({"tag", std::string(n - 8, 'f'), 1}));
  }
  json deep = 1;
  for (int d = 0; d < 11; ++d) values.push_back(deep = json::array({deep, "x"}));
  for (const auto& v : values) {
    std::string cbor = "x", json_text = "x", theirs = "x";
    aemp::encode(aemp::framing::cbor, v, cbor);
    json::to_cbor(v, theirs);
    EXPECT_EQ(cbor, theirs) << v.dump(-1, ' ', false, json::error_handler_t::replace);
    aemp::encode(aemp::framing::json, v, json_text);
    EXPECT_EQ(json_text, "x" + v.dump(-1, ' ', false, json::error_handler_t::replace));
  }
}

TEST(AempCodec, APrefixedMessageEncodesAsTheWholeArray) {
  const std::vector<nlohmann::json> argses = {
      nlohmann::json::array(), nlohmann::json::array({"tag", 1}),
      nlohmann::json::parse(R"(["x", {"k": [1, 2.5, null, true]}, "\u00e9\u0001", -7, 18446744073709551615])"),
      nlohmann::json(42), nlohmann::json("plain"), nlohmann::json::object({{"a", 1}})};
  std::vector<nlohmann::json> more = argses;
  nlohmann::json many = nlohmann::json::array();
  for (int i = 0; i < 300; ++i) many.push_back(i);
  more.push_back(many);
  // Around the encoder's 256-byte stack buffer and its depth of 8 (small_cbor).
  for (std::size_t n = 236; n <= 258; n += 2) more.push_back(nlohmann::json::array({"tag", std::string(n, 'f'), 7}));
  nlohmann::json deep = 1;
  for (int d = 0; d < 10; ++d) more.push_back(deep = nlohmann::json::array({deep}));
  for (const std::string& head : {std::string("p"), std::string(""), std::string(30, 'n'), std::string(250, 'h'),
                                  std::string(253, 'h'), std::string(300, 'q')}) {
    for (const auto& args : more) {
      nlohmann::json whole = nlohmann::json::array({head});
      if (args.is_array()) {
        for (const auto& a : args) whole.push_back(a);
      } else {
        whole.push_back(args);
      }
      for (auto f : {aemp::framing::json, aemp::framing::cbor}) {
        std::string a = "prefix", b = "prefix";
        aemp::encode(f, whole, a);
        aemp::encode_prefixed(f, head, args, b);
        EXPECT_EQ(a, b) << whole.dump() << (f == aemp::framing::json ? " json" : " cbor");
      }
    }
  }
}
