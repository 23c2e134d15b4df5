// Built against the installed sluice with sluice::mimalloc: the program's allocations, a
// message tree's included, come from mimalloc, and ports work across threads on it.
#include <sluice/mp.hpp>

#include <mimalloc.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

int main() {
  namespace mp = sluice::mp;
  auto* probe = new mp::message(mp::message::array({"tag", 1}));
  const bool ours = mi_is_in_heap_region(probe) && mi_is_in_heap_region(probe->get_ptr<mp::message::array_t*>()->data());
  delete probe;
  if (!ours) {
    std::puts("with_mimalloc: a message tree was not allocated by mimalloc");
    return 1;
  }
  std::atomic<long> sum{0};
  auto sink = mp::port([&sum](const mp::message& m) { sum += m[1].get<long>(); });
  for (long i = 1; i <= 1000; ++i) mp::snd(sink, {"n", i});  // made here, freed on a worker
  for (int i = 0; i < 500 && sum.load() != 500500; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (sum.load() != 500500) {
    std::printf("with_mimalloc: the port summed %ld, not 500500\n", sum.load());
    return 1;
  }
  std::puts("with_mimalloc: ok");
  return 0;
}
