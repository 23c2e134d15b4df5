// A line chat server on Boost.Asio: every connection is two coroutines on one io_context, and
// the room is a plain thread. They share sluice channels: the room thread blocks in pri_alt,
// the sessions await the same channels with async_alt, and nothing is lost in between.
//
//   example_async_chat [PORT]        serve 127.0.0.1:PORT until killed (try two `nc`s)
//   example_async_chat               self-test: two clients talk through it, then it exits
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include <boost/asio.hpp>
#include <sluice/async.hpp>
#include <sluice/sluice.hpp>

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;

using outbox = sluice::channel<std::string>;

struct room {
  sluice::channel<std::string> said{sluice::unbounded};  // lines from every session
  sluice::channel<outbox> joined{sluice::unbounded};     // a new session's outbox
  sluice::channel<outbox> left{sluice::unbounded};

  // The room is a thread: it blocks in pri_alt over channels the coroutines send on.
  void run() {
    std::vector<outbox> members;
    for (bool open = true; open;) {
      sluice::pri_alt(
          sluice::on_recv(joined, [&](outbox o) { members.push_back(o); }),
          sluice::on_recv(left, [&](outbox o) { std::erase(members, o); }),
          sluice::on_recv(said, [&](sluice::recv_result<std::string> r) {
            if (!r) {
              open = false;
              return;
            }
            for (outbox& m : members) (void)m.try_send(*r);  // a slow reader misses lines
          }));
    }
  }
};

// Read lines from the socket into the room.
asio::awaitable<void> reader(std::shared_ptr<tcp::socket> s, room& r, outbox me) {
  asio::streambuf buf;
  for (;;) {
    auto [ec, n] = co_await asio::async_read_until(*s, buf, '\n', asio::as_tuple(asio::use_awaitable));
    if (ec) break;
    std::string line(asio::buffers_begin(buf.data()), asio::buffers_begin(buf.data()) + n);
    buf.consume(n);
    co_await r.said.async_send(std::move(line), asio::use_awaitable);
  }
  co_await r.left.async_send(me, asio::use_awaitable);
  me.close();
}

// Write what the room sends us; say something when the room has been quiet for a while.
asio::awaitable<void> writer(std::shared_ptr<tcp::socket> s, outbox me) {
  for (bool open = true; open;) {
    std::string out;
    co_await sluice::async_alt(asio::use_awaitable,
                               sluice::on_recv(me, [&](sluice::recv_result<std::string> r) {
                                 if (r) out = std::move(*r); else open = false;
                               }),
                               sluice::otherwise(30s, [&] { out = "(quiet)\n"; }));
    if (!out.empty()) co_await asio::async_write(*s, asio::buffer(out), asio::use_awaitable);
  }
}

asio::awaitable<void> serve(tcp::acceptor& acceptor, room& r) {
  for (;;) {
    auto s = std::make_shared<tcp::socket>(co_await acceptor.async_accept(asio::use_awaitable));
    outbox me(64);
    co_await r.joined.async_send(me, asio::use_awaitable);
    asio::co_spawn(acceptor.get_executor(), reader(s, r, me), asio::detached);
    asio::co_spawn(acceptor.get_executor(), writer(s, me), asio::detached);
  }
}

// Two clients: what one says, both hear.
bool self_test(unsigned short port) {
  asio::io_context io;
  tcp::socket a(io), b(io);
  a.connect({asio::ip::make_address("127.0.0.1"), port});
  b.connect({asio::ip::make_address("127.0.0.1"), port});
  std::this_thread::sleep_for(100ms);  // both joined
  asio::write(a, asio::buffer(std::string("hello from a\n")));
  asio::streambuf ba, bb;
  asio::read_until(a, ba, '\n');
  asio::read_until(b, bb, '\n');
  std::string la(asio::buffers_begin(ba.data()), asio::buffers_end(ba.data()));
  std::string lb(asio::buffers_begin(bb.data()), asio::buffers_end(bb.data()));
  std::printf("a heard: %sb heard: %s", la.c_str(), lb.c_str());
  a.close();  // the sessions end: their readers see EOF, close their outboxes, writers finish
  b.close();
  return la == "hello from a\n" && lb == "hello from a\n";
}

int main(int argc, char** argv) {
  room r;
  std::thread room_thread([&] { r.run(); });
  asio::io_context io(1);
  tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(argc > 1 ? std::atoi(argv[1]) : 0)});
  asio::co_spawn(io, serve(acceptor, r), asio::detached);
  std::thread server([&] { io.run(); });
  bool ok = true;
  if (argc > 1) {
    server.join();
  } else {
    ok = self_test(acceptor.local_endpoint().port());
    std::this_thread::sleep_for(200ms);  // no sluice operation is left waiting (see README, Limitations)
    io.stop();
    server.join();
  }
  r.said.close();
  room_thread.join();
  return ok ? 0 : 1;
}
