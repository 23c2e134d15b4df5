// TLS between nodes (sluice/node.hpp, node_config::cert): sluice nodes in separate processes
// on 127.0.0.1, ports 14100-14105 only. The test process is node "tls-alpha" with a
// certificate and no secret (TLS authenticates alone); peers are this binary run again with
// --peer NODEID BIND PEMFILE. A raw client written against OpenSSL directly checks the wire:
// the greeting announces TLS, nothing is sent in the clear after it, and a ClientHello that
// arrives in the same segment as the nonce line still reaches the TLS stream.
#include <sluice/internal/aemp/auth.hpp>
#include <sluice/node.hpp>

#include <gtest/gtest.h>

#include "port_inbox.hpp"
#include "tls_test_pem.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

using namespace std::chrono_literals;
namespace mp = sluice::mp;
namespace aemp = sluice::mp::aemp;

namespace {

const int alpha_port = 14100;
const std::string alpha_address = "127.0.0.1:14100";

// The network's PEM and another one, in a scratch folder (removed at exit).
struct pems {
  std::string dir, network, network_file, other, other_file;
  pems() {
    char tmpl[] = "/tmp/sluice-tls-test-XXXXXX";
    if (mkdtemp(tmpl)) dir = tmpl;
    network = sluice_test::make_node_pem("AnyEvent::MP");
    other = sluice_test::make_node_pem("AnyEvent::MP");  // same name, another key
    network_file = dir + "/network.pem";
    other_file = dir + "/other.pem";
    sluice_test::write_text(network_file, network);
    sluice_test::write_text(other_file, other);
  }
  ~pems() {
    unlink(network_file.c_str());
    unlink(other_file.c_str());
    rmdir(dir.c_str());
  }
};

pems& keys() {
  static pems p;
  return p;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The test process's node: a certificate, no secret.
void alpha() {
  static std::once_flag once;
  std::call_once(once, [] {
    mp::node_config cfg;
    cfg.nodeid = "tls-alpha";
    cfg.cert = keys().network;
    cfg.binds = {alpha_address};
    cfg.connect_interval = 500ms;
    cfg.monitor_timeout = 2s;
    cfg.use_rc_file = false;
    mp::configure(cfg);
  });
}

struct peer_process {
  pid_t pid = -1;
  peer_process(const std::string& nodeid, int port, const std::string& pem_file) {
    std::string self = "/proc/self/exe", bind = "127.0.0.1:" + std::to_string(port), pem = pem_file;
    std::vector<char*> argv{self.data(), const_cast<char*>("--peer"), const_cast<char*>(nodeid.c_str()),
                            bind.data(), pem.data(), nullptr};
    if (posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv.data(), environ) != 0) pid = -1;
  }
  ~peer_process() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
};

bool is_up(const std::string& node) {
  for (const auto& n : mp::up_nodes()) {
    if (n == node) return true;
  }
  return false;
}

bool wait_up(const std::string& node, std::chrono::milliseconds limit = 10s) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (is_up(node)) return true;
    std::this_thread::sleep_for(5ms);
  }
  return false;
}

using sluice_test::inbox;

// The peer: certificate only, alpha as its seed; "echo" answers ["tag", REPLYPORT, args...]
// with ["tag", args...].
int run_peer(const std::string& nodeid, const std::string& bind, const std::string& pem_file) {
  mp::node_config cfg;
  cfg.nodeid = nodeid;
  cfg.cert = read_text(pem_file);
  cfg.binds = {bind};
  cfg.seeds = {alpha_address};
  cfg.use_rc_file = false;
  mp::configure(cfg);
  mp::named_port("echo", [](const mp::message& m) {
    if (m.size() < 2 || !m[1].is_string()) return;
    mp::message reply = mp::message::array({m[0]});
    for (std::size_t i = 2; i < m.size(); ++i) reply.push_back(m[i]);
    mp::snd(mp::port_id::parse(m[1].get<std::string>()), reply);
  });
  for (int i = 0; i < 600 && getppid() != 1; ++i) std::this_thread::sleep_for(100ms);  // 60 s at most
  return 0;
}

// ---- a raw AEMP peer over a plain socket and OpenSSL (no sluice transport involved) ----

struct raw_peer {
  int fd = -1;
  ~raw_peer() {
    if (fd >= 0) close(fd);
  }
  bool connect_to(int port) {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<unsigned short>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  bool readable(std::chrono::milliseconds limit) {
    pollfd p{fd, POLLIN, 0};
    return poll(&p, 1, static_cast<int>(limit.count())) == 1;
  }
  // One line, a byte at a time (nothing after it is taken), within 5 s.
  bool read_line(std::string& line) {
    line.clear();
    for (int i = 0; i < 8192; ++i) {
      char c;
      if (!readable(5s) || recv(fd, &c, 1, 0) != 1) return false;
      if (c == '\n') return true;
      line += c;
    }
    return false;
  }
  bool send_all(const std::string& s) { return send(fd, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size()); }
};

// A TLS client over memory BIOs, so that its first bytes can share one write with the greeting.
struct raw_tls {
  SSL_CTX* ctx = nullptr;
  SSL* ssl = nullptr;
  BIO *in = nullptr, *out = nullptr;
  explicit raw_tls(const std::string& pem) {
    ctx = SSL_CTX_new(TLS_client_method());
    BIO* b1 = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    BIO* b2 = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    X509* cert = PEM_read_bio_X509(b1, nullptr, nullptr, nullptr);
    EVP_PKEY* key = PEM_read_bio_PrivateKey(b2, nullptr, nullptr, nullptr);
    SSL_CTX_use_certificate(ctx, cert);
    SSL_CTX_use_PrivateKey(ctx, key);
    X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), cert);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    X509_free(cert);
    EVP_PKEY_free(key);
    BIO_free(b1);
    BIO_free(b2);
    ssl = SSL_new(ctx);
    in = BIO_new(BIO_s_mem());
    out = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl, in, out);  // ssl owns both
    SSL_set_connect_state(ssl);
  }
  ~raw_tls() {
    SSL_free(ssl);
    SSL_CTX_free(ctx);
  }
  std::string pending_output() {
    std::string s;
    char buf[4096];
    int n;
    while ((n = BIO_read(out, buf, sizeof buf)) > 0) s.append(buf, static_cast<std::size_t>(n));
    return s;
  }
  // Runs the handshake; `prefix` goes out in the same write as the ClientHello.
  bool handshake(raw_peer& p, std::string prefix) {
    for (int i = 0; i < 100; ++i) {
      int r = SSL_do_handshake(ssl);
      std::string o = prefix + pending_output();
      prefix.clear();
      if (!o.empty() && !p.send_all(o)) return false;
      if (r == 1) return true;
      if (SSL_get_error(ssl, r) != SSL_ERROR_WANT_READ || !feed(p)) return false;
    }
    return false;
  }
  bool feed(raw_peer& p) {
    char buf[4096];
    if (!p.readable(5s)) return false;
    ssize_t n = recv(p.fd, buf, sizeof buf, 0);
    return n > 0 && BIO_write(in, buf, static_cast<int>(n)) == n;
  }
  bool write(raw_peer& p, const std::string& s) {
    return SSL_write(ssl, s.data(), static_cast<int>(s.size())) > 0 && p.send_all(pending_output());
  }
  // Plaintext until `text` holds at least one LF or `want` bytes (5 s per read).
  bool read_until(raw_peer& p, std::string& text, std::size_t want) {
    for (int i = 0; i < 100 && text.size() < want; ++i) {
      char buf[4096];
      int n = SSL_read(ssl, buf, sizeof buf);
      if (n > 0) {
        text.append(buf, static_cast<std::size_t>(n));
        continue;
      }
      if (SSL_get_error(ssl, n) != SSL_ERROR_WANT_READ || !feed(p)) return false;
      std::string o = pending_output();  // TLS 1.3 may answer (key updates, alerts)
      if (!o.empty()) p.send_all(o);
    }
    return text.size() >= want;
  }
};

}  // namespace

TEST(TlsNode, MessagesCrossBothWaysInOrderOverTls) {
  alpha();
  peer_process beta("tls-beta", 14101, keys().network_file);
  ASSERT_TRUE(wait_up("tls-beta")) << "tls-beta never connected to tls-alpha over TLS";
  inbox in;
  const int n = 5000;
  mp::port_id echo = mp::port_id::parse("tls-beta#echo");
  for (int i = 0; i < n; ++i) mp::snd(echo, {"n", in.port, i});  // alpha -> beta -> alpha
  ASSERT_TRUE(in.wait_for(n, 20s)) << "got " << in.count() << " of " << n;
  for (int i = 0; i < n; ++i) ASSERT_EQ(in.got[i], mp::message::array({"n", i})) << "at " << i;
}

TEST(TlsNode, MonAndKilWorkOverTls) {
  alpha();
  peer_process delta("tls-delta", 14102, keys().network_file);
  ASSERT_TRUE(wait_up("tls-delta"));
  inbox died, none;
  mp::port_id echo = mp::port_id::parse("tls-delta#echo");
  mp::mon(echo, died.port, mp::message::array({"died"}));
  mp::kil(echo, {"custom_reason", "killed over TLS"});
  ASSERT_TRUE(died.wait_for(1));
  EXPECT_EQ(died.got[0], mp::message::parse(R"(["died", "custom_reason", "killed over TLS"])"));
  mp::mon(mp::port_id::parse("tls-delta#doesnotexist"), none.port, mp::message::array({"gone"}));
  ASSERT_TRUE(none.wait_for(1));
  EXPECT_EQ(none.got[0], mp::message::parse(
                             R"(["gone", "no_such_port", "cannot monitor nonexistent port", "tls-delta#doesnotexist"])"));
}

// A node whose PEM is not the network's: its certificate does not verify, TLS fails, no
// connection comes up, and a monitor on its port fires with transport_error.
TEST(TlsNode, ANodeWithAnotherCertificateIsRefused) {
  alpha();
  peer_process gamma("tls-gamma", 14103, keys().other_file);
  inbox died;
  auto t0 = std::chrono::steady_clock::now();
  mp::mon(mp::port_id::parse("tls-gamma#echo"), died.port, mp::message::array({"down"}));
  ASSERT_TRUE(died.wait_for(1, 5s));
  ASSERT_EQ(died.got[0].size(), 4u);
  EXPECT_EQ(died.got[0][1], "transport_error");
  EXPECT_EQ(died.got[0][2], "tls-gamma");
  while (std::chrono::steady_clock::now() - t0 < 2s) {  // gamma retries its seed meanwhile
    ASSERT_FALSE(is_up("tls-gamma")) << "a node with another certificate got in";
    std::this_thread::sleep_for(20ms);
  }
}

// The wire, seen from a raw client: alpha's greeting announces TLS and only tls_sha3_512 (no
// secret); with the higher nonce line alpha is the TLS client and its next bytes are a TLS
// handshake record, not an authentication line in the clear.
TEST(TlsNode, TheGreetingAnnouncesTlsAndTlsFollowsItAtOnce) {
  alpha();
  raw_peer p;
  ASSERT_TRUE(p.connect_to(alpha_port));
  std::string l1, l2;
  ASSERT_TRUE(p.read_line(l1));
  ASSERT_TRUE(p.read_line(l2));
  EXPECT_EQ(l1.rfind("aemp;1;tls-alpha;tls_sha3_512;cbor,json;", 0), 0u) << l1;
  EXPECT_NE(l1.find(";tls=1.0"), std::string::npos) << l1;
  EXPECT_EQ(l2.size(), 88u);
  ASSERT_TRUE(p.send_all("aemp;1;raw-high;tls_sha3_512;json;tls=1.0\n" + std::string(88, 'z') + "\n"));
  unsigned char head[3] = {0, 0, 0};
  ASSERT_TRUE(p.readable(5s));
  ASSERT_EQ(recv(p.fd, head, 3, MSG_WAITALL), 3);
  EXPECT_EQ(head[0], 0x16) << "a TLS handshake record (ClientHello)";
  EXPECT_EQ(head[1], 0x03);
}

// The ClientHello in the same segment as the nonce line: alpha must not swallow it into its
// line reader. Then both authentication lines go through TLS (tls_sha3_512 over the four
// lines, each from its own side), the connection is up, and a message comes through TLS.
TEST(TlsNode, AClientHelloInTheSameSegmentAsTheNonceReachesTls) {
  alpha();
  raw_peer p;
  ASSERT_TRUE(p.connect_to(alpha_port));
  std::string r1, r2;
  ASSERT_TRUE(p.read_line(r1));
  ASSERT_TRUE(p.read_line(r2));
  const std::string l1 = "aemp;1;raw-low;tls_sha3_512;json;tls=1.0", l2(88, '+');  // '+': the lowest base64 character
  raw_tls tls(keys().network);
  ASSERT_TRUE(tls.handshake(p, l1 + "\n" + l2 + "\n")) << ERR_error_string(ERR_get_error(), nullptr);
  ASSERT_TRUE(tls.write(p, "tls_sha3_512;" + aemp::sha3_512_hex(aemp::auth_message(l1, l2, r1, r2)) + ";json\n"));
  std::string text;
  ASSERT_TRUE(tls.read_until(p, text, 13 + 128 + 6));
  EXPECT_EQ(text.substr(0, text.find('\n')), "tls_sha3_512;" + aemp::sha3_512_hex(aemp::auth_message(r1, r2, l1, l2)) + ";json");
  ASSERT_TRUE(wait_up("raw-low", 5s)) << "alpha did not accept the raw peer";
  text.erase(0, text.find('\n') + 1);
  mp::snd(mp::port_id::parse("raw-low#inbox"), {"over", "tls"});
  // Our message, after whatever the node port says first (a global node greets with g_global).
  const std::string want = R"(["inbox","over","tls"])";
  for (int i = 0; i < 50 && text.find(want) == std::string::npos; ++i) {
    ASSERT_TRUE(tls.read_until(p, text, text.size() + 1)) << text;
  }
  EXPECT_NE(text.find(want), std::string::npos) << text;
}

// Runs this binary with --bad-config CASE; true if configure threw std::invalid_argument.
bool refused(const char* which) {
  std::string self = "/proc/self/exe";
  std::vector<char*> argv{self.data(), const_cast<char*>("--bad-config"), const_cast<char*>(which),
                          const_cast<char*>(keys().network_file.c_str()), const_cast<char*>(keys().other_file.c_str()), nullptr};
  pid_t pid;
  if (posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv.data(), environ) != 0) return false;
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int bad_config(const std::string& which, const std::string& pem_file, const std::string& other_file) {
  std::string pem = read_text(pem_file), other = read_text(other_file);
  std::string key = sluice_test::pem_block(pem, "PRIVATE KEY"), cert = sluice_test::pem_block(pem, "CERTIFICATE");
  mp::node_config cfg;
  cfg.nodeid = "tls-bad";
  cfg.binds = {"127.0.0.1:14104"};  // never bound: the cert is refused first
  cfg.use_rc_file = false;
  if (which == "keyonly") cfg.cert = key;
  if (which == "certonly") cfg.cert = cert;
  if (which == "garbage") cfg.cert = "not a PEM";
  if (which == "mismatch") cfg.cert = key + sluice_test::pem_block(other, "CERTIFICATE");
  try {
    mp::configure(cfg);
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "  %s: %s\n", which.c_str(), e.what());
    return std::strstr(e.what(), "cert") ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "  %s: unexpected %s\n", which.c_str(), e.what());
  }
  return 1;
}

TEST(TlsNode, ConfigureRefusesAPemWithoutKeyOrCertificate) {
  alpha();  // itself configured with a cert and no secret: that is allowed
  EXPECT_TRUE(refused("keyonly"));
  EXPECT_TRUE(refused("certonly"));
  EXPECT_TRUE(refused("garbage"));
  EXPECT_TRUE(refused("mismatch"));
}

// A node configured from a profile of an AnyEvent::MP rc file whose `cert` holds the PEM (as
// `aemp setcert` / `gencert` write it), no secret anywhere.
int run_rc_peer(const std::string& profile) {
  mp::node_config cfg;
  cfg.profile = profile;
  mp::configure(cfg);
  mp::named_port("echo", [](const mp::message& m) {
    if (m.size() >= 2 && m[1].is_string()) mp::snd(mp::port_id::parse(m[1].get<std::string>()), {m[0], mp::node_id()});
  });
  for (int i = 0; i < 600 && getppid() != 1; ++i) std::this_thread::sleep_for(100ms);
  return 0;
}

TEST(TlsNode, ACertInTheRcFileEnablesTls) {
  alpha();
  std::string path = keys().dir + "/rc.json";
  mp::message rc = mp::message::object();
  rc["cert"] = keys().network;
  rc["profile"] = mp::message::object();
  rc["profile"]["tls-zeta"] = {{"nodeid", "tls-zeta"}, {"binds", {"127.0.0.1:14105"}}, {"seeds", {alpha_address}}};
  ASSERT_TRUE(sluice_test::write_text(path, rc.dump()));
  std::string self = "/proc/self/exe", env_rc = "PERL_ANYEVENT_MP_RC=" + path;
  std::vector<char*> argv{self.data(), const_cast<char*>("--rc-peer"), const_cast<char*>("tls-zeta"), nullptr};
  std::vector<char*> envp{env_rc.data(), nullptr};
  pid_t pid;
  ASSERT_EQ(posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv.data(), envp.data()), 0);
  bool up = wait_up("tls-zeta");
  inbox in;
  if (up) mp::snd(mp::port_id::parse("tls-zeta#echo"), {"who", in.port});
  bool answered = up && in.wait_for(1);
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  unlink(path.c_str());
  ASSERT_TRUE(up) << "the profile's node never connected over TLS";
  ASSERT_TRUE(answered);
  EXPECT_EQ(in.got[0], mp::message::array({"who", "tls-zeta"}));
}

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "--rc-peer") == 0) return run_rc_peer(argv[2]);
  if (argc == 5 && std::strcmp(argv[1], "--peer") == 0) return run_peer(argv[2], argv[3], argv[4]);
  if (argc == 5 && std::strcmp(argv[1], "--bad-config") == 0) return bad_config(argv[2], argv[3], argv[4]);
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
