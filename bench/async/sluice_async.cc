// sluice's awaitable channels on the async workloads of bench/async (next to Go goroutines,
// Asio's concurrent_channel and Boost.Fiber in the peers). One JSON line per cell:
//   {"impl", "workload", "cap", "tasks", "messages", "seconds", "ns_per_op", "allocs_per_op", "ok"}
// impl "sluice-native": native awaitables in a minimal detached coroutine type, every task on
// one thread, started inside sluice::run_handoffs (as goroutines start from Go's run loop: a
// woken task runs on the waker's thread after the waker suspends: the hand-off queue).
// impl "sluice-asio": the same through use_awaitable on a one-thread io_context.
// Every cell checks what it moved (count and sum). allocs_per_op counts operator new calls.
#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <new>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sluice/async.hpp>

namespace asio = boost::asio;
using sluice::channel;
using sluice::status;

// ---- allocation counter ----
static std::atomic<unsigned long> g_allocs{0};
void* operator new(std::size_t n) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);  // a counter
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

struct detached {
  struct promise_type {
    detached get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }
  };
};

struct cell {
  const char* impl;
  std::string workload, cap;
  long tasks, messages;
  double seconds;
  unsigned long allocs;
  bool ok;
};

void print(const cell& c) {
  std::printf(
      "{\"impl\": \"%s\", \"note\": \"%s\", \"workload\": \"%s\", \"cap\": \"%s\", \"tasks\": %ld, \"procs\": 1, "
      "\"messages\": %ld, \"seconds\": %.6f, \"ns_per_op\": %.2f, \"allocs_per_op\": %.4f, \"ok\": %s}\n",
      c.impl, std::strcmp(c.impl, "sluice-native") == 0 ? "native awaitables, one thread" : "use_awaitable, one-thread io_context",
      c.workload.c_str(), c.cap.c_str(), c.tasks, c.messages, c.seconds, c.seconds * 1e9 / double(c.messages),
      double(c.allocs) / double(c.messages), c.ok ? "true" : "false");
  std::fflush(stdout);
}

// Time f(), counting allocations; f returns whether what it moved checks out.
template <class F>
cell measure(const char* impl, std::string workload, std::string cap, long tasks, long n, F f) {
  unsigned long a0 = g_allocs.load(std::memory_order_relaxed);  // a counter
  auto t0 = std::chrono::steady_clock::now();
  bool ok = f();
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  unsigned long a1 = g_allocs.load(std::memory_order_relaxed);  // a counter
  return cell{impl, std::move(workload), std::move(cap), tasks, n, s, a1 - a0, ok};
}

long expected(long n) { return n * (n - 1) / 2; }

std::size_t capacity(const std::string& cap, long n) {
  if (cap == "cap0") return 0;
  if (cap == "cap1") return 1;
  return static_cast<std::size_t>(n);
}

// ---- native ----

detached native_send_range(channel<long> ch, long from, long to, std::function<void()> done) {
  for (long i = from; i < to; ++i) {
    if (co_await ch.async_send(i) != status::ok) std::terminate();
  }
  if (done) done();
}
detached native_sum(channel<long> ch, long& sum, long& count) {
  for (;;) {
    auto r = co_await ch.async_recv();
    if (!r) co_return;
    sum += *r;
    ++count;
  }
}

bool native_pingpong(long n) {
  channel<long> ch;
  long sum = 0, count = 0;
  sluice::run_handoffs([&] {
    native_sum(ch, sum, count);
    native_send_range(ch, 0, n, [&] { ch.close(); });
  });
  return count == n && sum == expected(n);
}

bool native_buffered(long n) {
  channel<long> ch(1);
  long sum = 0;
  sluice::run_handoffs([&] {
    [](channel<long> ch, long n, long& sum) -> detached {
      for (long i = 0; i < n; ++i) {
        (void)co_await ch.async_send(i);
        sum += *co_await ch.async_recv();
      }
    }(ch, n, sum);
  });
  return sum == expected(n);
}

// As the peers: each iteration sends on one of two capacity-1 channels (alternating), then
// selects over both.
bool native_select2(long n) {
  channel<long> a(1), b(1);
  long sum = 0;
  sluice::run_handoffs([&] {
    [](channel<long> a, channel<long> b, long n, long& sum) -> detached {
      auto take = [&](long v) { sum += v; };
      for (long i = 0; i < n; ++i) {
        (void)co_await (i % 2 ? b : a).async_send(i);
        co_await sluice::async_alt(sluice::on_recv(a, take), sluice::on_recv(b, take));
      }
    }(a, b, n, sum);
  });
  return sum == expected(n);
}

bool native_ring(long tasks, long hops) {
  std::vector<channel<long>> links(tasks);
  long last = -1;
  sluice::run_handoffs([&] {
    for (long k = 0; k < tasks; ++k) {
      [](channel<long> in, channel<long> out, long hops, long& last) -> detached {
        for (;;) {
          auto r = co_await in.async_recv();
          if (!r) co_return;
          long v = *r + 1;
          if (v >= hops) {
            last = v;
            co_return;
          }
          if (co_await out.async_send(v) != status::ok) co_return;
        }
      }(links[k], links[(k + 1) % tasks], hops, last);
    }
    [](channel<long> first) -> detached { (void)co_await first.async_send(0L); }(links[0]);
  });
  for (auto& l : links) l.close();
  return last == hops;
}

// producers -> one channel -> consumers, every task a native coroutine on this thread.
bool native_shape(long producers, long consumers, std::size_t cap, long n) {
  channel<long> ch(cap);
  long per = n / producers;
  long left = producers;
  std::vector<long> sums(consumers), counts(consumers);
  sluice::run_handoffs([&] {
    for (long c = 0; c < consumers; ++c) native_sum(ch, sums[c], counts[c]);
    for (long p = 0; p < producers; ++p) {
      native_send_range(ch, p * per, (p + 1) * per, [&] {
        if (--left == 0) ch.close();
      });
    }
  });
  long sum = 0, count = 0;
  for (long c = 0; c < consumers; ++c) {
    sum += sums[c];
    count += counts[c];
  }
  return count == per * producers && sum == expected(per * producers);
}

bool native_select_rx(std::size_t cap, long n) {
  std::vector<channel<long>> chs;
  for (int k = 0; k < 4; ++k) chs.emplace_back(cap);
  long per = n / 4, sum = 0, count = 0, open = 4;
  bool done = false;
  sluice::run_handoffs([&] {
    [](std::vector<channel<long>>& chs, long& sum, long& count, long total, bool& done) -> detached {
      while (count < total) {
        auto take = [&](long v) {
          sum += v;
          ++count;
        };
        co_await sluice::async_alt(sluice::on_recv(chs[0], take), sluice::on_recv(chs[1], take),
                                   sluice::on_recv(chs[2], take), sluice::on_recv(chs[3], take));
      }
      done = true;
    }(chs, sum, count, per * 4, done);
    for (long p = 0; p < 4; ++p) native_send_range(chs[p], p * per, (p + 1) * per, [&] { --open; });
  });
  return done && count == per * 4 && sum == expected(per * 4);
}

// ---- Asio (use_awaitable, one-thread io_context) ----

asio::awaitable<void> asio_send_range(channel<long> ch, long from, long to, std::function<void()> done) {
  for (long i = from; i < to; ++i) {
    if (co_await ch.async_send(i, asio::use_awaitable) != status::ok) std::terminate();
  }
  if (done) done();
}
asio::awaitable<void> asio_sum(channel<long> ch, long& sum, long& count) {
  for (;;) {
    auto r = co_await ch.async_recv(asio::use_awaitable);
    if (!r) co_return;
    sum += *r;
    ++count;
  }
}

bool asio_shape(long producers, long consumers, std::size_t cap, long n) {
  asio::io_context io(1);
  channel<long> ch(cap);
  long per = n / producers, left = producers;
  std::vector<long> sums(consumers), counts(consumers);
  for (long c = 0; c < consumers; ++c) asio::co_spawn(io, asio_sum(ch, sums[c], counts[c]), asio::detached);
  for (long p = 0; p < producers; ++p) {
    asio::co_spawn(io, asio_send_range(ch, p * per, (p + 1) * per, [&] {
                     if (--left == 0) ch.close();
                   }),
                   asio::detached);
  }
  io.run();
  long sum = 0, count = 0;
  for (long c = 0; c < consumers; ++c) {
    sum += sums[c];
    count += counts[c];
  }
  return count == per * producers && sum == expected(per * producers);
}

bool asio_buffered(long n) {
  asio::io_context io(1);
  channel<long> ch(1);
  long sum = 0;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    for (long i = 0; i < n; ++i) {
      (void)co_await ch.async_send(i, asio::use_awaitable);
      sum += *co_await ch.async_recv(asio::use_awaitable);
    }
  }, asio::detached);
  io.run();
  return sum == expected(n);
}

bool asio_ring(long tasks, long hops) {
  asio::io_context io(1);
  std::vector<channel<long>> links(tasks);
  long last = -1;
  for (long k = 0; k < tasks; ++k) {
    asio::co_spawn(io, [in = links[k], out = links[(k + 1) % tasks], hops, &last, &links]() mutable -> asio::awaitable<void> {
      for (;;) {
        auto r = co_await in.async_recv(asio::use_awaitable);
        if (!r) co_return;
        long v = *r + 1;
        if (v >= hops) {
          last = v;
          for (auto& l : links) l.close();
          co_return;
        }
        if (co_await out.async_send(v, asio::use_awaitable) != status::ok) co_return;
      }
    }, asio::detached);
  }
  asio::co_spawn(io, [&]() -> asio::awaitable<void> { (void)co_await links[0].async_send(0L, asio::use_awaitable); }, asio::detached);
  io.run();
  return last == hops;
}

bool want(const std::vector<std::string>& only, const std::string& w) {
  if (only.empty()) return true;
  for (auto& o : only) {
    if (o == w) return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  double scale = 1.0;
  long fixed = 0;  // --messages: N for every cell
  int repeat = 1;
  std::vector<std::string> only;
  std::string impl_only;  // --impl native|asio: one of the two
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--messages") && i + 1 < argc) {
      fixed = std::atol(argv[++i]);
    } else if (!std::strcmp(argv[i], "--scale") && i + 1 < argc) {
      scale = std::atof(argv[++i]);
    } else if (!std::strcmp(argv[i], "--repeat") && i + 1 < argc) {
      repeat = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--impl") && i + 1 < argc) {
      impl_only = argv[++i];
    } else if (!std::strcmp(argv[i], "--only") && i + 1 < argc) {
      std::string s = argv[++i];
      for (std::size_t p = 0; p <= s.size();) {
        std::size_t q = s.find(',', p);
        if (q == std::string::npos) q = s.size();
        only.push_back(s.substr(p, q - p));
        p = q + 1;
      }
    } else {
      std::fprintf(stderr, "usage: async_sluice [--only W,...] [--impl native|asio] [--scale F] [--messages N] [--repeat K]\n");
      return 2;
    }
  }
  // The workloads' default N, as the peers (bench/async/README.md).
  auto count = [&](long dflt) {
    long v = fixed > 0 ? fixed : static_cast<long>(static_cast<double>(dflt) * scale);
    return v < 8 ? 8 : v;
  };
  bool all_ok = true;
  auto emit = [&](auto&& run) {
    if (!impl_only.empty() && impl_only != "native" && impl_only != "asio") return;
    const cell c = run();
    all_ok = all_ok && c.ok;
    print(c);
  };
  auto emit_native = [&](auto&& run) {
    if (impl_only != "asio") emit(run);
  };
  auto emit_asio = [&](auto&& run) {
    if (impl_only != "native") emit(run);
  };
  const char* nat = "sluice-native";
  const char* as = "sluice-asio";
  for (int r = 0; r < repeat; ++r) {
    if (want(only, "pingpong")) {
      long n = count(1000000);
      emit_native([&] { return measure(nat, "pingpong", "cap0", 2, n, [&] { return native_pingpong(n); }); });
      emit_asio([&] { return measure(as, "pingpong", "cap0", 2, n, [&] { return asio_shape(1, 1, 0, n); }); });
    }
    if (want(only, "buffered")) {
      long n = count(10000000);
      emit_native([&] { return measure(nat, "buffered", "cap1", 1, n, [&] { return native_buffered(n); }); });
      emit_asio([&] { return measure(as, "buffered", "cap1", 1, n, [&] { return asio_buffered(n); }); });
    }
    if (want(only, "select2")) {
      long n = count(10000000);
      emit_native([&] { return measure(nat, "select2", "cap1", 1, n, [&] { return native_select2(n); }); });
    }
    if (want(only, "ring")) {
      long n = count(1000000);
      emit_native([&] { return measure(nat, "ring", "cap0", 10000, n, [&] { return native_ring(10000, n); }); });
      emit_asio([&] { return measure(as, "ring", "cap0", 10000, n, [&] { return asio_ring(10000, n); }); });
    }
    if (want(only, "fanin")) {
      long n = count(10000000);
      emit_native([&] { return measure(nat, "fanin", "cap1024", 10001, n, [&] { return native_shape(10000, 1, 1024, n); }); });
      emit_asio([&] { return measure(as, "fanin", "cap1024", 10001, n, [&] { return asio_shape(10000, 1, 1024, n); }); });
    }
    for (const char* cap : {"cap0", "cap1", "capN"}) {
      long n = count(1000000);
      std::size_t c = capacity(cap, n);
      if (want(only, "spsc")) {
        emit_native([&] { return measure(nat, "spsc", cap, 2, n, [&] { return native_shape(1, 1, c, n); }); });
        emit_asio([&] { return measure(as, "spsc", cap, 2, n, [&] { return asio_shape(1, 1, c, n); }); });
      }
      if (want(only, "mpsc")) {
        emit_native([&] { return measure(nat, "mpsc", cap, 5, n, [&] { return native_shape(4, 1, c, n); }); });
        emit_asio([&] { return measure(as, "mpsc", cap, 5, n, [&] { return asio_shape(4, 1, c, n); }); });
      }
      if (want(only, "mpmc")) {
        emit_native([&] { return measure(nat, "mpmc", cap, 8, n, [&] { return native_shape(4, 4, c, n); }); });
        emit_asio([&] { return measure(as, "mpmc", cap, 8, n, [&] { return asio_shape(4, 4, c, n); }); });
      }
      if (want(only, "select_rx")) emit_native([&] { return measure(nat, "select_rx", cap, 5, n, [&] { return native_select_rx(c, n); }); });
    }
  }
  return all_ok ? 0 : 1;
}
