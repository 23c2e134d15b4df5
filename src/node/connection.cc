// One AEMP connection (see node.hpp): handshake, then messages both ways, ended in one place.
#include "node.hpp"

namespace sluice::mp::net {

connection::connection(node& n, tcp::socket s, std::string seed, std::string target)
    : node_(n),
      sock_(std::move(s)),
      seed_(std::move(seed)),
      target_(std::move(target)),
      hs_(n.handshake_config()),
      timer_(n.io()) {
  boost::system::error_code ec;
  auto ep = sock_.remote_endpoint(ec);
  where_ = ec ? std::string("?") : ep.address().to_string() + ":" + std::to_string(ep.port());
}

// Step 1: socket options and both greeting lines at once; the handshake must finish within
// monitor_timeout (Perl: 30 s).
void connection::start() {
  boost::system::error_code ignored;
  sock_.set_option(tcp::no_delay(true), ignored);
  sock_.set_option(asio::socket_base::keep_alive(true), ignored);
  {
    std::lock_guard<std::mutex> g(out_m_);
    outbox_ += hs_.take_output();
  }
  flush();
  timer_.expires_after(node_.config().monitor_timeout);
  timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec && !self->up_) self->end("handshake timeout");
  });
  read();
}

void connection::read() {
  sock_.async_read_some(asio::buffer(buf_), [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
    if (self->ended_) return;
    if (ec) return self->end(ec == asio::error::eof ? "Unexpected end-of-file" : ec.message());
    self->last_heard_ = std::chrono::steady_clock::now();
    self->probed_ = false;
    self->on_bytes(std::string_view(self->buf_.data(), n));
    if (!self->ended_) self->read();
  });
}

// Steps 2-4 (the handshake machine), then step 5: data.
void connection::on_bytes(std::string_view bytes) {
  std::string data;
  if (!up_) {
    auto st = hs_.feed(bytes);
    {
      std::lock_guard<std::mutex> g(out_m_);
      outbox_ += hs_.take_output();
    }
    flush();
    if (st == aemp::handshake::step::failed) return end(hs_.error());
    if (st != aemp::handshake::step::done) return;
    peer_ = hs_.peer().nodeid;
    send_f_ = hs_.send_framing();
    dec_.emplace(hs_.recv_framing());
    timer_.cancel();
    up_ = true;
    if (!node_.connection_up(shared_from_this())) return end("duplicate connection");
    watch_silence();
    data = hs_.take_rest();
    bytes = data;
  }
  std::vector<message> msgs;
  std::string why;
  bool ok = dec_->feed(bytes, msgs, why);
  for (auto& m : msgs) deliver(std::move(m));
  if (!ok) end(std::string("protocol error: ") + why);
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
    } else if (std::chrono::steady_clock::now() - self->last_sent_ > limit / 4) {
      self->send(message::array({"", "devnull"}));
    }
    self->watch_silence();
  });
}

void connection::deliver(message m) {
  if (m.empty() || !m[0].is_string()) return;  // [] is a no-op; anything else has no port
  const std::string name = m[0].get<std::string>();
  if (name.empty()) return node_.request(shared_from_this(), m);
  m.erase(m.begin());
  mp::snd(port_id(node_.config().nodeid, name), std::move(m));
}

void connection::send(const message& wire) {
  bool kick = false, overflow = false;
  {
    std::lock_guard<std::mutex> g(out_m_);
    if (overflowed_) return;  // ending: what follows is dropped with the monitors fired
    aemp::encode(send_f_, wire, outbox_);
    overflow = overflowed_ = outbox_.size() > node_.config().max_queued_bytes;
    kick = !writing_;
  }
  if (overflow) {  // a peer that does not keep up: break the connection, so monitors see it
    asio::post(node_.io(), [self = shared_from_this()] { self->end("send queue overflow"); });
  } else if (kick) {
    asio::post(node_.io(), [self = shared_from_this()] { self->flush(); });
  }
}

// The single writer: everything queued so far in one write (batched under load).
void connection::flush() {
  if (ended_) return;
  {
    std::lock_guard<std::mutex> g(out_m_);
    if (writing_ || outbox_.empty()) return;
    writing_ = true;
    inflight_.swap(outbox_);
  }
  last_sent_ = std::chrono::steady_clock::now();
  asio::async_write(sock_, asio::buffer(inflight_), [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
    self->inflight_.clear();
    {
      std::lock_guard<std::mutex> g(self->out_m_);
      self->writing_ = false;
    }
    if (ec) return self->end(ec.message());
    self->flush();
  });
}

void connection::end(const std::string& why) {
  if (ended_) return;
  ended_ = true;
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
