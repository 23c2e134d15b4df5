// The default hooks: a TCP listener (poll on the listening socket and an eventfd that
// interrupt() makes readable for good) and a stream over a connected socket (blocking
// recv/send; shutdown(2) from any thread makes them return).
#include "core.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace sluice {
namespace {

std::string address_text(const sockaddr* sa) {
  char host[INET6_ADDRSTRLEN] = "?";
  if (sa->sa_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    return std::string(host) + ":" + std::to_string(ntohs(in->sin_port));
  }
  if (sa->sa_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(in6->sin6_port));
  }
  if (sa->sa_family == AF_UNIX) return "unix";
  return "?";
}

// Errors a peer or the network can cause; anything else on a valid socket is a bug.
bool peer_error(int e) {
  switch (e) {
    case ECONNRESET: case EPIPE: case ETIMEDOUT: case ENOTCONN: case EHOSTUNREACH: case ENETUNREACH:
    case ENETDOWN: case ECONNABORTED: case EIO: case ENOBUFS: case ENOMEM:
    case EAGAIN:  // a hook's socket with SO_RCVTIMEO/SO_SNDTIMEO (or, wrongly, non-blocking)
      return true;
    default:
      return false;
  }
}

class socket_stream final : public stream {
 public:
  socket_stream(int fd, std::string peer) : fd_(fd), peer_(std::move(peer)) {}
  ~socket_stream() override {
    if (::close(fd_) != 0 && errno == EBADF) detail::die("close (connection)", errno);
  }

  std::size_t read_some(void* buf, std::size_t n) override {
    for (;;) {
      ssize_t r = ::recv(fd_, buf, n, 0);
      if (r >= 0) return static_cast<std::size_t>(r);
      if (errno == EINTR) continue;
      if (!peer_error(errno)) detail::die("recv", errno);
      throw std::system_error(errno, std::generic_category(), "recv");
    }
  }

  std::size_t write_some(const void* buf, std::size_t n) override {
    for (;;) {
      ssize_t r = ::send(fd_, buf, n, MSG_NOSIGNAL);
      if (r >= 0) return static_cast<std::size_t>(r);
      if (errno == EINTR) continue;
      if (!peer_error(errno)) detail::die("send", errno);
      throw std::system_error(errno, std::generic_category(), "send");
    }
  }

  void shutdown() noexcept override {
    if (::shutdown(fd_, SHUT_RDWR) != 0 && errno != ENOTCONN) detail::die("shutdown", errno);
  }

  // FIN, then drop what the peer sent and we never read (so close(2) sends no RST over the
  // last answer).
  void finish() noexcept override {
    if (::shutdown(fd_, SHUT_WR) != 0 && errno != ENOTCONN) detail::die("shutdown", errno);
    char sink[4096];
    for (int i = 0; i < 16; ++i) {
      ssize_t r = ::recv(fd_, sink, sizeof sink, MSG_DONTWAIT);
      if (r <= 0 && !(r < 0 && errno == EINTR)) break;
    }
  }

  std::string peer() const override { return peer_; }

 private:
  const int fd_;
  const std::string peer_;
};

class tcp_listener final : public listener {
 public:
  tcp_listener(int fd, int wake) : fd_(fd), wake_(wake) {}
  ~tcp_listener() override {
    close();
    if (::close(wake_) != 0) detail::die("close (eventfd)", errno);
  }

  std::unique_ptr<stream> accept() override {
    for (;;) {
      if (fd_ < 0) return nullptr;
      pollfd p[2] = {{wake_, POLLIN, 0}, {fd_, POLLIN, 0}};
      int r = ::poll(p, 2, -1);
      if (r < 0) {
        if (errno == EINTR) continue;
        detail::die("poll (listener)", errno);
      }
      if (p[0].revents) return nullptr;
      sockaddr_storage sa{};
      socklen_t len = sizeof sa;
      int c = ::accept4(fd_, reinterpret_cast<sockaddr*>(&sa), &len, SOCK_CLOEXEC);
      if (c < 0) {
        int e = errno;
        switch (e) {
          case EAGAIN: case EINTR: case ECONNABORTED: case EPROTO: case EPERM: case ENETDOWN: case ENOPROTOOPT:
          case EHOSTDOWN: case ENONET: case EHOSTUNREACH: case EOPNOTSUPP: case ENETUNREACH:
            continue;  // that one connection went away
          case EMFILE: case ENFILE: case ENOBUFS: case ENOMEM:
            throw std::system_error(e, std::generic_category(), "sluice::run_server: accept");
          default:
            detail::die("accept4", e);
        }
      }
      if (sa.ss_family == AF_INET || sa.ss_family == AF_INET6) {
        int one = 1;
        ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // best effort
      }
      return make_socket_stream(c, address_text(reinterpret_cast<sockaddr*>(&sa)));
    }
  }

  void interrupt() noexcept override {
    std::uint64_t one = 1;
    while (::write(wake_, &one, sizeof one) < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return;  // the counter is full: readable already
      detail::die("write (eventfd)", errno);
    }
  }

  void close() noexcept override {
    if (fd_ < 0) return;
    if (::close(fd_) != 0 && errno == EBADF) detail::die("close (listener)", errno);
    fd_ = -1;
  }

  std::uint16_t port() const override {
    sockaddr_storage sa{};
    socklen_t len = sizeof sa;
    if (fd_ < 0 || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len) != 0) return 0;
    if (sa.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&sa)->sin_port);
    if (sa.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&sa)->sin6_port);
    return 0;
  }

 private:
  int fd_;
  const int wake_;
};

}  // namespace

std::unique_ptr<stream> make_socket_stream(int fd, std::string peer) {
  return std::make_unique<socket_stream>(fd, std::move(peer));
}

std::unique_ptr<listener> tcp_listen(std::uint16_t port, const server_options& opt) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string service = std::to_string(port);
  const char* host = opt.bind_address.empty() ? nullptr : opt.bind_address.c_str();
  if (!host) hints.ai_family = AF_INET6;  // "::" with IPV6_V6ONLY off: IPv4 as well
  int gai = ::getaddrinfo(host, service.c_str(), &hints, &res);
  if (gai != 0 && !host) {
    hints.ai_family = AF_INET;  // no IPv6 here
    gai = ::getaddrinfo(host, service.c_str(), &hints, &res);
  }
  if (gai != 0) {
    throw std::system_error(std::make_error_code(std::errc::invalid_argument),
                            "sluice::run_server: bind address \"" + opt.bind_address + "\": " + ::gai_strerror(gai));
  }
  int err = 0, fd = -1;
  for (addrinfo* a = res; a; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) {
      err = errno;
      continue;
    }
    int one = 1, zero = 0;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (a->ai_family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    if (::bind(fd, a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd, opt.backlog > 0 ? opt.backlog : SOMAXCONN) == 0) break;
    err = errno;
    ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(res);
  if (fd < 0) {
    throw std::system_error(err, std::generic_category(),
                            "sluice::run_server: listen on " + (host ? opt.bind_address : std::string("*")) + ":" +
                                service);
  }
  int wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) {
    int e = errno;
    ::close(fd);
    throw std::system_error(e, std::generic_category(), "sluice::run_server: eventfd");
  }
  return std::make_unique<tcp_listener>(fd, wake);
}

std::unique_ptr<stream> tcp_accept(listener& l) { return l.accept(); }

void tcp_close(listener& l) { l.close(); }

}  // namespace sluice
