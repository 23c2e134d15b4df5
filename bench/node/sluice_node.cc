// sluice nodes across two processes on 127.0.0.1 (bench/node): one-way throughput of
// ["tag", i] (the receiver checks every i, in order), ping-pong round trips, and how long a
// monitor on a peer's port takes to fire when the peer is killed with SIGKILL and when it is
// stopped (SIGSTOP) under monitor_timeout = 1 s. Public API only (sluice/node.hpp, mp.hpp).
//
//   sluice_node_bench [--framing cbor|json] [--messages N] [--rounds K] [--port P]
//                     [--part traffic|detect|all] [--monitor-timeout-ms T]
//                     [--scheduler-threads S]   (both nodes; default: the library's)
//
// This process is node "nbmain" on 127.0.0.1:P; its peers (this binary with --peer) are
// nbpeer1..3 on P+1..P+3, seeded with nbmain. One JSON line per result on stdout.
//
// --part traffic: throughput and round trips; detect: kill -9 and SIGSTOP. monitor_timeout
// (both nodes) is T, default 1000 ms for detect and 30000 ms (the default) otherwise:
// run.py runs the parts as two processes, because with 1 s a burst of a million JSON
// messages can end the connection as "monitor timeout" (the sender hears nothing while the
// receiver works through the backlog ahead of the probe; see the report).
#include <sluice/node.hpp>

#include "common.hpp"

#include <condition_variable>
#include <cstring>
#include <mutex>
#include <optional>
#include <random>

namespace mp = sluice::mp;
using namespace std::chrono_literals;
using namespace nodebench;

namespace {

const char* const secret = "nodebench secret";

void configure(const std::string& nodeid, const std::string& bind, const std::string& framing,
               const std::optional<std::string>& seed, long monitor_timeout_ms, unsigned threads) {
  if (threads > 0) mp::set_scheduler_threads(threads);
  mp::node_config cfg;
  cfg.nodeid = nodeid;
  cfg.secret = secret;
  cfg.binds = {bind};
  if (seed) cfg.seeds = {*seed};
  cfg.framing = {framing};
  cfg.use_rc_file = false;
  cfg.monitor_timeout = std::chrono::milliseconds(monitor_timeout_ms);
  cfg.max_queued_bytes = std::size_t(1) << 30;  // the throughput burst is queued at once
  mp::configure(cfg);
}

// The peer: "sink" checks ["tag", i] for i = 0, 1, ... and reports ["done", count, first
// out-of-order index or -1] to nbmain#ctl after n of them; "echo" answers ["ping", i, PORT]
// with ["pong", i].
int run_peer(char** argv) {
  deadline(300);
  std::string nodeid = argv[0], bind = argv[1], seed = argv[2], framing = argv[3];
  long n = std::atol(argv[4]), monitor_timeout_ms = std::atol(argv[5]);
  configure(nodeid, bind, framing, seed, monitor_timeout_ms, static_cast<unsigned>(std::atoi(argv[6])));
  struct state {
    long next = 0, bad = -1;
  };
  auto st = std::make_shared<state>();
  auto ctl = mp::port_id::parse("nbmain#ctl");
  // (The tag is compared as a string: nlohmann's m[0] == "tag" builds a json string from
  // "tag" first, an allocation per message that is the check's, not the transport's.)
  mp::named_port("sink", [st, n, ctl](const mp::message& m) {
    if (st->bad < 0 && !(m.size() == 2 && m[0].is_string() && m[0].get_ref<const std::string&>() == "tag" &&
                         m[1].is_number_integer() && m[1].get<long>() == st->next)) {
      st->bad = st->next;
    }
    if (++st->next == n) mp::snd(ctl, {"done", st->next, st->bad});
  });
  mp::named_port("status", [st](const mp::message& m) {  // ["status", PORT]: how far the sink got
    mp::snd(mp::port_id::parse(m.at(1).get<std::string>()), {"status", st->next, st->bad});
  });
  mp::named_port("echo", [](const mp::message& m) {
    mp::snd(mp::port_id::parse(m.at(2).get<std::string>()), {"pong", m.at(1)});
  });
  for (int i = 0; i < 3000 && getppid() != 1; ++i) std::this_thread::sleep_for(100ms);
  return 0;
}

bool is_up(const std::string& node) {
  for (const auto& x : mp::up_nodes()) {
    if (x == node) return true;
  }
  return false;
}

// A value set once by a callback, waited for with a limit.
template <class T>
struct slot {
  std::mutex m;
  std::condition_variable cv;
  std::optional<T> v;
  void set(T x) {
    std::lock_guard<std::mutex> g(m);
    if (!v) v = std::move(x);
    cv.notify_all();
  }
  std::optional<T> wait(std::chrono::milliseconds limit) {
    std::unique_lock<std::mutex> g(m);
    cv.wait_for(g, limit, [&] { return v.has_value(); });
    return v;
  }
};

// Round trips to PEER#echo, each sent from the pong handler as soon as the last one is back.
std::vector<double> round_trips(const std::string& sys, const std::string& peer, long rounds) {
  struct rt {
    std::vector<double> us;
    clock::time_point sent;
    long i = 0;
    slot<bool> done;
  };
  auto r = std::make_shared<rt>();
  r->us.reserve(rounds);
  auto echo = mp::port_id::parse(peer + "#echo");
  auto bad = std::make_shared<std::atomic<bool>>(false);
  mp::port_id me = mp::port([r, echo, rounds, bad](const mp::message& m) {
    auto now = clock::now();
    if (!(m.size() == 2 && m[0] == "pong" && m[1] == r->i)) *bad = true;
    r->us.push_back(std::chrono::duration<double, std::micro>(now - r->sent).count());
    if (++r->i == rounds) return r->done.set(true);
    r->sent = clock::now();
    mp::snd(echo, {"ping", r->i, mp::self()});
  });
  r->sent = clock::now();
  mp::snd(echo, {"ping", 0, me});
  if (!r->done.wait(std::chrono::milliseconds(60000 + rounds))) fail(sys, "round trips: only " + std::to_string(r->i) + " of " + std::to_string(rounds) + " came back");
  if (*bad) fail(sys, "round trips: a pong out of order");
  mp::kil(me);
  return r->us;
}

int run_main(const std::string& framing, long n, long rounds, int port, const std::string& part, long mt,
             unsigned threads) {
  deadline(600);
#ifndef NODEBENCH_SYSTEM_SUFFIX
#define NODEBENCH_SYSTEM_SUFFIX ""
#endif
  const std::string sys = "sluice-" + framing + NODEBENCH_SYSTEM_SUFFIX;  // "+mimalloc": linked with sluice::mimalloc
  auto addr = [](int p) { return "127.0.0.1:" + std::to_string(p); };
  configure("nbmain", addr(port), framing, std::nullopt, mt, threads);
  const std::string mts = std::to_string(mt), ths = std::to_string(threads),
                    mtx = ", \"monitor_timeout_ms\": " + mts + (threads ? ", \"scheduler_threads\": " + ths : "");
  slot<mp::message> done;
  mp::named_port("ctl", [&done](const mp::message& m) { done.set(m); });

  // 1. One-way throughput.
  if (part != "detect") {
    peer_process p({"nbpeer1", addr(port + 1), addr(port), framing, std::to_string(n), mts, ths});
    if (!wait_until([] { return is_up("nbpeer1"); }, 10s)) fail(sys, "nbpeer1 never came up");
    round_trips(sys, "nbpeer1", 100);  // warm-up: the connection, the allocator
    auto sink = mp::port_id::parse("nbpeer1#sink");
    auto watch = mp::mon(sink, [&done](const mp::message& reason) {  // the connection broke, say
      done.set(mp::message::array({"sink died", reason}));
    });
    auto t0 = clock::now();
    for (long i = 0; i < n; ++i) mp::snd(sink, {"tag", i});
    double enqueue_s = secs_since(t0);
    auto got = done.wait(std::chrono::milliseconds(60000));
    double secs = secs_since(t0);
    if (!got) {  // what does the receiver say?
      slot<mp::message> status;
      auto me = mp::port([&status](const mp::message& m) { status.set(m); });
      mp::snd(mp::port_id::parse("nbpeer1#status"), {"status", me});
      auto st = status.wait(5000ms);
      std::string up;
      for (const auto& x : mp::up_nodes()) up += x + " ";
      fail(sys, "throughput: no \"done\" from the receiver within 60 s (enqueueing took " + std::to_string(enqueue_s) +
                    " s); the receiver says " + (st ? st->dump() : std::string("nothing within 5 s")) + "; nodes up: " + up);
    }
    watch.cancel();
    if ((*got)[1] != n || (*got)[2] != -1) fail(sys, "throughput: receiver reports " + got->dump());
    emit(sys, "throughput", static_cast<double>(n) / secs, "msg/s", n, true,
         ", \"seconds\": " + std::to_string(secs) + ", \"enqueue_seconds\": " + std::to_string(enqueue_s) + mtx);

    // 2. Round trips.
    auto s = summarize(round_trips(sys, "nbpeer1", rounds));
    emit(sys, "rt_median", s.median_us, "us", rounds, true, mtx);
    emit(sys, "rt_p99", s.p99_us, "us", rounds, true, mtx);
  }
  // 3. A peer killed with SIGKILL, and a stopped one (SIGSTOP): kill to monitor callback.
  for (int k = 0; k < 2 && part != "traffic"; ++k) {
    std::string peer = k == 0 ? "nbpeer2" : "nbpeer3";
    peer_process p({peer, addr(port + 2 + k), addr(port), framing, "1", mts, ths});
    if (!wait_until([&] { return is_up(peer); }, 10s)) fail(sys, peer + " never came up");
    slot<std::pair<clock::time_point, mp::message>> fired;
    auto m = mp::mon(mp::port_id::parse(peer + "#echo"),
                     [&fired](const mp::message& reason) { fired.set({clock::now(), reason}); });
    // A random pause first: the peer is stopped at a random phase of the silence watch's
    // ticks (it ticks from the moment the connection came up), and right after traffic.
    std::this_thread::sleep_for(std::chrono::milliseconds(std::random_device{}() % 250));
    round_trips(sys, peer, 10);  // the monitor is in place at the peer, the connection busy just now
    auto t0 = clock::now();
    ::kill(p.pid, k == 0 ? SIGKILL : SIGSTOP);
    auto f = fired.wait(5000ms);
    if (!f) fail(sys, std::string(k == 0 ? "kill -9" : "SIGSTOP") + ": the monitor did not fire within 5 s");
    if (f->second.empty() || f->second[0] != "transport_error") fail(sys, "monitor fired with " + f->second.dump());
    double ms = std::chrono::duration<double, std::milli>(f->first - t0).count();
    emit(sys, k == 0 ? "kill9_detect" : "stop_detect", ms, "ms", 1, true, ", \"reason\": " + f->second.dump() + mtx);
    m.cancel();
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 9 && std::strcmp(argv[1], "--peer") == 0) return run_peer(argv + 2);
  std::string framing = "cbor";
  long n = 1000000, rounds = 10000;
  int port = 14200;
  std::string part = "all";
  long mt = -1;
  unsigned threads = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--framing") framing = argv[i + 1];
    else if (a == "--messages") n = std::atol(argv[i + 1]);
    else if (a == "--rounds") rounds = std::atol(argv[i + 1]);
    else if (a == "--port") port = std::atoi(argv[i + 1]);
    else if (a == "--part") part = argv[i + 1];
    else if (a == "--monitor-timeout-ms") mt = std::atol(argv[i + 1]);
    else if (a == "--scheduler-threads") threads = static_cast<unsigned>(std::atoi(argv[i + 1]));
    else {
      std::fprintf(stderr, "usage: %s [--framing cbor|json] [--messages N] [--rounds K] [--port P]\n", argv[0]);
      return 2;
    }
  }
  if (n < 1 || rounds < 1 || (framing != "cbor" && framing != "json")) return 2;
  if (part != "all" && part != "traffic" && part != "detect") return 2;
  if (mt < 0) mt = part == "detect" ? 1000 : 30000;
  return run_main(framing, n, rounds, port, part, mt, threads);
}
