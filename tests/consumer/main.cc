// Built against the installed sluice: exercises the public API through the umbrella header.
#include <sluice/sluice.hpp>
#include <sluice/server.hpp>  // also in the umbrella; named as a user would

#include <atomic>
#include <cstdio>
#include <thread>

int main() {
  using namespace std::chrono_literals;
  sluice::channel<int> rendezvous, bounded(4), lossy(1, sluice::overflow::drop_oldest), unbounded(sluice::unbounded);
  std::thread t([&] {
    for (int i = 0; i < 100; ++i) rendezvous.send(i);
    rendezvous.close();
  });
  long sum = 0;
  for (int v : rendezvous) sum += v;
  t.join();
  if (sum != 4950) return 1;
  bounded.send(1);
  lossy.send(1);
  lossy.send(2);
  unbounded.send(3);
  int got = 0;
  auto r = sluice::pri_alt(sluice::on_recv(lossy, [&](int v) { got = v; }), sluice::otherwise(10ms, [] {}));
  if (r.index != 0 || got != 2) return 2;
  if (unbounded.recv_for(10ms).value() != 3) return 3;
  if (sluice::to_string(bounded.try_send(2)) != std::string("ok")) return 4;
  sluice::alternation alt;
  alt.add(sluice::on_recv(bounded, [](int) {}));
  if (alt.fair().status != sluice::status::ok) return 5;
  if (!sluice::after(1ms).recv_for(1s)) return 6;
  // <sluice/server.hpp>: a server on a port the system picks, started and stopped.
  std::atomic<int> served{0};
  {
    auto server = sluice::start_server(0, [&](sluice::connection& c) { served.fetch_add(1), c.write_line("hi"); }, 1s);
    if (server.port() == 0) return 7;
    server.stop();
  }
  // The TLS hook links (libssl through the package's dependencies).
  sluice::server_options (*tls)(ssl_ctx_st*, sluice::server_options) = &sluice::tls;
  if (!tls) return 8;
  std::puts("consumer: ok");
  return 0;
}
