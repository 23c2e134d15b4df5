// One AEMP connection (see node.hpp): handshake, then messages both ways, ended in one place.
#include "node.hpp"

#include "sluice/internal/aemp/tls.hpp"

#include <sys/socket.h>

#include <utility>

namespace sluice::mp::net {

namespace {

void decode_json_rest(std::string_view rest, message& out) { aemp::decode_rest(aemp::framing::json, rest, out); }
void decode_cbor_rest(std::string_view rest, message& out) { aemp::decode_rest(aemp::framing::cbor, rest, out); }

}  // namespace

connection::connection(node& n, tcp::socket s, std::string seed, std::string target,
                       std::chrono::milliseconds seed_backoff)
    : node_(n),
      sock_(std::move(s)),
      seed_(std::move(seed)),
      target_(std::move(target)),
      seed_backoff_(seed_backoff),
      hs_(n.handshake_config()),
      timer_(n.io()) {
  boost::system::error_code ec;
  auto ep = sock_.remote_endpoint(ec);
  where_ = ec ? std::string("?") : ep.address().to_string() + ":" + std::to_string(ep.port());
}

// Step 1: socket options and both greeting lines at once; the handshake (TLS included) must
// finish within monitor_timeout (Perl: 30 s).
void connection::start() {
  boost::system::error_code ignored;
  sock_.set_option(tcp::no_delay(true), ignored);
  sock_.set_option(asio::socket_base::keep_alive(true), ignored);
  take_handshake_output();
  flush();
  timer_.expires_after(node_.config().monitor_timeout);
  timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec && !self->up_) self->end("handshake timeout");
  });
  read();
}

std::chrono::steady_clock::duration connection::quiet_for() {
  std::lock_guard g(out_m_);
  return std::chrono::steady_clock::now() - last_sent_;
}

void connection::take_handshake_output() {
  std::lock_guard g(out_m_);
  outbox_.append(hs_.take_output());
}

// The one reader: through TLS once it is up; before that from the socket, exactly up to the
// end of the peer's greeting when a TLS handshake may follow it.
void connection::read() {
  auto done = [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) { self->on_read(ec, n); };
  if (tls_ready_) return tls_->async_read_some(asio::buffer(buf_), std::move(done));
  if (node_.tls_context() && hs_.greeting_lines_left() > 0) return read_greeting_exactly();
  sock_.async_read_some(asio::buffer(buf_), std::move(done));
}

// Steps 2-3 with a certificate: the bytes after the peer's nonce line may be its TLS
// ClientHello, which must reach the TLS stream, not the line reader. So look (MSG_PEEK) and
// take only what belongs to the greeting lines still to come; the rest stays in the socket.
void connection::read_greeting_exactly() {
  sock_.async_receive(asio::buffer(buf_), tcp::socket::message_peek,
                      [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
    if (self->ended_ || ec) return self->on_read(ec, 0);
    std::size_t take = aemp::bytes_through_lines(std::string_view(self->buf_.data(), n), self->hs_.greeting_lines_left());
    boost::system::error_code rec;
    // Does not block: the kernel holds at least `take` bytes (just peeked), and only this
    // thread reads the socket.
    std::size_t got = asio::read(self->sock_, asio::buffer(self->buf_.data(), take), rec);
    self->on_read(rec, got);
  });
}

void connection::on_read(const boost::system::error_code& ec, std::size_t n) {
  if (ended_) return;
  if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) return end("Unexpected end-of-file");
  if (ec) return end(ec.message());
  last_heard_ = std::chrono::steady_clock::now();
  probed_ = false;
  on_bytes(std::string_view(buf_.data(), n));
  if (!ended_ && !tls_pending()) read();  // during the TLS handshake, TLS reads by itself
}

// Steps 2-4 (the handshake machine), then step 5: data.
void connection::on_bytes(std::string_view bytes) {
  std::string data;
  if (!up_) {
    auto st = hs_.feed(bytes);
    take_handshake_output();
    flush();
    if (st == aemp::handshake::step::failed) return end(hs_.error());
    if (st == aemp::handshake::step::tls) return start_tls();
    if (st != aemp::handshake::step::done) return;
    peer_ = hs_.peer().nodeid;
    send_f_ = hs_.send_framing();
    dec_.emplace(hs_.recv_framing());
    decode_rest_ = hs_.recv_framing() == aemp::framing::json ? decode_json_rest : decode_cbor_rest;
    timer_.cancel();
    up_ = true;
    {
      std::lock_guard g(out_m_);
      direct_ = !tls_ready_;  // through TLS every write is the io thread's
    }
    if (!node_.connection_up(shared_from_this())) return end("duplicate connection");
    watch_silence();
    data = hs_.take_rest();
    bytes = data;
  }
  std::string why;
  bool ok;
  try {
    ok = dec_->feed(bytes, why, [this](aemp::incoming& in) { take(in); });
  } catch (...) {  // bad_alloc, say: a half-built run must not join the next read's messages
    run_ = {};
    throw;
  }
  end_run();
  if (!ok) end(std::string("protocol error: ") + why);
}

// Step 3b: both sides want TLS. Our TLS bytes must follow our greeting on the wire, so the
// TLS handshake waits for the greeting's write, if it is still in flight.
void connection::start_tls() {
  if (!hs_.take_rest().empty()) return end("tls: read past the greeting");  // exact reads rule it out
  tls_.emplace(sock_, *node_.tls_context());
  bool writing;
  {
    std::lock_guard g(out_m_);
    writing = writing_;
  }
  if (writing) {
    tls_after_write_ = true;
  } else {
    tls_handshake();
  }
}

// The side with the lower nonce line is the client (aemp::tls_role_of); the peer must show a
// certificate that our PEM verifies (the context's settings). Then step 3c: our
// authentication line goes out through TLS, and reading resumes through it.
void connection::tls_handshake() {
  auto role = hs_.tls_client() ? tls_stream::client : tls_stream::server;
  tls_->async_handshake(role, [self = shared_from_this()](const boost::system::error_code& ec) {
    if (self->ended_) return;
    if (ec) return self->end("TLS handshake failed: " + ec.message());
    self->tls_ready_ = true;
    self->hs_.tls_up();
    if (self->hs_.state() == aemp::handshake::step::failed) return self->end(self->hs_.error());
    self->take_handshake_output();
    self->flush();
    self->read();
  });
}

// Beyond AnyEvent::MP (which notices a silent peer only through TCP, minutes to hours): a
// connection that has been quiet for a quarter of monitor_timeout sends the peer a request
// every node answers (the node port's "time", answered to our node port as "devnull"); one
// that hears nothing at all for monitor_timeout ends ("monitor timeout").
// A probe waits behind everything queued before it, so a peer that is busy sending us a long
// burst would get its answer late and take us for silent: hence, whenever we have written
// nothing for a quarter of monitor_timeout, we send ["", "devnull"] unasked (every node
// ignores it; Erlang's distribution ticks the same way). The direction we are not busy in
// stays alive.
void connection::watch_silence() {
  auto limit = node_.config().monitor_timeout;
  auto tick = std::max<std::chrono::milliseconds>(limit / 20, std::chrono::milliseconds(10));  // notice within 5% late
  timer_.expires_after(tick);
  timer_.async_wait([self = shared_from_this(), limit](const boost::system::error_code& ec) {
    if (ec || self->ended_) return;
    auto quiet = std::chrono::steady_clock::now() - self->last_heard_;
    if (quiet > limit) return self->end("monitor timeout");
    if (quiet > limit / 4 && !self->probed_) {
      self->probed_ = true;
      self->send(message::array({"", "time", self->node_.config().nodeid + "#", "devnull"}));
    } else if (self->quiet_for() > limit / 4) {
      self->send(message::array({"", "devnull"}));
    }
    self->watch_silence();
  });
}

// A message to a port by name goes on still encoded where the port allows it (a scheduled
// port: decoded by the worker that runs it, see aemp::incoming); one to a port_async or
// port_co mailbox, or to the node port, is decoded here. A run of such messages to one port
// (at most run_max, half a worker's turn of 64 messages at a port) goes on as one task: one
// lookup of the port, one slot of its inbox, one message decoded over for all (measured with
// bench/node, CBOR, 2 cores: 2.3-2.5 M msg/s before, 3.1-3.3 M after). Runs are built as the
// decoder finds the messages, never more than one read's last run at a time (a vector of a
// 64 KiB read's messages, walked afterwards, missed the cache on every element).
void connection::take(aemp::incoming& in) {
  constexpr std::uint32_t run_max = 32;
  if (!in.deferred) {
    end_run();
    return deliver(std::move(in.msg));
  }
  if (run_.count > 0 && (run_.count == run_max || in.port != run_port_)) end_run();
  if (run_.count == 0) {
    run_port_.assign(in.port);
    run_.decode = decode_rest_;
    run_.reserve(in.rest.size(), 1);  // a run of one (a request, say) holds what it needs
  } else if (run_.count == 1) {
    // A second message: room for a run of small messages of one shape, within glibc's
    // per-thread cache sizes (up to ~1 KiB).
    run_.reserve(std::min<std::size_t>((run_max - 1) * in.rest.size(), 768), run_max - 1);
  }
  run_.add(in.rest);
}

void connection::end_run() {
  if (run_.count == 0) return;
  mp::detail::encoded_message run = std::move(run_);
  run_ = {};
  deliver(mp::port_id(node_.config().nodeid, run_port_), run);
}

void connection::deliver(const mp::port_id& p, mp::detail::encoded_message& run) {
  if (mp::detail::snd_encoded(p, run)) return;
  run.each([&](std::string_view one) {
    message m;
    decode_rest_(one, m);
    mp::snd(p, std::move(m));
    return true;
  });
}

void connection::deliver(message m) {
  if (m.empty() || !m[0].is_string()) return;  // [] is a no-op; anything else has no port
  if (m[0].get_ref<const std::string&>().empty()) return node_.request(shared_from_this(), m);
  std::string name = std::move(m[0].get_ref<std::string&>());  // not copied: the element goes next
  m.erase(m.begin());
  mp::snd(port_id(node_.config().nodeid, std::move(name)), std::move(m));
}

// A sender writes the socket itself when the connection is idle (nothing queued, no write in
// flight, no send() in the last `idle_gap`): a request or a reply then costs no wake-up of the
// io thread (measured: the post-and-wake added ~15-25 us to each direction of a round trip).
// Inside a burst the gap rule sends everything else through the queue, so the io thread's
// single writer still batches a burst into few large writes.
void connection::send(const message& wire) { after(queue(wire)); }

void connection::send(const std::string& head, const message& args) { after(queue(head, args)); }

connection::queued connection::queue(const message& wire) {
  return queue_with([&](std::string& out) { aemp::encode(send_f_, wire, out); });
}

connection::queued connection::queue(const std::string& head, const message& args) {
  return queue_if_sending(head, args).value_or(queued::done);  // stopped: dropped with the connection
}

std::optional<connection::queued> connection::queue_if_sending(const std::string& head, const message& args) {
  bool refused = false;
  auto q = queue_with([&](std::string& out) { aemp::encode_prefixed(send_f_, head, args, out); }, &refused);
  if (refused) return std::nullopt;
  return q;
}

// The wake a queue() left to its caller, made once the caller's locks are released.
void connection::after(queued q) {
  if (q == queued::overflow) {  // a peer that does not keep up: break the connection, so monitors see it
    asio::post(node_.io(), [self = shared_from_this()] { self->end("send queue overflow"); });
  } else if (q == queued::kick) {
    // One posted flush per batch: kicked_ is set here, where the post is made, so a caller
    // that never gets here (an exception between queue and after) leaves the next send to
    // kick. A flush that runs before the post only makes the posted one find nothing.
    {
      std::lock_guard g(out_m_);
      if (kicked_) return;
      kicked_ = true;
    }
    try {
      asio::post(node_.io(), [self = shared_from_this()] { self->flush(); });
    } catch (...) {
      std::lock_guard g(out_m_);
      kicked_ = false;
      throw;
    }
  }
}

void connection::stop_sending() {
  std::lock_guard g(out_m_);
  overflowed_ = true;
}

template <class Encode>
connection::queued connection::queue_with(Encode&& encode, bool* refused) {
  constexpr auto idle_gap = std::chrono::microseconds(20);
  std::lock_guard g(out_m_);
  if (overflowed_) {  // ending: what follows is dropped with the monitors fired
    if (refused) *refused = true;
    return queued::done;
  }
  // Inside a burst (something queued or in flight) the clock is not read: the gap counts from
  // the last send that found the connection idle, or the last flush, whichever came later.
  std::chrono::steady_clock::time_point now{};
  bool idle = false;
  if (outbox_.empty() && !writing_) {
    now = std::chrono::steady_clock::now();
    idle = now - last_send_ >= idle_gap;
    last_send_ = now;
  }
  std::string& tail = outbox_.tail();
  const std::size_t before = tail.size();
  try {
    encode(tail);
  } catch (...) {  // bad_alloc, say: no half message on the wire
    outbox_.truncate_tail(before);
    throw;
  }
  if (idle && direct_ && write_through(now)) return queued::done;
  if (outbox_.size() > node_.config().max_queued_bytes) {
    overflowed_ = true;
    return queued::overflow;
  }
  if (writing_ || kicked_) return queued::done;  // the write in flight, or the posted flush, takes it
  return queued::kick;
}

// out_m_ held, nothing in flight: one non-blocking write of the outbox. True when all of it
// went; otherwise what is left stays queued for the io thread's writer, which also meets
// (and reports, through end()) any error this write saw.
bool connection::write_through(std::chrono::steady_clock::time_point now) {
  const auto& iov = outbox_.buffers();  // one message, one block: the outbox was empty
  if (iov.empty()) return true;
  ssize_t n = ::send(sock_.native_handle(), iov.front().data(), iov.front().size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  if (n <= 0) return false;
  last_sent_ = now;
  outbox_.consume(static_cast<std::size_t>(n));
  return outbox_.empty();
}

// The single writer: everything queued so far in one write (batched under load). While the
// TLS handshake runs it writes by itself, and what is queued waits for it.
void connection::flush() {
  if (ended_) return;
  {
    std::lock_guard g(out_m_);
    // Whatever is queued now is taken here, or by the flush that follows the write in flight
    // or the TLS handshake: from here on a queue() must kick again.
    kicked_ = false;
    if (tls_pending() || writing_ || outbox_.empty()) return;
    writing_ = true;
    inflight_.swap(outbox_);
    last_send_ = last_sent_ = std::chrono::steady_clock::now();
  }
  auto done = [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
    self->inflight_.clear();
    {
      std::lock_guard g(self->out_m_);
      self->writing_ = false;
      if (ec) self->direct_ = false;  // no write-through behind a failed write: end() follows
    }
    if (self->ended_) return;
    if (ec) return self->end(ec.message());
    if (std::exchange(self->tls_after_write_, false)) return self->tls_handshake();
    self->flush();
  };
  if (tls_ready_) {
    asio::async_write(*tls_, inflight_.buffers(), std::move(done));
  } else {
    asio::async_write(sock_, inflight_.buffers(), std::move(done));
  }
}

void connection::end(const std::string& why) {
  if (ended_) return;
  ended_ = true;
  byte_queue dropped;  // what was queued goes now (freed below, outside the lock), not when
                       // the last holder lets go of the connection (a thread's send cache)
  {
    std::lock_guard g(out_m_);
    direct_ = false;  // no write-through from here on: the descriptor is about to close
    // Nothing is queued from here on either: node::send's lock-free path, which may still
    // hold this connection, sees it stopped and takes node::m_ (see node::send).
    overflowed_ = true;
    dropped.swap(outbox_);
  }
  boost::system::error_code ignored;
  timer_.cancel();
  sock_.shutdown(tcp::socket::shutdown_both, ignored);
  sock_.close(ignored);
  for (auto& [name, m] : served) m.cancel();
  served.clear();
  node_.note("connection " + (peer_.empty() ? std::string() : "with " + peer_ + " ") + "(" + where_ + ") ended: " + why);
  node_.connection_ended(shared_from_this(), why);
}

}  // namespace sluice::mp::net
