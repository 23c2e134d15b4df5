// Channels and alternation: the README's example.
#include <sluice/sluice.hpp>

#include <cstdio>
#include <thread>

int main() {
  sluice::channel<int> jobs(64), results;  // bounded and rendezvous
  std::thread worker([&] {
    for (int j : jobs) results.send(j * j);  // until jobs is closed and drained
  });
  for (int i = 0; i < 3; ++i) jobs.send(i);
  jobs.close();
  for (int i = 0; i < 3; ++i) {
    (void)sluice::pri_alt(sluice::on_recv(results, [](int r) { std::printf("%d\n", r); }),
                          sluice::otherwise(std::chrono::seconds(1), [] { std::puts("slow"); }));
  }
  worker.join();
}
