// Alternation microbenchmarks (Google Benchmark):
//   - non-blocking pri_alt over k clauses, none ready (every clause is tried) and the last
//     one ready; target: at most 30 ns + 5 ns * k on the 2-core development machine;
//   - a blocking alternation woken by one sender, next to a plain blocking recv (ping-pong
//     round trips); target: at most 1.5 times the plain recv;
//   - dynamic alternation (sluice::alternation) over k = 1 ... 1024 clauses: linear in k.
#include <benchmark/benchmark.h>
#include <sluice/alt.hpp>

#include <array>
#include <cstdint>
#include <thread>
#include <utility>
#include <vector>

namespace {

using sluice::on_recv;
using sluice::otherwise;

template <std::size_t K, std::size_t... I>
sluice::alt_result alt_over(std::array<sluice::channel<int>, K>& cs, long& sum, std::index_sequence<I...>) {
  return sluice::pri_alt(on_recv(cs[I], [&](int v) { sum += v; })..., otherwise([] {}));
}

template <std::size_t K>
void BM_NonBlockingAlt_NoneReady(benchmark::State& state) {
  std::array<sluice::channel<int>, K> cs;
  for (auto& c : cs) c = sluice::channel<int>(1);
  long sum = 0;
  for (auto _ : state) {
    auto r = alt_over<K>(cs, sum, std::make_index_sequence<K>{});
    benchmark::DoNotOptimize(r);
  }
  state.counters["k"] = K;
}
BENCHMARK_TEMPLATE(BM_NonBlockingAlt_NoneReady, 1);
BENCHMARK_TEMPLATE(BM_NonBlockingAlt_NoneReady, 2);
BENCHMARK_TEMPLATE(BM_NonBlockingAlt_NoneReady, 4);
BENCHMARK_TEMPLATE(BM_NonBlockingAlt_NoneReady, 8);
BENCHMARK_TEMPLATE(BM_NonBlockingAlt_NoneReady, 16);

template <std::size_t K>
void BM_NonBlockingAlt_LastReady(benchmark::State& state) {
  std::array<sluice::channel<int>, K> cs;
  for (auto& c : cs) c = sluice::channel<int>(1);
  long sum = 0, sent = 0;
  for (auto _ : state) {
    cs[K - 1].try_send(1);
    ++sent;
    auto r = alt_over<K>(cs, sum, std::make_index_sequence<K>{});
    benchmark::DoNotOptimize(r);
  }
  if (sum != sent) state.SkipWithError("checksum mismatch");
  state.counters["k"] = K;
}
BENCHMARK_TEMPLATE(BM_NonBlockingAlt_LastReady, 1);
BENCHMARK_TEMPLATE(BM_NonBlockingAlt_LastReady, 4);
BENCHMARK_TEMPLATE(BM_NonBlockingAlt_LastReady, 16);

// Rendezvous ping-pong where the echo thread blocks in a plain recv (baseline) or in an
// alternation over 4 channels (one of which carries the ping).
void BM_BlockingWake_PlainRecv(benchmark::State& state) {
  sluice::channel<int> ping, pong;
  std::thread echo([&] {
    for (int v : ping) pong.send(v);
  });
  long sum = 0, n = 0;
  for (auto _ : state) {
    ping.send(1);
    sum += *pong.recv();
    ++n;
  }
  ping.close();
  echo.join();
  if (sum != n) state.SkipWithError("checksum mismatch");
}
BENCHMARK(BM_BlockingWake_PlainRecv)->UseRealTime();

void BM_BlockingWake_Alt4(benchmark::State& state) {
  sluice::channel<int> ping, other1, other2, other3, pong;
  std::thread echo([&] {
    for (bool done = false; !done;) {
      (void)sluice::pri_alt(on_recv(other1, [](int) {}), on_recv(other2, [](int) {}), on_recv(other3, [](int) {}),
                            on_recv(ping, [&](sluice::recv_result<int> r) {
                              if (r) pong.send(*r); else done = true;
                            }));
    }
  });
  long sum = 0, n = 0;
  for (auto _ : state) {
    ping.send(1);
    sum += *pong.recv();
    ++n;
  }
  ping.close();
  echo.join();
  if (sum != n) state.SkipWithError("checksum mismatch");
}
BENCHMARK(BM_BlockingWake_Alt4)->UseRealTime();

void BM_DynamicAlt_NoneReady(benchmark::State& state) {
  const int k = static_cast<int>(state.range(0));
  std::vector<sluice::channel<int>> cs;
  for (int i = 0; i < k; ++i) cs.emplace_back(1);
  sluice::alternation alt;
  for (auto& c : cs) alt.add(on_recv(c, [](int) {}));
  alt.add(otherwise([] {}));
  for (auto _ : state) benchmark::DoNotOptimize(alt.pri());
  state.SetComplexityN(k);
}
BENCHMARK(BM_DynamicAlt_NoneReady)->RangeMultiplier(4)->Range(1, 1024)->Complexity(benchmark::oN);

}  // namespace

BENCHMARK_MAIN();
