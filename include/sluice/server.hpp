// sluice/server.hpp - Racket's run-server: a TCP (or TLS, or any stream) server that runs one
// handler per connection, each in a thread of its own, with a time limit per connection.
//
//   sluice::run_server(7000, [](sluice::connection& c) {
//     while (auto line = c.read_line()) c.write_line(*line);   // echo, line by line
//   }, std::chrono::seconds(30));                              // blocks, serving for ever
//
//   auto h = sluice::start_server(0, handler, 5s);  // in the background; h.port(), h.stop()
//
// Each accepted connection gets a thread that runs the handler with a `connection` (line and
// byte reads, buffered writes, a std::iostream). When the connection's time limit passes (it
// counts from the accept, for the connection's whole life, as in Racket), the connection is
// shut down: the handler's blocked and later I/O calls throw connection_timeout, its
// stop_token() is stopped (at_shutdown callbacks run), and when the handler has returned its
// spawned threads are joined and what it kept is released (Racket's custodian). A handler's
// exception is caught, reported once (server_options::on_error; stderr by default) and ends
// only its own connection. Beyond server_options::max_connections live connections, a new
// connection is accepted and closed at once (refused), never queued by the server.
//
// Stopping: run_server with a std::stop_token, or start_server's handle: the listener stops
// accepting (and is closed with the close hook), handlers get grace_period to finish, then the
// remaining connections are shut down (their I/O throws connection_closed) and every thread
// is joined before run_server returns / stop() returns. A handler that blocks on something
// other than its connection without watching stop_token() keeps the stop waiting.
//
// The listen, accept and close procedures are hooks (Racket's listen/accept/close
// arguments) over two small interfaces, `listener` and `stream`, so TLS (sluice::tls), a
// Unix-domain socket or anything else that yields byte streams plugs in under an unchanged
// handler. The default is plain TCP on server_options::bind_address (127.0.0.1 by default;
// "0.0.0.0" or "::" for every interface, as Racket does; "" = every interface).
#pragma once

#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <streambuf>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

struct ssl_ctx_st;  // OpenSSL's SSL_CTX

namespace sluice {

// The exceptions a connection's calls throw. connection_timeout and the server's stop are
// both connection_closed, so `catch (const sluice::connection_closed&)` covers every way a
// connection ends under the handler.
class connection_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
// The peer reset the connection, a write found it closed, or the server is stopping.
class connection_closed : public connection_error {
 public:
  using connection_error::connection_error;
};
// The connection's time limit passed.
class connection_timeout : public connection_closed {
 public:
  using connection_closed::connection_closed;
};
// read_line met no "\n" within server_options::max_line_length bytes.
class line_too_long : public connection_error {
 public:
  using connection_error::connection_error;
};

// One connection's bytes. Used by its connection's thread only, except shutdown(), which any
// thread may call at any time, more than once, and which makes blocked and later reads and
// writes return promptly (0 or an exception). The destructor releases everything (the fd).
class stream {
 public:
  virtual ~stream() = default;
  virtual void start() {}  // in the connection's thread, before the handler, under the time limit (TLS: the handshake)
  virtual std::size_t read_some(void* buf, std::size_t n) = 0;         // >= 1 byte, 0 at the end; throws on failure
  virtual std::size_t write_some(const void* buf, std::size_t n) = 0;  // >= 1 byte; throws on failure
  virtual void shutdown() noexcept = 0;
  virtual void finish() noexcept {}  // after a normal end: an orderly close (TCP FIN, TLS close_notify)
  virtual std::string peer() const { return std::string(); }  // for messages: "127.0.0.1:50000"
};

// Where connections come from. accept() and close() are called by the server's accepting
// thread only; interrupt() by any thread, at any time: a blocked accept() returns nullptr,
// and so does every later one. The destructor releases everything.
class listener {
 public:
  virtual ~listener() = default;
  virtual std::unique_ptr<stream> accept() = 0;  // blocks; nullptr once interrupted
  virtual void interrupt() noexcept = 0;
  virtual void close() noexcept {}                // stop listening (Racket's close)
  virtual std::uint16_t port() const { return 0; }  // the bound port, when there is one
};

// A stream over a connected stream socket (TCP, Unix-domain), for writing listeners: takes
// ownership of fd (blocking; closed by the stream's destructor).
std::unique_ptr<stream> make_socket_stream(int fd, std::string peer = {});

struct server_options;
using listen_hook = std::function<std::unique_ptr<listener>(std::uint16_t port, const server_options& opt)>;
using accept_hook = std::function<std::unique_ptr<stream>(listener& l)>;  // nullptr: the listener is done
using close_hook = std::function<void(listener& l)>;

struct server_options {
  std::string bind_address = "127.0.0.1";  // a host name or address; "" = every interface
  int backlog = 128;                        // listen(2)'s queue of not yet accepted connections
  std::size_t max_connections = 512;        // live connections; beyond: accepted and closed at once
  std::chrono::milliseconds grace_period = std::chrono::seconds(5);  // on stop, before the shutdown
  std::size_t max_line_length = std::size_t(1) << 20;                // read_line's limit
  std::function<void(std::uint16_t port)> on_listen;  // once listening, before the first accept
  // A handler's escaping exception (once per connection), a failed stream start (TLS
  // handshake), a failed accept. Empty: one line on stderr.
  std::function<void(const std::string& peer, std::exception_ptr e)> on_error;
  // Racket's listen, accept and close. Empty: plain TCP (tcp_listen, tcp_accept, tcp_close).
  listen_hook listen;
  accept_hook accept;
  close_hook close;
};

// The TCP hooks: listen on opt.bind_address:port (port 0: the system picks; SO_REUSEADDR),
// accept (TCP_NODELAY), close the listening socket. tcp_listen throws std::system_error.
std::unique_ptr<listener> tcp_listen(std::uint16_t port, const server_options& opt);
std::unique_ptr<stream> tcp_accept(listener& l);
void tcp_close(listener& l);

// base with TLS over its accept hook (plain TCP by default): each connection's TLS handshake
// runs in its thread under the time limit, with ctx (its certificate, key and verification
// settings; SSL_CTX_up_ref'd for as long as the hooks live).
server_options tls(ssl_ctx_st* ctx, server_options base = {});
// boost::asio::ssl::context, or anything else with native_handle() -> SSL_CTX*.
template <class Context>
  requires requires(Context& c) {
    { c.native_handle() } -> std::convertible_to<ssl_ctx_st*>;
  }
server_options tls(Context& ctx, server_options base = {}) {
  return tls(static_cast<ssl_ctx_st*>(ctx.native_handle()), std::move(base));
}

namespace detail {
struct connection_state;
class server_core;
}  // namespace detail

// What a handler talks through. Used by the handler's thread (and threads it makes) one at a
// time; stop_token(), timed_out() and peer() from any thread. Output is buffered: flush()
// sends it, and so does every read (so a prompt goes out before the answer is awaited), a
// full buffer, and the handler's normal return. After the shutdown every I/O call throws
// connection_timeout (the time limit) or connection_closed (the server's stop).
class connection {
 public:
  explicit connection(detail::connection_state& s);  // the server makes it
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;
  ~connection();

  // A line without its "\n" (a "\r" before it stays, as Racket's 'linefeed mode); at the end,
  // what is left without a "\n", then nullopt. Throws line_too_long past max_line_length.
  std::optional<std::string> read_line();
  std::size_t read_some(void* buf, std::size_t n);  // >= 1 byte; 0 at the end
  std::string read_some(std::size_t max = 4096);    // "" at the end
  std::size_t read_exactly(void* buf, std::size_t n);  // n bytes; fewer only at the end
  std::string read_exactly(std::size_t n);
  void write(std::string_view bytes);
  void write(const void* data, std::size_t n);
  void write_line(std::string_view line);  // line + "\n"
  void flush();

  // The same buffers as a std::iostream (exceptions(badbit): the calls above' exceptions come
  // through; the end of input is eof as usual) and its streambuf.
  std::iostream& iostream() { return io_; }
  std::streambuf& streambuf() { return buf_; }

  const std::string& peer() const;
  bool timed_out() const;
  // Stopped when the connection is shut down (time limit or server stop) or ends.
  std::stop_token stop_token() const;
  // Racket's custodian: fn runs once, when the connection is shut down (on the thread that
  // shuts it down, before the socket is: keep it short; it must not throw) or, at the
  // latest, when the handler has returned - at once if either has happened. It may run after
  // the handler's locals are gone: capture only what outlives the handler (shared_ptrs,
  // what keep() holds).
  void at_shutdown(std::function<void()> fn);
  // A thread of this connection: given stop_token(); joined when the handler has returned.
  // Its escaping exception is reported like a handler's.
  void spawn(std::function<void(std::stop_token)> fn);
  // Released (in reverse order) when the handler has returned and the spawned threads ended.
  void keep(std::shared_ptr<void> resource);

 private:
  class buffer : public std::streambuf {
   public:
    explicit buffer(detail::connection_state& s);
    std::size_t available() const { return static_cast<std::size_t>(egptr() - gptr()); }
    const char* data() const { return gptr(); }
    void consume(std::size_t n);
    bool fill();                 // at least one more byte in the get area; false at the end
    void put(const char* p, std::size_t n);
    void send_pending();         // the put area to the stream

   protected:
    int_type underflow() override;
    int_type overflow(int_type ch) override;
    std::streamsize xsputn(const char* s, std::streamsize n) override;
    int sync() override;

   private:
    detail::connection_state& s_;
    std::vector<char> in_, out_;
  };

  detail::connection_state& s_;
  buffer buf_;
  std::iostream io_;
};

using connection_handler = std::function<void(connection&)>;

// Blocks, serving, until the listener fails (std::system_error from listen: bad address,
// port in use) - for ever with the default hooks.
void run_server(std::uint16_t port, connection_handler handler,
                std::optional<std::chrono::milliseconds> connection_timeout = {}, server_options opt = {});
// Blocks until stop is requested, then stops as described above and returns.
void run_server(std::stop_token stop, std::uint16_t port, connection_handler handler,
                std::optional<std::chrono::milliseconds> connection_timeout = {}, server_options opt = {});

// A server in a background thread. Listening when start_server returns (its errors throw
// there). The destructor stops it. Not for concurrent use, except request_stop(), wait() and
// the counters. From inside a handler use request_stop(): stop() and wait() would wait for
// that handler itself.
class server_handle {
 public:
  server_handle(server_handle&&) noexcept;
  server_handle& operator=(server_handle&&) noexcept;
  ~server_handle();
  std::uint16_t port() const;        // the bound port (port 0: the one the system picked)
  void request_stop();               // returns at once
  void stop();                       // request_stop, then wait
  void wait();                       // until stopped: every thread joined, the listener closed
  std::size_t active_connections() const;
  std::uint64_t accepted_connections() const;  // ran a handler
  std::uint64_t refused_connections() const;   // over max_connections

 private:
  friend server_handle start_server(std::uint16_t, connection_handler, std::optional<std::chrono::milliseconds>,
                                    server_options);
  server_handle();
  std::unique_ptr<detail::server_core> core_;
  std::stop_source stop_;
  std::thread thread_;
};

server_handle start_server(std::uint16_t port, connection_handler handler,
                           std::optional<std::chrono::milliseconds> connection_timeout = {},
                           server_options opt = {});
// The run_server overload returning a handle: run_server(sluice::background, ...).
struct background_t {
  explicit background_t() = default;
};
inline constexpr background_t background{};
inline server_handle run_server(background_t, std::uint16_t port, connection_handler handler,
                                std::optional<std::chrono::milliseconds> connection_timeout = {},
                                server_options opt = {}) {
  return start_server(port, std::move(handler), connection_timeout, std::move(opt));
}

}  // namespace sluice
