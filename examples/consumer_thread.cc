// Racket's consumer-thread: a thread that applies f to each enqueued argument set, in order.
#include <sluice/sluice.hpp>

#include <cstdio>
#include <string>

int main() {
  auto [worker, enqueue] = sluice::consumer_thread(
      [](std::string who, int n) { std::printf("%s: %d\n", who.c_str(), n); },
      [] { std::puts("consumer started"); });
  enqueue("a", 1);
  enqueue("b", 2);
  worker.stop();  // finishes what it accepted, then joins (also done by the destructor)
  std::printf("after stop: %s\n", sluice::to_string(enqueue("c", 3)));  // closed
}
