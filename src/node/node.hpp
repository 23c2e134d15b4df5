// The network layer behind sluice/node.hpp (private header).
//
// Invariants:
//   - One thread at a time runs the io_context ("the io thread" below): the holder of the
//     port scheduler's io token (src/mp/netpoll.hpp), an idle port worker or the node's own
//     fallback thread. Every socket read and every connection's state change happens there.
//     Other threads append to a connection's outbox (under its mutex), write it through when
//     the connection is idle, and post work to the io thread.
//   - A peer (a node id) has at most one connection up. A second one that comes up for the
//     same node id is ended ("duplicate connection"), as Perl does.
//   - Every way a connection ends goes through connection::end, once: the socket closes, and
//     node::connection_ended fires every monitor held on that node's ports with
//     ["transport_error", NODE, text], drops what was queued for it and reports the node down.
//   - A sending thread keeps the connection it last sent through (node::send's thread-local
//     cache) and queues into it without node::m_. end() stops a connection sending, under
//     out_m_, before node::connection_ended drops it from peers_ under m_, so a thread whose
//     cached connection ended sees it refuse the message and takes m_ (node::send says why no
//     hole opens).
//   - Messages to a node without a connection wait in the peer's queue, in order, and go out
//     first when a connection comes up; they are dropped (with the monitors fired) when no
//     connection comes up within connect_interval.
//   - No user callback runs on the io thread or under node::m_ (monitors fire through the
//     port scheduler), and none is copied or destroyed under node::m_.
//   - No thread is woken under node::m_ or a connection's out_m_: a post to the io thread, a
//     timer started or cancelled, or a writer kicked is decided under the lock and made after
//     it is released (connection::queue, then connection::after; node::deferred). The one
//     syscall under a lock is the write-through's non-blocking send() to the peer's socket.
//   - Bytes reach a socket in the order they were queued: a sending thread writes the socket
//     itself (write-through) only under the connection's out_m_, with nothing queued and no
//     write in flight, and never after end() (which clears `direct_` under out_m_ before it
//     closes the socket, so a write-through cannot hit a reused descriptor).
//   - TLS (when both sides want it): nothing past the peer's nonce line is read from the
//     plain socket (the greeting is read with MSG_PEEK and taken exactly), so every byte of
//     the peer's TLS handshake reaches the TLS stream; ours starts only after our greeting's
//     write has finished; from then on every read and write of the connection goes through
//     the TLS stream, and at most one write is in flight, as before.
#pragma once

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include "byte_queue.hpp"
#include "serial_calls.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "../mp/netpoll.hpp"
#include "../mp/runtime.hpp"
#include "directory.hpp"
#include "sluice/internal/aemp/framing.hpp"
#include "sluice/internal/aemp/handshake.hpp"
#include "sluice/internal/spin_mutex.hpp"
#include "sluice/node.hpp"

namespace sluice::mp::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using tls_stream = asio::ssl::stream<tcp::socket&>;  // over the connection's own socket

class node;

// One TCP connection: handshake, then messages both ways.
class connection : public std::enable_shared_from_this<connection> {
 public:
  // seed: the seed address dialed ("" otherwise); target: the node id dialed ("" otherwise);
  // seed_backoff: the seed's back-off when this connection was made.
  connection(node& n, tcp::socket s, std::string seed, std::string target = {},
             std::chrono::milliseconds seed_backoff = std::chrono::milliseconds(600));
  void start();                         // io thread: step 1 of the handshake, then reading
  void send(const message& wire);       // any thread, once up: queue one [name, args...]
  void send(const std::string& head, const message& args);  // the same, without building it
  // send() in two halves, for a caller holding a lock: queue() appends (or writes through)
  // and wakes nobody; after() makes the wake it asked for, once the caller's locks are released.
  enum class queued { done, kick, overflow };
  [[nodiscard]] queued queue(const message& wire);
  [[nodiscard]] queued queue(const std::string& head, const message& args);
  // queue(head, args) unless the connection stopped sending (it is ending or overflowed):
  // then nothing is queued and the result is empty. node::send's lock-free path uses it.
  [[nodiscard]] std::optional<queued> queue_if_sending(const std::string& head, const message& args);
  void after(queued q);
  void stop_sending();                  // what is queued from now on is dropped; after(overflow) ends it
  void end(const std::string& why);     // io thread; the one way a connection ends
  const std::string& peer() const { return peer_; }
  const std::string& seed() const { return seed_; }
  const std::string& target() const { return target_; }
  std::chrono::milliseconds seed_backoff() const { return seed_backoff_; }
  bool up() const { return up_; }

  // The peer's monitors on our ports (mon1 requests), cancelled when the connection ends.
  std::unordered_map<std::string, monitor> served;

 private:
  void read();
  void read_greeting_exactly();
  void on_read(const boost::system::error_code& ec, std::size_t n);
  void on_bytes(std::string_view bytes);
  void take_handshake_output();
  void start_tls();                     // step 3b: TLS agreed on
  void tls_handshake();
  bool tls_pending() const { return tls_ && !tls_ready_; }
  void watch_silence();                 // once up: probe an idle peer, end a silent one
  void flush();                         // io thread: write what the outbox holds
  template <class Encode>
  queued queue_with(Encode&& encode, bool* refused = nullptr);  // encode(outbox) appends one message
  bool write_through(std::chrono::steady_clock::time_point now);  // out_m_ held: see queue()
  std::chrono::steady_clock::duration quiet_for();  // since a write last started
  void take(aemp::incoming& in);        // io thread: the next message of a read, in order
  void end_run();                       // delivers the run take() is building, if any
  void deliver(message m);
  void deliver(const mp::port_id& p, mp::detail::encoded_message& run);

  node& node_;
  tcp::socket sock_;
  std::string seed_;                    // the seed address this connection was made for, if any
  std::string target_;                  // the node id this connection was dialed for, if any
  std::string where_;                   // the peer's address, for the log
  std::chrono::milliseconds seed_backoff_;  // the seed's back-off when this connection was made
  aemp::handshake hs_;
  std::optional<aemp::decoder> dec_;
  std::string run_port_;                // io thread: the port of the run take() is building
  mp::detail::encoded_message run_;     // io thread: that run (count 0: none)
  void (*decode_rest_)(std::string_view, message&) = nullptr;  // the receiving framing's aemp::decode_rest
  aemp::framing send_f_ = aemp::framing::json;
  asio::steady_timer timer_;
  std::string peer_;
  bool up_ = false, ended_ = false;
  std::chrono::steady_clock::time_point last_heard_;  // io thread: when bytes last came in
  std::chrono::steady_clock::time_point last_sent_;   // out_m_: when a write last started
  bool probed_ = false;                 // io thread: a probe is out since last_heard_
  std::array<char, 65536> buf_{};
  std::optional<tls_stream> tls_;      // io thread: from step 3b on, when TLS is used
  bool tls_ready_ = false;              // io thread: TLS is up; all reads and writes use tls_
  bool tls_after_write_ = false;        // io thread: TLS starts when the greeting's write ends

  // A spin lock (internal::spin_mutex), not std::mutex: the sending threads take it once per
  // message for an encode (tens of ns) and the io thread once per write, and with
  // std::mutex the two met often enough that futex sleeps and wakes took ~10% of a sending
  // node's samples (perf, CBOR ["tag", i]; 3.1 -> 4.0 M msg/s, medians of 8). The rare long
  // holds (a new 64 KiB block, a write-through's one non-blocking write) make a waiter
  // yield, not spin.
  internal::spin_mutex out_m_;          // guards outbox_, writing_, kicked_, overflowed_, direct_, last_*
  byte_queue outbox_;
  bool writing_ = false;
  bool kicked_ = false;                 // after() posted a flush that has not yet run: no second post
  bool overflowed_ = false;             // set by an overflow, stop_sending() or end(): nothing more is queued
  bool direct_ = false;                 // up, plain TCP, not ended: send() may write the socket itself
  std::chrono::steady_clock::time_point last_send_;  // the last send() that found the outbox idle, or flush
  byte_queue inflight_;                 // io thread only: the bytes being written
};

struct settings {
  std::string nodeid;
  std::optional<std::string> secret;
  std::optional<std::string> cert;      // PEM: private key + certificate, also the only CA
  std::vector<std::string> framings;
  std::chrono::milliseconds connect_interval{2000}, monitor_timeout{30000};
  bool secure = true;
  std::size_t max_queued_bytes = 64u << 20;  // per peer: queued before and after it is up
  bool log = false;                           // connection and role events on stderr
};

class node : public detail::remote_hooks, public directory::host, public detail::poller {
 public:
  explicit node(settings s);
  void listen(const std::string& bind);          // throws on a bad address or a failed bind
  void add_seed(const std::string& hostport);    // throws on a bad address
  void run();                                    // hands io_ to the port scheduler (netpoll.hpp)
  void poll_one(std::chrono::milliseconds limit) override { io_.run_one_for(limit); }
  bool poll_ready() override { return io_.poll_one() > 0; }
  void interrupt() override { asio::post(io_, [] {}); }
  directory& dir() { return dir_; }              // io thread only

  // remote_hooks: snd, kil and mon on other nodes' ports.
  void send(const port_id& p, message msg) override;
  void kill(const port_id& p, message reason) override;
  void monitor(const port_id& p, std::shared_ptr<monitor::state> m) override;
  port_id spawn(const std::string& nodeid, const std::string& qualified_name, message args) override;

  // From connections (io thread).
  aemp::handshake_config handshake_config() const;
  bool connection_up(const std::shared_ptr<connection>& c);   // false: duplicate, end it
  void connection_ended(const std::shared_ptr<connection>& c, const std::string& why);
  void request(const std::shared_ptr<connection>& c, const message& m);  // ["", tag, ...]
  void fire_remote(const std::string& peer, const std::string& name, const message& reason);

  std::vector<std::string> up_nodes();

  // directory::host (io thread).
  void send_request(const std::string& node, message wire) override;
  bool is_up(const std::string& node) override;
  std::vector<std::string> connected() override { return up_nodes(); }
  void connect_to(const std::string& node, const std::vector<std::string>& addresses) override;
  void keep_connected(std::vector<std::string> nodes) override;
  void post_user(std::function<void()> f) override { detail::post(std::move(f)); }
  mp::monitor watch(std::function<void(const std::string&, bool, const message&)> f);

  asio::io_context& io() { return io_; }
  void note(const std::string& what) const;      // a log line, when logging is on
  asio::ssl::context* tls_context() { return tls_ ? &*tls_ : nullptr; }  // nullptr: no cert
  const settings& config() const { return s_; }

 private:
  struct peer {
    std::shared_ptr<connection> conn;     // up
    std::vector<message> queued;          // wire messages waiting for a connection
    std::size_t queued_bytes = 0;         // their approximate size
    std::unordered_map<std::string, std::vector<std::shared_ptr<monitor::state>>> monitors;
    std::shared_ptr<asio::steady_timer> give_up;  // connect_interval after the first wait
    bool dialing = false;                 // io thread: a connection attempt is under way
    bool dialed = false;                  // an address was tried in this waiting period
  };
  struct watcher {
    std::shared_ptr<monitor::state> st;
    std::function<void(const std::string&, bool, const message&)> f;
    std::shared_ptr<serial_calls> calls = std::make_shared<serial_calls>();  // f's calls, in order
  };

  // The wakes a call decides under m_ (a post to the io thread, a timer started, a
  // connection's writer kicked), made in order once m_ is released: nobody is woken under m_.
  // Declared before the lock, it makes them also when the locked part throws (what was
  // decided, such as a timer stored in a peer, must still be armed).
  class deferred {
   public:
    deferred() = default;
    deferred(const deferred&) = delete;
    deferred& operator=(const deferred&) = delete;
    ~deferred() {
      while (next_ < fs_.size()) {
        try {
          fs_[next_++]();
        } catch (...) {  // unwinding already, or after run() threw: the others still run
        }
      }
    }
    void add(std::function<void()> f) { fs_.push_back(std::move(f)); }
    void run() {  // a throw leaves the rest to the destructor
      while (next_ < fs_.size()) fs_[next_++]();
    }

   private:
    std::vector<std::function<void()>> fs_;
    std::size_t next_ = 0;
  };

  void send_wire(const std::string& nodeid, message wire);  // a wire message to another node
  void enqueue(const std::string& nodeid, message wire, deferred& later);   // m_ held
  void start_waiting(const std::string& nodeid, peer& p, deferred& later);  // m_ held
  void unreachable(const std::string& nodeid, const std::string& why);
  void unmonitor(const std::string& nodeid, const std::string& name);
  void notify(const std::string& nodeid, bool up, const message& reason);
  void reply(const message& m, std::size_t at, message value);
  void connect_seed(const std::string& hostport, std::chrono::milliseconds backoff);
  void lookup(const std::string& nodeid);        // io thread: where does it listen? then dial
  void dial(const std::string& nodeid, std::vector<std::string> addresses, std::size_t i);
  void keepalive_tick(std::chrono::milliseconds backoff);
  std::vector<std::string> listen_addresses() const;
  void accept(tcp::acceptor& a);

  settings s_;
  std::optional<asio::ssl::context> tls_;  // made in the constructor from s_.cert; io thread after
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors_;
  std::vector<std::string> seeds_;
  directory dir_;                         // io thread only
  std::map<std::string, std::string> node_seed_;  // io thread: node id -> the seed address it answered at
  std::vector<std::string> keepalive_;    // io thread: global nodes to stay connected to
  bool keepalive_ticking_ = false;        // io thread
  std::thread thread_;

  std::mutex m_;                          // guards peers_ and watchers_
  std::map<std::string, peer> peers_;
  std::vector<std::shared_ptr<const watcher>> watchers_;  // shared: f is never copied under m_
};

// The node after configure (nullptr before).
node* current();
void set_current(node* n);

}  // namespace sluice::mp::net
