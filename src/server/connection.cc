// What a handler talks through: buffered line and byte I/O over the connection's stream, the
// same buffers as a std::streambuf, and the custodian parts (stop_token, at_shutdown, spawn,
// keep). Every call checks for the shutdown first, and a failure after it becomes the
// shutdown's exception.
#include "core.hpp"

#include <algorithm>
#include <cstring>

namespace sluice::detail {

void connection_state::cut_off(cut_reason why) noexcept {
  int expected = 0;
  if (!cut.compare_exchange_strong(expected, static_cast<int>(why))) return;
  stop.request_stop();  // first: a call that throws for the cut finds stop_token() stopped
  io->shutdown();
}

void connection_state::check() const {
  switch (static_cast<cut_reason>(cut.load())) {
    case cut_reason::none:
      return;
    case cut_reason::timeout:
      throw connection_timeout("sluice::connection: the connection's time limit (" +
                               std::to_string(timeout ? timeout->count() : 0) + " ms) passed");
    case cut_reason::stopping:
      throw connection_closed("sluice::connection: the server is stopping");
  }
}

std::size_t connection_state::read(void* p, std::size_t n) {
  check();
  std::size_t got;
  try {
    got = io->read_some(p, n);
  } catch (const std::exception& e) {
    check();
    throw connection_closed(std::string("sluice::connection: read: ") + e.what());
  }
  if (got == 0) check();  // the shutdown looks like the end
  return got;
}

void connection_state::write_all(const char* p, std::size_t n) {
  while (n > 0) {
    check();
    std::size_t put;
    try {
      put = io->write_some(p, n);
    } catch (const std::exception& e) {
      check();
      throw connection_closed(std::string("sluice::connection: write: ") + e.what());
    }
    if (put == 0 || put > n) throw connection_closed("sluice::connection: write: the stream took nothing");
    p += put;
    n -= put;
  }
}

}  // namespace sluice::detail

namespace sluice {

namespace {
constexpr std::size_t chunk = 8192;
}

connection::buffer::buffer(detail::connection_state& s) : s_(s), in_(chunk), out_(chunk) {
  setg(in_.data(), in_.data(), in_.data());
  setp(out_.data(), out_.data() + out_.size());
}

void connection::buffer::consume(std::size_t n) { setg(eback(), gptr() + n, egptr()); }

bool connection::buffer::fill() {
  send_pending();
  std::size_t have = available();
  if (gptr() != in_.data()) {  // keep the unread bytes at the front
    std::memmove(in_.data(), gptr(), have);
    setg(in_.data(), in_.data(), in_.data() + have);
  }
  if (in_.size() - have < chunk / 2) {  // read_line's long lines grow it (up to its limit)
    in_.resize(std::max(in_.size() * 2, have + chunk));
    setg(in_.data(), in_.data(), in_.data() + have);
  }
  std::size_t got = s_.read(in_.data() + have, in_.size() - have);
  setg(in_.data(), in_.data(), in_.data() + have + got);
  return got > 0;
}

void connection::buffer::send_pending() {
  std::size_t n = static_cast<std::size_t>(pptr() - pbase());
  setp(out_.data(), out_.data() + out_.size());  // emptied even when the write fails
  if (n > 0) s_.write_all(out_.data(), n);
}

void connection::buffer::put(const char* p, std::size_t n) {
  s_.check();
  if (n <= static_cast<std::size_t>(epptr() - pptr())) {
    std::memcpy(pptr(), p, n);
    pbump(static_cast<int>(n));
    return;
  }
  send_pending();
  if (n >= out_.size()) return s_.write_all(p, n);
  std::memcpy(pptr(), p, n);
  pbump(static_cast<int>(n));
}

connection::buffer::int_type connection::buffer::underflow() {
  if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
  return fill() ? traits_type::to_int_type(*gptr()) : traits_type::eof();
}

connection::buffer::int_type connection::buffer::overflow(int_type ch) {
  send_pending();
  if (!traits_type::eq_int_type(ch, traits_type::eof())) {
    char c = traits_type::to_char_type(ch);
    put(&c, 1);
  }
  return traits_type::not_eof(ch);
}

std::streamsize connection::buffer::xsputn(const char* s, std::streamsize n) {
  put(s, static_cast<std::size_t>(n));
  return n;
}

int connection::buffer::sync() {
  send_pending();
  return 0;
}

connection::connection(detail::connection_state& s) : s_(s), buf_(s), io_(&buf_) {
  io_.exceptions(std::ios::badbit);
}

connection::~connection() = default;

std::optional<std::string> connection::read_line() {
  std::size_t scanned = 0, limit = s_.opt->max_line_length;
  for (;;) {
    s_.check();
    std::size_t have = buf_.available();
    const char* base = buf_.data();
    if (const void* nl = std::memchr(base + scanned, '\n', have - scanned)) {
      std::size_t len = static_cast<std::size_t>(static_cast<const char*>(nl) - base);
      std::string line(base, len);
      buf_.consume(len + 1);
      return line;
    }
    scanned = have;
    if (have > limit) {
      throw line_too_long("sluice::connection: read_line: no end of line within " + std::to_string(limit) + " bytes");
    }
    if (!buf_.fill()) {
      if (have == 0) return std::nullopt;
      std::string rest(buf_.data(), have);
      buf_.consume(have);
      return rest;
    }
  }
}

std::size_t connection::read_some(void* p, std::size_t n) {
  s_.check();
  if (n == 0) return 0;
  if (buf_.available() == 0) {
    buf_.send_pending();
    if (n >= chunk) return s_.read(p, n);  // big reads skip the buffer
    if (!buf_.fill()) return 0;
  }
  std::size_t k = std::min(n, buf_.available());
  std::memcpy(p, buf_.data(), k);
  buf_.consume(k);
  return k;
}

std::string connection::read_some(std::size_t max) {
  std::string s(max, '\0');
  s.resize(read_some(s.data(), max));
  return s;
}

std::size_t connection::read_exactly(void* p, std::size_t n) {
  std::size_t got = 0;
  while (got < n) {
    std::size_t k = read_some(static_cast<char*>(p) + got, n - got);
    if (k == 0) break;
    got += k;
  }
  return got;
}

std::string connection::read_exactly(std::size_t n) {
  std::string s(n, '\0');
  s.resize(read_exactly(s.data(), n));
  return s;
}

void connection::write(std::string_view bytes) { buf_.put(bytes.data(), bytes.size()); }

void connection::write(const void* data, std::size_t n) { buf_.put(static_cast<const char*>(data), n); }

void connection::write_line(std::string_view line) {
  write(line);
  write("\n", 1);
}

void connection::flush() {
  s_.check();
  buf_.send_pending();
}

const std::string& connection::peer() const { return s_.peer; }

bool connection::timed_out() const { return s_.cut.load() == static_cast<int>(detail::cut_reason::timeout); }

std::stop_token connection::stop_token() const { return s_.stop.get_token(); }

void connection::at_shutdown(std::function<void()> fn) {
  s_.callbacks.push_back(
      std::make_unique<std::stop_callback<std::function<void()>>>(s_.stop.get_token(), std::move(fn)));
}

void connection::spawn(std::function<void(std::stop_token)> fn) {
  detail::connection_state* st = &s_;
  s_.spawned.emplace_back([st, fn = std::move(fn)] {
    try {
      fn(st->stop.get_token());
    } catch (...) {
      detail::report(*st->opt, st->peer, std::current_exception());
    }
  });
}

void connection::keep(std::shared_ptr<void> resource) { s_.kept.push_back(std::move(resource)); }

}  // namespace sluice
