// The raw TCP ceiling for the node benchmark (bench/node): two processes on 127.0.0.1, one
// connection per test, frames of [u32 length][payload]. Throughput with batched writes (64
// KiB buffers) of a binary payload ("tag" + the 8-byte index) and of a JSON text payload
// (nlohmann::json ["tag", i], dumped by the sender and parsed by the receiver); the receiver
// checks every index, in order. Round trips: one 8-byte frame each way, TCP_NODELAY. And the
// kill -9 ceiling: from kill() to the EOF on the connection.
//
//   rawtcp_node_bench [--messages N] [--rounds K] [--port P]
#include <nlohmann/json.hpp>

#include "common.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

using namespace nodebench;
using json = nlohmann::json;

namespace {

const char* sys = "rawtcp";

void set_timeouts(int fd, int seconds) {
  timeval tv{seconds, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

sockaddr_in loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

bool write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool read_all(int fd, char* p, size_t n) {
  while (n > 0) {
    ssize_t r = ::read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

void put_u32(std::string& out, uint32_t v) {
  char b[4];
  std::memcpy(b, &v, 4);
  out.append(b, 4);
}

// The peer: accepts connections one after another; the first byte says what to do.
//   'B' N / 'J' N: receive N frames (binary / JSON), check them, answer [count, first bad or -1]
//   'R': echo 8-byte frames until EOF
//   'K': wait (to be killed)
int run_peer(int port) {
  alarm(300);
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  auto a = loopback(port);
  if (bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(ls, 8) != 0) {
    std::perror("rawtcp peer: bind");
    return 1;
  }
  for (int c = 0; c < 16; ++c) {
    int fd = accept(ls, nullptr, nullptr);
    if (fd < 0) return 1;
    set_timeouts(fd, 60);
    char mode;
    if (!read_all(fd, &mode, 1)) return 1;
    if (mode == 'B' || mode == 'J') {
      int64_t n;
      if (!read_all(fd, reinterpret_cast<char*>(&n), 8)) return 1;
      int64_t next = 0, bad = -1;
      std::string buf;
      std::vector<char> chunk(1 << 16);
      size_t pos = 0;
      while (next < n) {
        ssize_t r = ::read(fd, chunk.data(), chunk.size());
        if (r <= 0) return 1;
        buf.erase(0, pos);
        pos = 0;
        buf.append(chunk.data(), static_cast<size_t>(r));
        while (buf.size() - pos >= 4) {
          uint32_t len;
          std::memcpy(&len, buf.data() + pos, 4);
          if (buf.size() - pos - 4 < len) break;
          const char* f = buf.data() + pos + 4;
          int64_t i = -1;
          if (mode == 'B') {
            if (len == 11 && std::memcmp(f, "tag", 3) == 0) std::memcpy(&i, f + 3, 8);
          } else {
            json j = json::parse(f, f + len, nullptr, false);
            if (j.is_array() && j.size() == 2 && j[0].is_string() &&
                j[0].get_ref<const std::string&>() == "tag" && j[1].is_number_integer()) i = j[1].get<int64_t>();
          }
          if (i != next && bad < 0) bad = next;
          ++next;
          pos += 4 + len;
        }
      }
      int64_t answer[2] = {next, bad};
      write_all(fd, reinterpret_cast<char*>(answer), sizeof answer);
    } else if (mode == 'R') {
      char f[12];
      while (read_all(fd, f, 12)) {
        if (!write_all(fd, f, 12)) break;
      }
    } else if (mode == 'K') {
      char x;
      [[maybe_unused]] auto r = ::read(fd, &x, 1);
    }
    close(fd);
  }
  return 0;
}

int dial(int port) {
  for (int tries = 0; tries < 500; ++tries) {  // 5 s
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    auto a = loopback(port);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
      set_timeouts(fd, 60);
      return fd;
    }
    close(fd);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  fail(sys, "cannot connect to the peer");
}

void throughput(int port, char mode, int64_t n) {
  std::string name = mode == 'B' ? "rawtcp-binary" : "rawtcp-json";
  int fd = dial(port);
  std::string out;
  out.push_back(mode);
  out.append(reinterpret_cast<const char*>(&n), 8);
  auto t0 = clock::now();
  for (int64_t i = 0; i < n; ++i) {
    if (mode == 'B') {
      put_u32(out, 11);
      out.append("tag", 3);
      out.append(reinterpret_cast<const char*>(&i), 8);
    } else {
      std::string text = json::array({"tag", i}).dump();
      put_u32(out, static_cast<uint32_t>(text.size()));
      out += text;
    }
    if (out.size() >= (1 << 16)) {
      if (!write_all(fd, out.data(), out.size())) fail(name, "write failed");
      out.clear();
    }
  }
  if (!write_all(fd, out.data(), out.size())) fail(name, "write failed");
  int64_t answer[2];
  if (!read_all(fd, reinterpret_cast<char*>(answer), sizeof answer)) fail(name, "no answer from the receiver");
  double secs = secs_since(t0);
  close(fd);
  if (answer[0] != n || answer[1] != -1) {
    fail(name, "receiver got " + std::to_string(answer[0]) + ", first out of order " + std::to_string(answer[1]));
  }
  emit(name, "throughput", static_cast<double>(n) / secs, "msg/s", static_cast<long>(n), true,
       ", \"seconds\": " + std::to_string(secs));
}

void round_trips(int port, long rounds) {
  int fd = dial(port);
  char mode = 'R';
  write_all(fd, &mode, 1);
  std::vector<double> us;
  us.reserve(rounds);
  for (long k = -100; k < rounds; ++k) {  // 100 warm-up rounds
    char f[12], g[12];
    uint32_t len = 8;
    int64_t i = k;
    std::memcpy(f, &len, 4);
    std::memcpy(f + 4, &i, 8);
    auto t0 = clock::now();
    if (!write_all(fd, f, 12) || !read_all(fd, g, 12)) fail("rawtcp-binary", "round trip: connection lost");
    auto t1 = clock::now();
    if (std::memcmp(f, g, 12) != 0) fail("rawtcp-binary", "round trip: a different frame came back");
    if (k >= 0) us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  close(fd);
  auto s = summarize(us);
  emit("rawtcp-binary", "rt_median", s.median_us, "us", rounds, true);
  emit("rawtcp-binary", "rt_p99", s.p99_us, "us", rounds, true);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "--peer") == 0) return run_peer(std::atoi(argv[2]));
  long n = 1000000, rounds = 10000;
  int port = 14230;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--messages") n = std::atol(argv[i + 1]);
    else if (a == "--rounds") rounds = std::atol(argv[i + 1]);
    else if (a == "--port") port = std::atoi(argv[i + 1]);
    else return 2;
  }
  deadline(600);
  {
    peer_process p({std::to_string(port)});
    throughput(port, 'B', n);
    throughput(port, 'J', n);
    round_trips(port, rounds);
  }
  {  // kill -9: from kill() to EOF on the connection
    peer_process p({std::to_string(port + 1)});
    int fd = dial(port + 1);
    char mode = 'K';
    write_all(fd, &mode, 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the peer is in read()
    auto t0 = clock::now();
    ::kill(p.pid, SIGKILL);
    char x;
    ssize_t r = ::read(fd, &x, 1);
    double ms = std::chrono::duration<double, std::milli>(clock::now() - t0).count();
    if (r != 0 && !(r < 0 && errno == ECONNRESET)) fail("rawtcp-binary", "kill -9: no EOF within 60 s");
    emit("rawtcp-binary", "kill9_detect", ms, "ms", 1, true);
    close(fd);
  }
  return 0;
}
