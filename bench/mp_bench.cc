// Ports next to CAF (Debian libcaf-dev 0.17) in the same run: one-to-one message throughput,
// many-to-one (4 senders), and a ping-pong between two ports/actors; plus the cost of a
// selective get(tag) with 10,000 unmatched messages queued next to none. Prints JSON lines
// like bench/compare; every run checks the count and sum of what it moved.
//
//   mp_bench [--messages N] [--rounds K]
#include <caf/all.hpp>
#include <sluice/channel.hpp>
#include <sluice/mp.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

using clk = std::chrono::steady_clock;
double since(clk::time_point t0) { return std::chrono::duration<double>(clk::now() - t0).count(); }

void emit(const char* impl, const char* workload, long n, double seconds, bool ok, const char* unit = "seconds") {
  std::printf("{\"impl\": \"%s\", \"workload\": \"%s\", \"cap\": \"-\", \"messages\": %ld, \"%s\": %.9f, \"ok\": %s, "
              "\"group\": \"mp\"}\n",
              impl, workload, n, unit, seconds, ok ? "true" : "false");
  std::fflush(stdout);
  std::fprintf(stderr, "  %-8s %-34s %12.6f %s%s\n", impl, workload, seconds, unit, ok ? "" : "  CHECK FAILED");
}

// --- sluice ports ----------------------------------------------------------------------------

void sluice_throughput(long n, int senders, const char* name) {
  using namespace sluice::mp;
  sluice::channel<long> done(1);
  auto count = std::make_shared<long>(0);
  auto sum = std::make_shared<long>(0);
  port_id rx = port([=](const message& m) mutable {
    *sum += m[0].get<long>();
    if (++*count == n) done.send(*sum);
  });
  auto t0 = clk::now();
  std::vector<std::thread> ts;
  for (int s = 0; s < senders; ++s) {
    ts.emplace_back([rx, n, s, senders] {
      for (long i = s; i < n; i += senders) snd(rx, message::array({i}));
    });
  }
  long got = *done.recv();
  double secs = since(t0);
  for (auto& t : ts) t.join();
  emit("sluice", name, n, secs, got == n * (n - 1) / 2);
  kil(rx);
}

void sluice_ping_pong(long rounds) {
  using namespace sluice::mp;
  sluice::channel<long> done(1);
  port_id b;
  port_id a = port([&b, rounds, done](const message& m) mutable {
    long i = m[1];
    if (i == rounds) {
      done.send(i);
    } else {
      snd(b, message::array({"ping", i + 1}));
    }
  });
  b = port([a](const message& m) { snd(a, message::array({"pong", m[1]})); });
  auto t0 = clk::now();
  snd(b, message::array({"ping", 0}));
  long got = *done.recv();
  double secs = since(t0);
  emit("sluice", "ping-pong round trip", rounds, secs * 1e9 / static_cast<double>(rounds), got == rounds, "ns");
  kil(a);
  kil(b);
}

// Median cost of one mailbox.get(tag) with `noise` unmatched messages queued ahead.
void sluice_selective(long noise, long gets) {
  using namespace sluice::mp;
  sluice::channel<double> out(1);
  port_id p = port_async([gets, out](mailbox& mb) mutable {
    (void)mb.get("start", std::chrono::seconds(30));
    std::vector<double> ns;
    for (long i = 0; i < gets; ++i) {
      auto t0 = clk::now();
      auto m = mb.get("x", std::chrono::seconds(30));
      ns.push_back(std::chrono::duration<double, std::nano>(clk::now() - t0).count());
      if (!m) break;
    }
    std::sort(ns.begin(), ns.end());
    out.send(ns.empty() ? -1.0 : ns[ns.size() / 2]);
  });
  for (long i = 0; i < noise; ++i) snd(p, message::array({"noise", i}));
  for (long i = 0; i < gets; ++i) snd(p, message::array({"x", i}));
  snd(p, message::array({"start"}));
  double med = *out.recv();
  std::string w = "get(tag) with " + std::to_string(noise) + " unmatched queued";
  emit("sluice", w.c_str(), gets, med, med >= 0, "ns");
}

// --- CAF ------------------------------------------------------------------------------------

using done_atom = caf::atom_constant<caf::atom("done")>;

void caf_throughput(caf::actor_system& sys, long n, int senders, const char* name) {
  caf::scoped_actor self{sys};
  caf::actor me = caf::actor_cast<caf::actor>(self);
  auto rx = sys.spawn([n, me](caf::event_based_actor*) -> caf::behavior {
    auto count = std::make_shared<long>(0);
    auto sum = std::make_shared<long>(0);
    return {[=](long v) {
      *sum += v;
      if (++*count == n) caf::anon_send(me, done_atom::value, *sum);
    }};
  });
  auto t0 = clk::now();
  std::vector<std::thread> ts;
  for (int s = 0; s < senders; ++s) {
    ts.emplace_back([rx, n, s, senders] {
      for (long i = s; i < n; i += senders) caf::anon_send(rx, i);
    });
  }
  long got = -1;
  self->receive([&](done_atom, long sum) { got = sum; });
  double secs = since(t0);
  for (auto& t : ts) t.join();
  emit("caf", name, n, secs, got == n * (n - 1) / 2);
  caf::anon_send_exit(rx, caf::exit_reason::user_shutdown);
}

void caf_ping_pong(caf::actor_system& sys, long rounds) {
  caf::scoped_actor self{sys};
  caf::actor me = caf::actor_cast<caf::actor>(self);
  auto pong = sys.spawn([](caf::event_based_actor* s) -> caf::behavior {
    return {[=](long i, caf::actor from) { s->send(from, i); }};
  });
  auto ping = sys.spawn([pong, rounds, me](caf::event_based_actor* s) -> caf::behavior {
    return {[=](long i) {
      if (i == rounds) {
        caf::anon_send(me, done_atom::value, i);
      } else {
        s->send(pong, i + 1, caf::actor_cast<caf::actor>(s));
      }
    }};
  });
  auto t0 = clk::now();
  caf::anon_send(ping, 0L);
  long got = -1;
  self->receive([&](done_atom, long i) { got = i; });
  double secs = since(t0);
  emit("caf", "ping-pong round trip", rounds, secs * 1e9 / static_cast<double>(rounds), got == rounds, "ns");
  caf::anon_send_exit(ping, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(pong, caf::exit_reason::user_shutdown);
}

}  // namespace

int main(int argc, char** argv) {
  long n = 1'000'000, rounds = 100'000;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--messages") n = std::atol(argv[i + 1]);
    else if (a == "--rounds") rounds = std::atol(argv[i + 1]);
  }
  unsigned workers = std::max(2u, std::thread::hardware_concurrency());
  sluice::mp::set_scheduler_threads(workers);
  sluice_throughput(n, 1, "one-to-one throughput");
  sluice_throughput(n, 4, "many-to-one throughput (4 senders)");
  sluice_ping_pong(rounds);
  sluice_selective(0, 2000);
  sluice_selective(10000, 2000);
  {
    caf::actor_system_config cfg;
    cfg.set("scheduler.max-threads", static_cast<std::size_t>(workers));
    caf::actor_system sys{cfg};
    caf_throughput(sys, n, 1, "one-to-one throughput");
    caf_throughput(sys, n, 4, "many-to-one throughput (4 senders)");
    caf_ping_pong(sys, rounds);
  }
  return 0;
}
