// ZeroMQ for the node benchmark (bench/node), C API (libzmq 4.3): two processes on
// 127.0.0.1. PUSH/PULL throughput of N messages of 11 bytes ("tag" + the 8-byte index; the
// receiver checks every index, in order, and answers [count, first bad or -1] over a PUSH
// back), and REQ/REP round trips of 8 bytes.
//
//   zmq_node_bench [--messages N] [--rounds K] [--port P]   (uses P, P+1, P+2)
#include <zmq.h>

#include "common.hpp"

#include <cstdint>
#include <cstring>

using namespace nodebench;

namespace {

const char* sys = "zmq";

std::string ep(int port) { return "tcp://127.0.0.1:" + std::to_string(port); }

void* make(void* ctx, int type, int timeout_ms) {
  void* s = zmq_socket(ctx, type);
  int hwm = 0, linger = 0;  // no high-water mark: PUSH never drops or blocks on it
  zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
  zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
  zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
  zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
  zmq_setsockopt(s, ZMQ_SNDTIMEO, &timeout_ms, sizeof timeout_ms);
  return s;
}

int run_peer(int port, int64_t n) {
  alarm(300);
  void* ctx = zmq_ctx_new();
  void* pull = make(ctx, ZMQ_PULL, 60000);
  void* back = make(ctx, ZMQ_PUSH, 60000);
  void* rep = make(ctx, ZMQ_REP, 60000);
  if (zmq_bind(pull, ep(port).c_str()) != 0 || zmq_bind(rep, ep(port + 2).c_str()) != 0) {
    std::fprintf(stderr, "zmq peer: bind: %s\n", zmq_strerror(zmq_errno()));
    return 1;
  }
  zmq_connect(back, ep(port + 1).c_str());
  zmq_send(back, "r", 1, 0);  // ready
  int64_t next = 0, bad = -1;
  char buf[64];
  while (next < n) {
    int r = zmq_recv(pull, buf, sizeof buf, 0);
    if (r < 0) return 1;
    int64_t i = -1;
    if (r == 11 && std::memcmp(buf, "tag", 3) == 0) std::memcpy(&i, buf + 3, 8);
    if (i != next && bad < 0) bad = next;
    ++next;
  }
  int64_t answer[2] = {next, bad};
  zmq_send(back, answer, sizeof answer, 0);
  for (;;) {  // echo until the main's REQ goes quiet for 60 s (or the alarm)
    int r = zmq_recv(rep, buf, sizeof buf, 0);
    if (r < 0) break;
    if (zmq_send(rep, buf, static_cast<size_t>(r), 0) < 0) break;
  }
  zmq_ctx_term(ctx);  // linger 0: does not wait
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::strcmp(argv[1], "--peer") == 0) return run_peer(std::atoi(argv[2]), std::atoll(argv[3]));
  long n = 1000000, rounds = 10000;
  int port = 14220;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--messages") n = std::atol(argv[i + 1]);
    else if (a == "--rounds") rounds = std::atol(argv[i + 1]);
    else if (a == "--port") port = std::atoi(argv[i + 1]);
    else return 2;
  }
  deadline(600);
  peer_process p({std::to_string(port), std::to_string(n)});
  void* ctx = zmq_ctx_new();
  void* push = make(ctx, ZMQ_PUSH, 60000);
  void* back = make(ctx, ZMQ_PULL, 120000);
  void* req = make(ctx, ZMQ_REQ, 10000);
  zmq_bind(back, ep(port + 1).c_str());
  zmq_connect(push, ep(port).c_str());
  zmq_connect(req, ep(port + 2).c_str());
  char ready;
  if (zmq_recv(back, &ready, 1, 0) != 1) fail(sys, "the peer never said it is ready");
  std::vector<double> us;
  us.reserve(rounds);
  auto rt = [&](long k) {
    int64_t i = k, j = -2;
    if (zmq_send(req, &i, 8, 0) != 8 || zmq_recv(req, &j, 8, 0) != 8) fail(sys, "round trip: no answer");
    if (i != j) fail(sys, "round trip: a different message came back");
  };
  // Throughput.
  char msg[11];
  std::memcpy(msg, "tag", 3);
  auto t0 = clock::now();
  for (int64_t i = 0; i < n; ++i) {
    std::memcpy(msg + 3, &i, 8);
    if (zmq_send(push, msg, sizeof msg, 0) != sizeof msg) fail(sys, "send failed");
  }
  int64_t answer[2];
  if (zmq_recv(back, answer, sizeof answer, 0) != sizeof answer) fail(sys, "throughput: no answer from the receiver");
  double secs = secs_since(t0);
  if (answer[0] != n || answer[1] != -1) {
    fail(sys, "receiver got " + std::to_string(answer[0]) + ", first out of order " + std::to_string(answer[1]));
  }
  emit("zmq", "throughput", static_cast<double>(n) / secs, "msg/s", n, true, ", \"seconds\": " + std::to_string(secs));
  for (long k = 0; k < 100; ++k) rt(k);  // warm-up
  for (long k = 0; k < rounds; ++k) {
    auto a = clock::now();
    rt(k);
    us.push_back(std::chrono::duration<double, std::micro>(clock::now() - a).count());
  }
  auto s = summarize(us);
  emit("zmq", "rt_median", s.median_us, "us", rounds, true);
  emit("zmq", "rt_p99", s.p99_us, "us", rounds, true);
  zmq_close(push);
  zmq_close(back);
  zmq_close(req);
  zmq_ctx_term(ctx);
  return 0;
}
