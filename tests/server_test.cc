// sluice::run_server: echo over TCP (line, byte and iostream use), concurrency, the time
// limit (slowloris), handler exceptions, stop with grace then shutdown, the connection limit,
// TLS, hooks for a Unix-domain socket, and no leaks under 10,000 short connections.
// Loopback only, port 0 (the system picks); every wait is bounded.
#include <sluice/server.hpp>

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/ssl/context.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include "tls_test_pem.hpp"

using namespace std::chrono_literals;
using clk = std::chrono::steady_clock;

namespace {

// A blocking loopback client with a receive/send time limit.
class client {
 public:
  explicit client(std::uint16_t port, std::chrono::milliseconds limit = 10s) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{static_cast<time_t>(limit.count() / 1000), static_cast<suseconds_t>((limit.count() % 1000) * 1000)};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~client() { close(); }
  client(const client&) = delete;
  bool ok() const { return ok_; }
  int fd() const { return fd_; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  bool send(std::string_view s) {
    while (!s.empty()) {
      ssize_t n = ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      s.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  void shutdown_write() { ::shutdown(fd_, SHUT_WR); }
  // One line with its "\n"; "" at the end, on an error or the time limit.
  std::string line() {
    std::string s;
    char c;
    while (::recv(fd_, &c, 1, 0) == 1) {
      s += c;
      if (c == '\n') break;
    }
    return s;
  }
  // Everything until the end (or an error / the time limit).
  std::string all() {
    std::string s;
    char buf[4096];
    for (;;) {
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      s.append(buf, static_cast<std::size_t>(n));
    }
    return s;
  }
  // The server closed: recv returns 0 or ECONNRESET (not the time limit).
  bool closed_by_peer() {
    char c;
    ssize_t n = ::recv(fd_, &c, 1, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
  }

 private:
  int fd_ = -1;
  bool ok_ = false;
};

// ThreadSanitizer starts a background thread of its own at some point of a long test.
#if defined(__SANITIZE_THREAD__)
constexpr int tsan_thread = 1;
#else
constexpr int tsan_thread = 0;
#endif

template <class F>
bool eventually(F f, std::chrono::milliseconds limit = 10s) {
  auto until = clk::now() + limit;
  while (clk::now() < until) {
    if (f()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return f();
}

std::size_t count_entries(const char* dir) {
  std::size_t n = 0;
  if (DIR* d = ::opendir(dir)) {
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] != '.') ++n;
    }
    ::closedir(d);
  }
  return n;
}
std::size_t fds() { return count_entries("/proc/self/fd") - 1; }  // less opendir's own
std::size_t threads() { return count_entries("/proc/self/task"); }

// Collects on_error reports.
struct errors {
  std::mutex m;
  std::vector<std::string> seen;
  sluice::server_options hook(sluice::server_options opt = {}) {
    opt.on_error = [this](const std::string&, std::exception_ptr e) {
      std::string what = "?";
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& x) {
        what = x.what();
      } catch (...) {
      }
      std::lock_guard<std::mutex> g(m);
      seen.push_back(what);
    };
    return opt;
  }
  std::vector<std::string> get() {
    std::lock_guard<std::mutex> g(m);
    return seen;
  }
};

void line_echo(sluice::connection& c) {
  while (auto l = c.read_line()) c.write_line(*l);
}

}  // namespace

TEST(RunServer, EchoLines) {
  auto h = sluice::start_server(0, line_echo, 10s);
  ASSERT_NE(h.port(), 0);
  client c(h.port());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.send("hello\nworld\r\n"));
  EXPECT_EQ(c.line(), "hello\n");
  EXPECT_EQ(c.line(), "world\r\n");  // Racket's 'linefeed: the \r stays
  ASSERT_TRUE(c.send("no end of line"));
  c.shutdown_write();
  EXPECT_EQ(c.all(), "no end of line\n");
}

TEST(RunServer, EchoBytes) {
  auto h = sluice::start_server(0, [](sluice::connection& c) {
    std::string head = c.read_exactly(5);
    c.write("[" + head + "]");
    c.flush();
    char big[20000];
    std::size_t n = c.read_exactly(big, sizeof big);
    c.write(big, n);
    for (;;) {
      std::string s = c.read_some(100);
      if (s.empty()) break;
      c.write(s);
    }
  }, 10s);
  client c(h.port());
  ASSERT_TRUE(c.send("12345"));
  char got[7] = {};
  ASSERT_EQ(::recv(c.fd(), got, 7, MSG_WAITALL), 7);
  EXPECT_EQ(std::string(got, 7), "[12345]");
  std::string big(20000, 'x');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  ASSERT_TRUE(c.send(big));
  ASSERT_TRUE(c.send("tail bytes"));
  c.shutdown_write();
  EXPECT_EQ(c.all(), big + "tail bytes");
}

TEST(RunServer, EchoThroughIostream) {
  auto h = sluice::start_server(0, [](sluice::connection& c) {
    std::iostream& io = c.iostream();
    std::string word;
    int count = 0;
    while (io >> word) io << "[" << word << "]" << std::flush, ++count;
    io.clear();  // the end of input set eof and fail
    io << " words=" << count << "\n";
  }, 10s);
  client c(h.port());
  ASSERT_TRUE(c.send("alpha beta\ngamma "));
  c.shutdown_write();
  EXPECT_EQ(c.all(), "[alpha][beta][gamma] words=3\n");
}

TEST(RunServer, LineTooLongAndWritesToAGonePeer) {
  std::atomic<int> too_long{0}, write_failed{0};
  sluice::server_options opt;
  opt.max_line_length = 100;
  auto h = sluice::start_server(0, [&](sluice::connection& c) {
    auto first = c.read_line();
    if (first && *first == "reset me") {
      try {
        for (int i = 0; i < 100000; ++i) {
          c.write(std::string(4096, 'x'));
          c.flush();
        }
      } catch (const sluice::connection_closed&) {
        write_failed.fetch_add(1);
      }
      return;
    }
    try {
      c.read_line();
    } catch (const sluice::line_too_long&) {
      too_long.fetch_add(1);
      c.write_line("too long");
    }
  }, 10s, opt);
  {
    client c(h.port());
    ASSERT_TRUE(c.send("short\n" + std::string(300, 'a')));
    EXPECT_EQ(c.line(), "too long\n");
  }
  {
    client c(h.port());
    ASSERT_TRUE(c.send("reset me\n"));
    char x;
    ASSERT_EQ(::recv(c.fd(), &x, 1, 0), 1);  // the handler is writing
    linger l{1, 0};  // close with RST
    ::setsockopt(c.fd(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  EXPECT_TRUE(eventually([&] { return too_long.load() == 1 && write_failed.load() == 1; }));
}

TEST(RunServer, ManyConcurrentClients) {
  auto h = sluice::start_server(0, line_echo, 30s);
  constexpr int clients = 40, lines = 25;
  std::atomic<int> good{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < clients; ++i) {
    ts.emplace_back([&, i] {
      client c(h.port());
      if (!c.ok()) return;
      for (int j = 0; j < lines; ++j) {
        std::string l = "client " + std::to_string(i) + " line " + std::to_string(j) + "\n";
        if (!c.send(l) || c.line() != l) return;
      }
      good.fetch_add(1);
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(good.load(), clients);
  EXPECT_TRUE(eventually([&] { return h.active_connections() == 0; }));
  EXPECT_EQ(h.accepted_connections(), static_cast<std::uint64_t>(clients));
}

TEST(RunServer, TimeoutCutsASlowlorisClientOnly) {
  errors errs;
  std::atomic<int> timeouts{0}, after_write_threw{0}, shutdown_hooks{0}, stopped_tokens{0};
  auto h = sluice::start_server(0, [&](sluice::connection& c) {
    c.at_shutdown([&] { shutdown_hooks.fetch_add(1); });
    auto first = c.read_line();
    if (first && *first == "slow") {
      try {
        c.read_line();  // the client sends half a line, then nothing
      } catch (const sluice::connection_timeout&) {
        timeouts.fetch_add(1);
        if (c.timed_out() && c.stop_token().stop_requested()) stopped_tokens.fetch_add(1);
        try {
          c.write_line("too late");
          c.flush();
        } catch (const sluice::connection_timeout&) {
          after_write_threw.fetch_add(1);
        }
        throw;  // quiet: the server's own cut is not reported
      }
      return;
    }
    if (first) c.write_line(*first);
    while (auto l = c.read_line()) c.write_line(*l);
  }, 600ms, errs.hook());
  client slow(h.port());
  ASSERT_TRUE(slow.send("slow\nGET / HTTP/1.1 Host: x"));  // never finished
  auto t0 = clk::now();
  // Others carry on meanwhile (each within its own 600 ms).
  for (int i = 0; i < 5; ++i) {
    client quick(h.port());
    ASSERT_TRUE(quick.send("ping " + std::to_string(i) + "\n"));
    EXPECT_EQ(quick.line(), "ping " + std::to_string(i) + "\n");
  }
  EXPECT_TRUE(slow.closed_by_peer());
  auto took = clk::now() - t0;
  EXPECT_GE(took, 450ms);
  EXPECT_LT(took, 5s);
  EXPECT_TRUE(eventually([&] { return timeouts.load() == 1 && h.active_connections() == 0; }));
  EXPECT_EQ(after_write_threw.load(), 1);
  EXPECT_EQ(stopped_tokens.load(), 1);
  EXPECT_EQ(shutdown_hooks.load(), 6);  // the custodian's hooks ran for every connection
  EXPECT_TRUE(errs.get().empty());
  // And the server still serves.
  client later(h.port());
  ASSERT_TRUE(later.send("still here\n"));
  EXPECT_EQ(later.line(), "still here\n");
}

TEST(RunServer, SilentClientIsCutAtTheTimeout) {
  std::atomic<bool> threw{false};
  auto h = sluice::start_server(0, [&](sluice::connection& c) {
    try {
      char b[1];
      c.read_some(b, 1);
    } catch (const sluice::connection_timeout& e) {
      threw = std::string(e.what()).find("time limit") != std::string::npos;
    }
  }, 300ms);
  client c(h.port());
  EXPECT_TRUE(c.closed_by_peer());
  EXPECT_TRUE(eventually([&] { return threw.load(); }));
}

TEST(RunServer, HandlerExceptionAffectsOnlyItsConnection) {
  errors errs;
  auto h = sluice::start_server(0, [](sluice::connection& c) {
    while (auto l = c.read_line()) {
      if (*l == "boom") throw std::runtime_error("boom from the handler");
      c.write_line(*l);
    }
  }, 10s, errs.hook());
  client a(h.port()), b(h.port());
  ASSERT_TRUE(a.send("one\n"));
  EXPECT_EQ(a.line(), "one\n");
  ASSERT_TRUE(b.send("boom\n"));
  EXPECT_TRUE(b.closed_by_peer());
  ASSERT_TRUE(a.send("two\n"));
  EXPECT_EQ(a.line(), "two\n");
  ASSERT_TRUE(eventually([&] { return errs.get().size() == 1; }));
  EXPECT_EQ(errs.get()[0], "boom from the handler");
  a.close();
  EXPECT_TRUE(eventually([&] { return h.active_connections() == 0; }));
  EXPECT_EQ(errs.get().size(), 1u);  // once
}

TEST(RunServer, StopLetsHandlersFinishWithinTheGracePeriod) {
  std::atomic<bool> started{false};
  sluice::server_options opt;
  opt.grace_period = 5s;
  auto h = sluice::start_server(0, [&](sluice::connection& c) {
    started = true;
    std::this_thread::sleep_for(200ms);
    c.write_line("finished");
  }, {}, opt);
  std::uint16_t port = h.port();
  client c(port);
  ASSERT_TRUE(eventually([&] { return started.load(); }));
  auto t0 = clk::now();
  h.stop();
  EXPECT_LT(clk::now() - t0, 4s);  // ended when the handler did, not at the grace's end
  EXPECT_EQ(c.line(), "finished\n");
  client after(port);
  EXPECT_FALSE(after.ok());  // no longer listening
}

TEST(RunServer, StopShutsDownHandlersAfterTheGracePeriod) {
  std::atomic<int> started{0}, closed{0}, timeouts{0};
  sluice::server_options opt;
  opt.grace_period = 300ms;
  auto h = sluice::start_server(0, [&](sluice::connection& c) {
    started.fetch_add(1);
    try {
      c.read_line();
    } catch (const sluice::connection_timeout&) {
      timeouts.fetch_add(1);
    } catch (const sluice::connection_closed& e) {
      if (std::string(e.what()).find("stopping") != std::string::npos) closed.fetch_add(1);
    }
  }, 60s, opt);
  client a(h.port()), b(h.port());
  ASSERT_TRUE(eventually([&] { return started.load() == 2; }));
  auto t0 = clk::now();
  h.stop();
  auto took = clk::now() - t0;
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 5s);
  EXPECT_EQ(closed.load(), 2);
  EXPECT_EQ(timeouts.load(), 0);
  EXPECT_TRUE(a.closed_by_peer());
  EXPECT_TRUE(b.closed_by_peer());
}

TEST(RunServer, StopTokenOverload) {
  std::atomic<std::uint16_t> port{0};
  std::stop_source stop;
  sluice::server_options opt;
  opt.on_listen = [&](std::uint16_t p) { port = p; };
  std::thread server([&] { sluice::run_server(stop.get_token(), 0, line_echo, 5s, opt); });
  ASSERT_TRUE(eventually([&] { return port.load() != 0; }));
  {
    client c(port.load());
    ASSERT_TRUE(c.send("via stop_token\n"));
    EXPECT_EQ(c.line(), "via stop_token\n");
  }
  stop.request_stop();
  server.join();  // returns: the test would hang (and time out) otherwise
  client after(port.load());
  EXPECT_FALSE(after.ok());
}

TEST(RunServer, BackgroundOverloadAndBadAddress) {
  auto h = sluice::run_server(sluice::background, 0, line_echo);
  client c(h.port());
  ASSERT_TRUE(c.send("bg\n"));
  EXPECT_EQ(c.line(), "bg\n");
  sluice::server_options taken;
  EXPECT_THROW(sluice::start_server(h.port(), line_echo, {}, taken), std::system_error);  // in use
  sluice::server_options bad;
  bad.bind_address = "not an address at all";
  EXPECT_THROW(sluice::start_server(0, line_echo, {}, bad), std::system_error);
}

TEST(RunServer, ConnectionLimitRefusesTheExcess) {
  std::atomic<int> running{0};
  sluice::server_options opt;
  opt.max_connections = 2;
  auto h = sluice::start_server(0, [&](sluice::connection& c) {
    running.fetch_add(1);
    line_echo(c);
    running.fetch_sub(1);
  }, 30s, opt);
  auto a = std::make_unique<client>(h.port());
  client b(h.port());
  ASSERT_TRUE(a->send("a\n"));
  ASSERT_TRUE(b.send("b\n"));
  EXPECT_EQ(a->line(), "a\n");
  EXPECT_EQ(b.line(), "b\n");
  ASSERT_EQ(running.load(), 2);
  for (int i = 0; i < 5; ++i) {  // a flood beyond the limit: accepted and closed at once
    client extra(h.port());
    EXPECT_TRUE(extra.closed_by_peer());
  }
  EXPECT_EQ(h.refused_connections(), 5u);
  EXPECT_EQ(h.active_connections(), 2u);
  a.reset();  // frees a slot
  ASSERT_TRUE(eventually([&] { return h.active_connections() == 1; }));
  client d(h.port());
  ASSERT_TRUE(d.send("d\n"));
  EXPECT_EQ(d.line(), "d\n");
  ASSERT_TRUE(b.send("b again\n"));
  EXPECT_EQ(b.line(), "b again\n");
}

TEST(RunServer, CustodianJoinsSpawnedThreadsAndReleasesKeptResources) {
  std::atomic<int> spawned_done{0};
  auto released = std::make_shared<std::atomic<int>>(0);
  auto h = sluice::start_server(0, [&](sluice::connection& c) {
    c.keep(std::shared_ptr<void>(new int(1), [released](void* p) {
      delete static_cast<int*>(p);
      released->fetch_add(1);
    }));
    c.spawn([&](std::stop_token st) {
      while (!st.stop_requested()) std::this_thread::sleep_for(5ms);
      spawned_done.fetch_add(1);
    });
    c.read_line();  // cut by the time limit
  }, 300ms);
  client c(h.port());
  EXPECT_TRUE(c.closed_by_peer());
  EXPECT_TRUE(eventually([&] { return spawned_done.load() == 1 && released->load() == 1; }));
}

namespace {

// A Unix-domain listener written against the public hooks: nothing TCP-specific in the server.
class unix_listener : public sluice::listener {
 public:
  explicit unix_listener(std::string path) : path_(std::move(path)) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path_.c_str());
    ::unlink(path_.c_str());
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 16) != 0) {
      throw std::system_error(errno, std::generic_category(), "unix listen");
    }
    if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) throw std::system_error(errno, std::generic_category(), "pipe");
  }
  ~unix_listener() override {
    close();
    ::close(wake_[0]);
    ::close(wake_[1]);
  }
  std::unique_ptr<sluice::stream> accept() override {
    for (;;) {
      if (fd_ < 0) return nullptr;
      pollfd p[2] = {{wake_[0], POLLIN, 0}, {fd_, POLLIN, 0}};
      if (::poll(p, 2, -1) < 0) continue;
      if (p[0].revents) return nullptr;
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c >= 0) return sluice::make_socket_stream(c, "unix:" + path_);
    }
  }
  void interrupt() noexcept override { (void)!::write(wake_[1], "x", 1); }
  void close() noexcept override {
    if (fd_ >= 0) ::close(fd_), ::unlink(path_.c_str());
    fd_ = -1;
  }

 private:
  std::string path_;
  int fd_ = -1;
  int wake_[2] = {-1, -1};
};

}  // namespace

TEST(RunServer, UnixDomainSocketThroughTheHooks) {
  std::string path = "/tmp/sluice-server-test-" + std::to_string(::getpid()) + ".sock";
  std::atomic<int> closes{0};
  sluice::server_options opt;
  opt.listen = [&](std::uint16_t, const sluice::server_options&) { return std::make_unique<unix_listener>(path); };
  opt.close = [&](sluice::listener& l) {
    closes.fetch_add(1);
    l.close();
  };
  std::string peer;
  std::mutex pm;
  {
    auto h = sluice::start_server(0, [&](sluice::connection& c) {
      {
        std::lock_guard<std::mutex> g(pm);
        peer = c.peer();
      }
      line_echo(c);
    }, 10s, opt);
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(::send(fd, "over unix\n", 10, MSG_NOSIGNAL), 10);
    char buf[10];
    EXPECT_EQ(::recv(fd, buf, 10, MSG_WAITALL), 10);
    EXPECT_EQ(std::string(buf, 10), "over unix\n");
    ::close(fd);
  }
  EXPECT_EQ(closes.load(), 1);
  std::lock_guard<std::mutex> g(pm);
  EXPECT_EQ(peer, "unix:" + path);
}

namespace {

struct tls_client {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = nullptr;
  client sock;
  explicit tls_client(std::uint16_t port) : sock(port) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, sock.fd());
  }
  ~tls_client() {
    SSL_free(ssl);
    SSL_CTX_free(ctx);
  }
  bool handshake() { return SSL_connect(ssl) == 1; }
  bool send(const std::string& s) { return SSL_write(ssl, s.data(), static_cast<int>(s.size())) == static_cast<int>(s.size()); }
  std::string line() {
    std::string s;
    char c;
    while (SSL_read(ssl, &c, 1) == 1) {
      s += c;
      if (c == '\n') break;
    }
    return s;
  }
};

}  // namespace

TEST(RunServer, TlsEcho) {
  std::string pem = sluice_test::make_node_pem("sluice server test");
  ASSERT_FALSE(pem.empty());
  boost::asio::ssl::context ctx(boost::asio::ssl::context::tls_server);
  ctx.use_certificate_chain(boost::asio::buffer(pem));
  ctx.use_private_key(boost::asio::buffer(pem), boost::asio::ssl::context::pem);
  errors errs;
  std::atomic<int> handlers{0};
  auto h = sluice::start_server(0, [&](sluice::connection& c) {
    handlers.fetch_add(1);
    line_echo(c);
  }, 3s, sluice::tls(ctx, errs.hook()));
  {
    tls_client a(h.port()), b(h.port());
    ASSERT_TRUE(a.handshake());
    ASSERT_TRUE(b.handshake());
    ASSERT_TRUE(a.send("secret hello\n"));
    ASSERT_TRUE(b.send("second client\n"));
    EXPECT_EQ(a.line(), "secret hello\n");
    EXPECT_EQ(b.line(), "second client\n");
    std::string big(50000, 'q');
    ASSERT_TRUE(a.send(big + "\n"));
    EXPECT_EQ(a.line(), big + "\n");
  }
  // A client that never starts its handshake is cut at the time limit, without a handler.
  client silent(h.port());
  auto t0 = clk::now();
  EXPECT_TRUE(silent.closed_by_peer());
  EXPECT_LT(clk::now() - t0, 8s);
  // A plain-text client fails the handshake: reported, nothing else affected.
  {
    client plain(h.port());
    plain.send("GET / HTTP/1.0\r\n\r\n");
    EXPECT_TRUE(plain.closed_by_peer());
  }
  EXPECT_TRUE(eventually([&] { return h.active_connections() == 0; }));
  EXPECT_EQ(handlers.load(), 2);
  EXPECT_EQ(errs.get().size(), 1u);
  tls_client again(h.port());
  ASSERT_TRUE(again.handshake());
  ASSERT_TRUE(again.send("again\n"));
  EXPECT_EQ(again.line(), "again\n");
}

// Nothing leaks: 10,000 short connections (SLUICE_SERVER_LEAK_N to change), then fds and
// threads back to where they were.
TEST(RunServer, NoLeaksUnderManyShortConnections) {
  int n = 10000;
  if (const char* e = std::getenv("SLUICE_SERVER_LEAK_N")) n = std::atoi(e);
  std::size_t fd0 = fds(), th0 = threads();
  {
    auto h = sluice::start_server(0, line_echo, 10s);
    constexpr int workers = 4;
    std::atomic<int> good{0};
    std::vector<std::thread> ts;
    for (int w = 0; w < workers; ++w) {
      ts.emplace_back([&, w] {
        for (int i = w; i < n; i += workers) {
          client c(h.port());
          if (c.ok() && c.send("x\n") && c.line() == "x\n") good.fetch_add(1);
        }
      });
    }
    for (auto& t : ts) t.join();
    EXPECT_EQ(good.load(), n);
    // While it still runs: every connection thread joined (the acceptor and the watchdog remain).
    EXPECT_TRUE(eventually([&] { return h.active_connections() == 0 && threads() <= th0 + 2 + tsan_thread; }))
        << "threads " << threads() << " vs " << th0 << " + 2";
    EXPECT_TRUE(eventually([&] { return fds() == fd0 + 2; })) << "fds " << fds() << " vs " << fd0 << " + 2";
    EXPECT_EQ(h.accepted_connections(), static_cast<std::uint64_t>(n));
  }
  EXPECT_LE(threads(), th0 + tsan_thread);
  EXPECT_EQ(fds(), fd0);
}
