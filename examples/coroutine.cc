// Racket's coroutine: run a computation only while allowed, for a time budget.
#include <sluice/sluice.hpp>

#include <cstdio>

int main() {
  sluice::coroutine<long> co([](sluice::coroutine_control& c) {
    long sum = 0;
    for (long i = 0; i < 50'000'000; ++i) {
      sum += i;
      if (i % 1024 == 0) c.checkpoint();  // where a spent budget suspends it
    }
    return sum;
  });
  int slices = 1;
  while (!co.run(std::chrono::milliseconds(2))) ++slices;  // the caller does other work between
  std::printf("sum %ld after %d slices\n", *co.result(), slices);
}
