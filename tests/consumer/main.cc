// Built against the installed sluice: exercises the public API through the umbrella header.
#include <sluice/sluice.hpp>
#include <sluice/server.hpp>  // also in the umbrella; named as a user would

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <coroutine>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>
#include <thread>

// The smallest coroutine type: native awaitables need nothing more.
struct task {
  struct promise_type {
    task get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }
  };
};

// <sluice/async.hpp> (in the umbrella): a native coroutine and an Asio one on one channel.
int async_forms() {
  sluice::channel<int> ch;
  int native = 0;
  [](sluice::channel<int> c, int& got) -> task { got = (co_await c.async_recv()).value(); }(ch, native);
  ch.send(5);  // completes the waiting native awaiter
  if (native != 5) return 11;
  boost::asio::io_context io(1);
  int via_asio = 0;
  boost::asio::co_spawn(io, [&]() -> boost::asio::awaitable<void> {
    via_asio = (co_await ch.async_recv(boost::asio::use_awaitable)).value();
  }, boost::asio::detached);
  std::thread sender([&] { ch.send(6); });
  io.run();
  sender.join();
  return via_asio == 6 ? 0 : 12;
}

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
    if (server.port() == 0) return 11;
    server.stop();
  }
  // The TLS hook links (libssl through the package's dependencies).
  sluice::server_options (*tls)(ssl_ctx_st*, sluice::server_options) = &sluice::tls;
  if (!tls) return 12;
  // A node (linking the network layer: Boost.Asio, OpenSSL, the directory); alone, without
  // seeds, it has no master, so db_family times out.
  namespace mp = sluice::mp;
  mp::node_config cfg;
  cfg.nodeid = "consumer";
  cfg.secret = "consumer secret";
  cfg.binds = {"127.0.0.1:*"};
  cfg.use_rc_file = false;
  mp::configure(cfg);
  auto box = sluice::channel<std::string>(1);
  auto inbox = mp::named_port("inbox", [box](const mp::message& m) mutable { box.send(m.dump()); });
  if (mp::node_of(inbox) != "consumer") return 7;
  mp::snd(mp::port_id::parse("consumer#inbox"), {"hello", 1});
  if (box.recv_for(5s).value_or("") != R"(["hello",1])") return 8;
  mp::db_set("family", "key", 1);
  if (mp::db_family("family", 20ms).has_value()) return 9;
  auto watch = mp::db_mon("family", [](const mp::message&, const std::vector<std::string>&,
                                       const std::vector<std::string>&, const std::vector<std::string>&) {});
  watch.cancel();
  if (!mp::up_nodes().empty()) return 10;
  if (int rc = async_forms()) return rc;
  std::puts("consumer: ok");
  return 0;
}
