// Channel microbenchmarks (Google Benchmark): uncontended try_send/try_recv, SPSC blocking
// throughput for capacities 1, 64 and 1024, and a rendezvous ping-pong round trip; each next
// to boost::lockfree::spsc_queue (spin-then-yield wrapper: it has no blocking API) and a
// std::mutex + condition_variable queue, in the same binary. Every throughput run checks the
// count and checksum of what it moved.
#include <benchmark/benchmark.h>
#include <sluice/channel.hpp>

#include <boost/lockfree/spsc_queue.hpp>
#include <cstdint>
#include <cstdlib>
#include <thread>

#include "peers/mutex_queue.hpp"
#include "peers/spin_wait.hpp"

namespace {

using sluice::status;

// --- Uncontended try_send + try_recv (one thread) ---------------------------------------

void BM_TryPair_SluiceBounded(benchmark::State& state) {
  sluice::channel<std::uint64_t> c(1024);
  std::uint64_t i = 0, sum = 0;
  for (auto _ : state) {
    if (c.try_send(i++) != status::ok) std::abort();
    sum += *c.try_recv();
  }
  benchmark::DoNotOptimize(sum);
  if (sum != i * (i - 1) / 2) state.SkipWithError("checksum mismatch");
}
BENCHMARK(BM_TryPair_SluiceBounded);

void BM_TryPair_SluiceUnbounded(benchmark::State& state) {
  sluice::channel<std::uint64_t> c(sluice::unbounded);
  std::uint64_t i = 0, sum = 0;
  for (auto _ : state) {
    c.try_send(i++);
    sum += *c.try_recv();
  }
  if (sum != i * (i - 1) / 2) state.SkipWithError("checksum mismatch");
}
BENCHMARK(BM_TryPair_SluiceUnbounded);

void BM_TryPair_BoostSpsc(benchmark::State& state) {
  boost::lockfree::spsc_queue<std::uint64_t> q(1024);
  std::uint64_t i = 0, sum = 0, v = 0;
  for (auto _ : state) {
    q.push(i++);
    q.pop(v);
    sum += v;
  }
  if (sum != i * (i - 1) / 2) state.SkipWithError("checksum mismatch");
}
BENCHMARK(BM_TryPair_BoostSpsc);

void BM_TryPair_MutexQueue(benchmark::State& state) {
  peers::mutex_queue<std::uint64_t> q(1024);
  std::uint64_t i = 0, sum = 0, v = 0;
  for (auto _ : state) {
    q.try_push(i++);
    q.try_pop(v);
    sum += v;
  }
  if (sum != i * (i - 1) / 2) state.SkipWithError("checksum mismatch");
}
BENCHMARK(BM_TryPair_MutexQueue);

// --- SPSC blocking throughput ------------------------------------------------------------
// The producer thread sends as many values as the benchmark loop will receive.

void BM_Spsc_Sluice(benchmark::State& state) {
  sluice::channel<std::uint64_t> c(static_cast<std::size_t>(state.range(0)));
  const std::uint64_t n = state.max_iterations;
  std::thread producer([&] {
    for (std::uint64_t i = 0; i < n; ++i) c.send(i);
  });
  std::uint64_t sum = 0, count = 0;
  for (auto _ : state) {
    sum += *c.recv();
    ++count;
  }
  producer.join();
  if (count != n || sum != n * (n - 1) / 2) state.SkipWithError("count or checksum mismatch");
  state.SetItemsProcessed(static_cast<std::int64_t>(count));
}
BENCHMARK(BM_Spsc_Sluice)->Arg(1)->Arg(64)->Arg(1024)->UseRealTime();

void BM_Spsc_BoostSpscSpinYield(benchmark::State& state) {
  boost::lockfree::spsc_queue<std::uint64_t> q(static_cast<std::size_t>(state.range(0)));
  const std::uint64_t n = state.max_iterations;
  std::thread producer([&] {
    for (std::uint64_t i = 0; i < n; ++i) peers::spin_then_yield([&] { return q.push(i); });
  });
  std::uint64_t sum = 0, count = 0, v = 0;
  for (auto _ : state) {
    peers::spin_then_yield([&] { return q.pop(v); });
    sum += v;
    ++count;
  }
  producer.join();
  if (count != n || sum != n * (n - 1) / 2) state.SkipWithError("count or checksum mismatch");
  state.SetItemsProcessed(static_cast<std::int64_t>(count));
}
BENCHMARK(BM_Spsc_BoostSpscSpinYield)->Arg(1)->Arg(64)->Arg(1024)->UseRealTime();

void BM_Spsc_MutexQueue(benchmark::State& state) {
  peers::mutex_queue<std::uint64_t> q(static_cast<std::size_t>(state.range(0)));
  const std::uint64_t n = state.max_iterations;
  std::thread producer([&] {
    for (std::uint64_t i = 0; i < n; ++i) q.push(i);
  });
  std::uint64_t sum = 0, count = 0;
  for (auto _ : state) {
    sum += q.pop();
    ++count;
  }
  producer.join();
  if (count != n || sum != n * (n - 1) / 2) state.SkipWithError("count or checksum mismatch");
  state.SetItemsProcessed(static_cast<std::int64_t>(count));
}
BENCHMARK(BM_Spsc_MutexQueue)->Arg(1)->Arg(64)->Arg(1024)->UseRealTime();

// --- Ping-pong round trip ------------------------------------------------------------------

void BM_PingPong_Sluice(benchmark::State& state) {
  const std::size_t cap = static_cast<std::size_t>(state.range(0));
  sluice::channel<std::uint64_t> ping(cap), pong(cap);
  std::thread echo([&] {
    for (auto v : ping) pong.send(v + 1);
  });
  std::uint64_t i = 0;
  bool bad = false;
  for (auto _ : state) {
    ping.send(i);
    if (*pong.recv() != i + 1) bad = true;
    ++i;
  }
  ping.close();
  echo.join();
  if (bad) state.SkipWithError("wrong echo");
}
BENCHMARK(BM_PingPong_Sluice)->Arg(0)->Arg(1)->UseRealTime();

void BM_PingPong_MutexQueue(benchmark::State& state) {
  peers::mutex_queue<std::uint64_t> ping(1), pong(1);
  std::thread echo([&] {
    for (;;) {
      std::uint64_t v = ping.pop();
      if (v == UINT64_MAX) return;
      pong.push(v + 1);
    }
  });
  std::uint64_t i = 0;
  bool bad = false;
  for (auto _ : state) {
    ping.push(i);
    if (pong.pop() != i + 1) bad = true;
    ++i;
  }
  ping.push(UINT64_MAX);
  echo.join();
  if (bad) state.SkipWithError("wrong echo");
}
BENCHMARK(BM_PingPong_MutexQueue)->UseRealTime();

void BM_PingPong_BoostSpscSpinYield(benchmark::State& state) {
  boost::lockfree::spsc_queue<std::uint64_t> ping(1), pong(1);
  std::thread echo([&] {
    for (;;) {
      std::uint64_t v = 0;
      peers::spin_then_yield([&] { return ping.pop(v); });
      if (v == UINT64_MAX) return;
      peers::spin_then_yield([&] { return pong.push(v + 1); });
    }
  });
  std::uint64_t i = 0, v = 0;
  bool bad = false;
  for (auto _ : state) {
    peers::spin_then_yield([&] { return ping.push(i); });
    peers::spin_then_yield([&] { return pong.pop(v); });
    if (v != i + 1) bad = true;
    ++i;
  }
  peers::spin_then_yield([&] { return ping.push(UINT64_MAX); });
  echo.join();
  if (bad) state.SkipWithError("wrong echo");
}
BENCHMARK(BM_PingPong_BoostSpscSpinYield)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
