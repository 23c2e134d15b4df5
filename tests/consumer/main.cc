// Built against the installed sluice: exercises the public API through the umbrella header.
#include <sluice/sluice.hpp>

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
  std::puts("consumer: ok");
  return 0;
}
