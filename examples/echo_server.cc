// An echo server with sluice::run_server: one thread per connection, 30 s per connection.
//
//   example_echo_server 14400     # serves 127.0.0.1:14400 until Ctrl-C; try: nc 127.0.0.1 14400
//   example_echo_server           # a demo: serves a free port, talks to itself, stops
//
// Each line comes back prefixed with its number; "quit" ends the connection. A client that
// stays longer than 30 s is cut (its handler's read throws sluice::connection_timeout).
#include <sluice/server.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

using namespace std::chrono_literals;

namespace {

void echo(sluice::connection& c) {
  c.write_line("hello " + c.peer() + ", this is sluice's echo server");
  int n = 0;
  try {
    while (auto line = c.read_line()) {  // read_line flushes what was written first
      if (*line == "quit") break;
      c.iostream() << ++n << ": " << *line << "\n";
    }
  } catch (const sluice::connection_timeout&) {
    std::fprintf(stderr, "echo_server: %s took too long\n", c.peer().c_str());
  }
}

// The demo's client: a plain socket.
int talk_to(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return 1;
  std::string out = "first line\nsecond line\nquit\n", in;
  if (::send(fd, out.data(), out.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(out.size())) return 1;
  char buf[512];
  for (ssize_t k; (k = ::recv(fd, buf, sizeof buf, 0)) > 0;) in.append(buf, static_cast<std::size_t>(k));
  ::close(fd);
  std::fputs(in.c_str(), stdout);
  return in.find("2: second line\n") != std::string::npos ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    auto server = sluice::start_server(0, echo, 30s);  // listening when it returns
    std::printf("echo_server: demo on 127.0.0.1:%u\n", server.port());
    int rc = talk_to(server.port());
    server.stop();  // handlers get the grace period, then every thread is joined
    std::puts(rc == 0 ? "echo_server: ok" : "echo_server: FAILED");
    return rc;
  }
  // Ctrl-C / SIGTERM: a thread waits for them and asks the server to stop.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);  // before any thread starts: they inherit it
  std::stop_source stop;
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&sigs, &sig);
    stop.request_stop();
  });
  sluice::server_options opt;
  opt.on_listen = [](std::uint16_t port) { std::printf("echo_server: listening on 127.0.0.1:%u\n", port); };
  try {
    sluice::run_server(stop.get_token(), static_cast<std::uint16_t>(std::atoi(argv[1])), echo, 30s, opt);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "echo_server: %s\n", e.what());
    std::_Exit(1);  // the waiter still waits for a signal
  }
  waiter.join();
  std::puts("echo_server: stopped");
}
