// The workloads of crossbeam-channel's benchmark suite, generic over an adapter
// (adapters.hpp). Each returns the seconds it took and checks the count and checksum of
// what it moved: a lost or doubled message fails the run.
#pragma once

#include <sluice/alt.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "compare/sluice_adapter.hpp"

namespace compare {

struct outcome {
  double seconds = 0;
  bool ok = false;
};

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
// Sum of 0 .. n-1: every workload sends each of these values exactly once.
inline std::uint64_t expected_sum(std::uint64_t n) { return n * (n - 1) / 2; }

// One thread sends all N, then receives all N (needs room for N).
template <class A>
outcome seq(typename A::chan ch, std::uint64_t n, int) {
  auto t0 = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; i < n; ++i) A::send(ch, i);
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < n; ++i) sum += A::recv(ch);
  return {seconds_since(t0), sum == expected_sum(n)};
}

// T senders (sender j sends j, j+T, j+2T, ...) and R receivers sharing N messages.
template <class A>
outcome many_to_many(typename A::chan ch, std::uint64_t n, int senders, int receivers) {
  std::atomic<std::uint64_t> sum{0}, count{0};
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> ts;
  for (int j = 0; j < senders; ++j) {
    ts.emplace_back([ch, n, j, senders]() mutable {
      for (std::uint64_t i = static_cast<std::uint64_t>(j); i < n; i += static_cast<std::uint64_t>(senders)) A::send(ch, i);
    });
  }
  for (int r = 0; r < receivers; ++r) {
    ts.emplace_back([ch, n, r, receivers, &sum, &count]() mutable {
      std::uint64_t share = n / static_cast<std::uint64_t>(receivers) + (static_cast<std::uint64_t>(r) < n % static_cast<std::uint64_t>(receivers) ? 1 : 0);
      std::uint64_t s = 0;
      for (std::uint64_t i = 0; i < share; ++i) s += A::recv(ch);
      sum += s;
      count += share;
    });
  }
  for (auto& t : ts) t.join();
  return {seconds_since(t0), count == n && sum == expected_sum(n)};
}

template <class A>
outcome spsc(typename A::chan ch, std::uint64_t n, int) { return many_to_many<A>(ch, n, 1, 1); }
template <class A>
outcome mpsc(typename A::chan ch, std::uint64_t n, int t) { return many_to_many<A>(ch, n, t, 1); }
template <class A>
outcome mpmc(typename A::chan ch, std::uint64_t n, int t) { return many_to_many<A>(ch, n, t, t); }

// sluice only: T senders each on its own channel; one receiver alternates over the T.
inline outcome select_rx(cap c, std::uint64_t n, int t) {
  std::vector<sluice::channel<std::uint64_t>> chs;
  for (int i = 0; i < t; ++i) chs.push_back(*sluice_adapter::make(c, n));
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> ts;
  for (int j = 0; j < t; ++j) {
    ts.emplace_back([ch = chs[j], n, j, t]() mutable {
      for (std::uint64_t i = static_cast<std::uint64_t>(j); i < n; i += static_cast<std::uint64_t>(t)) ch.send(i);
    });
  }
  std::uint64_t sum = 0, got = 0;
  sluice::alternation alt;
  for (auto& ch : chs) alt.add(sluice::on_recv(ch, [&](std::uint64_t v) { got = v; }));
  for (std::uint64_t i = 0; i < n; ++i) {
    (void)alt.fair();
    sum += got;
  }
  for (auto& th : ts) th.join();
  return {seconds_since(t0), sum == expected_sum(n)};
}

// sluice only: T senders and T receivers, each alternating over all T channels.
inline outcome select_both(cap c, std::uint64_t n, int t) {
  std::vector<sluice::channel<std::uint64_t>> chs;
  for (int i = 0; i < t; ++i) chs.push_back(*sluice_adapter::make(c, n));
  std::atomic<std::uint64_t> sum{0}, count{0};
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> ts;
  for (int j = 0; j < t; ++j) {
    ts.emplace_back([&chs, n, j, t] {
      std::uint64_t v = 0;
      sluice::alternation alt;
      for (auto& ch : chs) alt.add(sluice::on_send(ch, v, [] {}));  // v is borrowed: sent as it is then
      for (v = static_cast<std::uint64_t>(j); v < n; v += static_cast<std::uint64_t>(t)) (void)alt.fair();
    });
  }
  for (int r = 0; r < t; ++r) {
    ts.emplace_back([&chs, n, r, t, &sum, &count] {
      std::uint64_t share = n / static_cast<std::uint64_t>(t) + (static_cast<std::uint64_t>(r) < n % static_cast<std::uint64_t>(t) ? 1 : 0);
      std::uint64_t s = 0, got = 0;
      sluice::alternation alt;
      for (auto& ch : chs) alt.add(sluice::on_recv(ch, [&](std::uint64_t v) { got = v; }));
      for (std::uint64_t i = 0; i < share; ++i) {
        (void)alt.fair();
        s += got;
      }
      sum += s;
      count += share;
    });
  }
  for (auto& th : ts) th.join();
  return {seconds_since(t0), count == n && sum == expected_sum(n)};
}

}  // namespace compare
