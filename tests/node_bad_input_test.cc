// Issue 11: bad input never crashes or stalls a node. A raw TCP client in this process
// (speaking AEMP through the pure handshake machine, or not at all) sends a node garbage;
// each time the node closes that connection, and a well-behaved connection opened afterwards
// still gets its answers (the node port's "can", round trip). Loopback only; every wait is
// bounded.
#include <sluice/internal/aemp/framing.hpp>
#include <sluice/internal/aemp/handshake.hpp>
#include <sluice/node.hpp>

#include <gtest/gtest.h>

#include "free_port.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

using namespace std::chrono_literals;
namespace mp = sluice::mp;
namespace aemp = sluice::mp::aemp;

namespace {

const char* const secret = "bad-input-secret";
int node_port = 0;

using sluice_test::free_port;

void start_node() {
  static bool started = false;
  if (started) return;
  started = true;
  node_port = free_port();
  mp::node_config cfg;
  cfg.nodeid = "target";
  cfg.secret = secret;
  cfg.binds = {"127.0.0.1:" + std::to_string(node_port)};
  cfg.monitor_timeout = 1s;  // also the handshake's time limit
  cfg.use_rc_file = false;
  mp::configure(cfg);
}

// A raw client connection to the node.
struct client {
  int fd = -1;
  client() {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(node_port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      close(fd);
      fd = -1;
    }
  }
  ~client() {
    if (fd >= 0) close(fd);
  }
  void write_all(const std::string& bytes) const {
    std::size_t done = 0;
    while (done < bytes.size()) {
      ssize_t n = send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
      if (n <= 0) return;  // the node may close before it read everything: that is fine
      done += static_cast<std::size_t>(n);
    }
  }
  // Up to `limit` for some bytes; nullopt when the node closed the connection (or reset it).
  std::optional<std::string> read_some(std::chrono::milliseconds limit) const {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(limit.count())) <= 0) return std::string();
    char buf[65536];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return std::nullopt;
    return std::string(buf, static_cast<std::size_t>(n));
  }
  // True when the node closes the connection within `limit` (what it sends first is ignored).
  bool closed_within(std::chrono::milliseconds limit) const {
    auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
      if (!read_some(50ms)) return true;
    }
    return false;
  }
  // Runs our side of the handshake; returns the bytes after it (the data's start), or nullopt.
  std::optional<std::string> handshake(const std::string& nodeid, const std::string& key, const std::string& framing) {
    aemp::handshake_config cfg;
    cfg.nodeid = nodeid;
    cfg.secret = key;
    cfg.framings = {framing};
    aemp::handshake hs(cfg);
    auto until = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < until) {
      write_all(hs.take_output());
      if (hs.state() == aemp::handshake::step::done) return hs.take_rest();
      if (hs.state() == aemp::handshake::step::failed) return std::nullopt;
      auto got = read_some(50ms);
      if (!got) return std::nullopt;
      if (!got->empty()) hs.feed(*got);
    }
    return std::nullopt;
  }
};

// A fresh, well-behaved connection still works: the node port answers "can".
void node_still_answers(const std::string& nodeid) {
  client c;
  ASSERT_GE(c.fd, 0);
  auto rest = c.handshake(nodeid, secret, "json");
  ASSERT_TRUE(rest.has_value()) << "the handshake with a good secret failed";
  std::string out;
  aemp::encode(aemp::framing::json, mp::message::parse(R"(["", "can", "snd", ")" + nodeid + R"(#answer", "x"])"), out);
  c.write_all(out);
  aemp::decoder dec(aemp::framing::json);
  std::vector<mp::message> msgs;
  std::string why;
  ASSERT_TRUE(dec.feed(*rest, msgs, why));
  auto until = std::chrono::steady_clock::now() + 5s;
  while (msgs.empty() && std::chrono::steady_clock::now() < until) {
    auto got = c.read_some(50ms);
    ASSERT_TRUE(got.has_value()) << "the node closed a good connection";
    ASSERT_TRUE(dec.feed(*got, msgs, why)) << why;
  }
  // Skip anything else the node says first (its directory requests): the answer is ours.
  bool answered = false;
  while (!answered && std::chrono::steady_clock::now() < until) {
    for (const auto& m : msgs) answered = answered || m == mp::message::parse(R"(["answer", "x", "1"])");
    if (answered) break;
    msgs.clear();
    auto got = c.read_some(50ms);
    ASSERT_TRUE(got.has_value());
    ASSERT_TRUE(dec.feed(*got, msgs, why)) << why;
  }
  EXPECT_TRUE(answered);
}

// After a good handshake, `garbage` as data: the node must close the connection.
void data_garbage_closes(const std::string& nodeid, const std::string& framing, const std::string& garbage) {
  client c;
  ASSERT_GE(c.fd, 0);
  ASSERT_TRUE(c.handshake(nodeid, secret, framing).has_value());
  c.write_all(garbage);
  EXPECT_TRUE(c.closed_within(3s)) << nodeid;
}

TEST(NodeBadInput, GarbageBeforeTheGreetingClosesTheConnection) {
  start_node();
  client c;
  ASSERT_GE(c.fd, 0);
  c.write_all("GET / HTTP/1.0\r\n\r\n");
  EXPECT_TRUE(c.closed_within(3s));
  node_still_answers("good1");
}

TEST(NodeBadInput, AnOversizedGreetingLineClosesTheConnection) {
  start_node();
  client c;
  ASSERT_GE(c.fd, 0);
  c.write_all("aemp;1;" + std::string(100000, 'x'));
  EXPECT_TRUE(c.closed_within(3s));
  node_still_answers("good2");
}

TEST(NodeBadInput, AWrongSecretIsRefused) {
  start_node();
  client c;
  ASSERT_GE(c.fd, 0);
  EXPECT_FALSE(c.handshake("intruder", "not the secret", "json").has_value());
  EXPECT_TRUE(c.closed_within(3s));
  node_still_answers("good3");
}

TEST(NodeBadInput, AnEchoedGreetingIsRefused) {
  start_node();
  client c;
  ASSERT_GE(c.fd, 0);
  std::string lines;
  auto until = std::chrono::steady_clock::now() + 3s;
  while (std::count(lines.begin(), lines.end(), '\n') < 2 && std::chrono::steady_clock::now() < until) {
    auto got = c.read_some(50ms);
    ASSERT_TRUE(got.has_value());
    lines += *got;
  }
  c.write_all(lines);  // the node's own two lines, back to it
  EXPECT_TRUE(c.closed_within(3s));
  node_still_answers("good4");
}

TEST(NodeBadInput, MalformedDeepOrHugeMessagesCloseTheConnection) {
  start_node();
  data_garbage_closes("bad-json", "json", "[\"\", \"can\", }");
  data_garbage_closes("deep-json", "json", std::string(200000, '['));
  data_garbage_closes("deep-cbor", "cbor", std::string(200000, '\x81'));
  data_garbage_closes("huge-cbor", "cbor", std::string("\x82\x5b\xff\xff\xff\xff\xff\xff\xff\x00", 10));
  data_garbage_closes("bad-cbor", "cbor", std::string("\x82\x1c\x00", 3));  // a reserved additional value
  node_still_answers("good5");
}

TEST(NodeBadInput, AnUnknownNodePortRequestIsIgnoredAndTheConnectionStays) {
  start_node();
  client c;
  ASSERT_GE(c.fd, 0);
  ASSERT_TRUE(c.handshake("curious", secret, "json").has_value());
  std::string out;
  aemp::encode(aemp::framing::json, mp::message::parse(R"(["", "no_such_request", 1, {"a": []}])"), out);
  aemp::encode(aemp::framing::json, mp::message::parse(R"(["", "Some::perl_function", "x"])"), out);
  aemp::encode(aemp::framing::json, mp::message::parse(R"(["no-such-port", 1])"), out);
  c.write_all(out);
  EXPECT_FALSE(c.closed_within(500ms));
  node_still_answers("good6");
}

TEST(NodeBadInput, AFloodOfSilentConnectionsIsCutAtTheHandshakeLimit) {
  start_node();
  std::vector<std::unique_ptr<client>> flood;
  for (int i = 0; i < 200; ++i) {
    flood.push_back(std::make_unique<client>());
    ASSERT_GE(flood.back()->fd, 0);
  }
  node_still_answers("good7");  // while 200 connections sit there
  for (auto& c : flood) EXPECT_TRUE(c->closed_within(3s)) << "a silent connection outlived the handshake limit";
  node_still_answers("good8");
}

}  // namespace
