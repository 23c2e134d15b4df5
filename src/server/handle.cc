// start_server and its handle: the server's accepting loop in a background thread.
#include "core.hpp"

namespace sluice {

server_handle::server_handle() = default;
server_handle::server_handle(server_handle&&) noexcept = default;

server_handle& server_handle::operator=(server_handle&& o) noexcept {
  if (this != &o) {
    stop();
    core_ = std::move(o.core_);
    stop_ = std::move(o.stop_);
    thread_ = std::move(o.thread_);
  }
  return *this;
}

server_handle::~server_handle() { stop(); }

std::uint16_t server_handle::port() const { return core_ ? core_->port() : 0; }

void server_handle::request_stop() { stop_.request_stop(); }

void server_handle::stop() {
  if (!core_) return;
  request_stop();
  wait();
  if (thread_.joinable()) thread_.join();
}

void server_handle::wait() {
  if (core_) core_->wait_done();
}

std::size_t server_handle::active_connections() const { return core_ ? core_->active() : 0; }
std::uint64_t server_handle::accepted_connections() const { return core_ ? core_->accepted() : 0; }
std::uint64_t server_handle::refused_connections() const { return core_ ? core_->refused() : 0; }

server_handle start_server(std::uint16_t port, connection_handler handler,
                           std::optional<std::chrono::milliseconds> connection_timeout, server_options opt) {
  server_handle h;
  h.core_ = std::make_unique<detail::server_core>(port, std::move(handler), connection_timeout, std::move(opt));
  detail::server_core* core = h.core_.get();
  try {
    h.thread_ = std::thread([core, token = h.stop_.get_token()] { core->serve(token); });
  } catch (...) {
    h.core_.reset();  // never served: only the watchdog to stop
    throw;
  }
  return h;
}

}  // namespace sluice
