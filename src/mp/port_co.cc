// port_co: a port whose body is a coroutine on an Asio executor, with an awaited mailbox.
//
// Invariants (those of mailbox.cc, with the doorbell awaited instead of received):
//   - Only the port's coroutine takes messages out; any thread puts them in and then rings the
//     doorbell (a capacity-1 lossy channel), so a getter that found nothing, released the
//     lock and awaits the doorbell cannot miss a message.
//   - A kill from outside sets `killed` and closes the doorbell: every await then returns
//     and the getter throws port_killed.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "runtime.hpp"
#include "sluice/async.hpp"

namespace sluice::mp {
namespace {

namespace asio = boost::asio;

// Wait for the doorbell until `deadline` (never: no limit); false once it has passed.
asio::awaitable<bool> ring(detail::mailbox_state& mb, const sluice::internal::deadline& deadline) {
  if (deadline.is_never()) {
    (void)co_await mb.doorbell.async_recv(asio::use_awaitable);
    co_return true;
  }
  auto left = deadline.when() - std::chrono::steady_clock::now();
  if (left <= std::chrono::steady_clock::duration::zero()) co_return false;
  auto r = co_await mb.doorbell.async_recv_for(left, asio::use_awaitable);
  co_return r.status() != status::timeout;
}

}  // namespace

asio::awaitable<message> async_mailbox::async_get() {
  for (;;) {
    {
      std::lock_guard<std::mutex> g(s_->m);
      if (!s_->arrival.empty()) co_return detail::take_first(*s_);
      if (s_->killed) throw port_killed(s_->reason);
    }
    co_await ring(*s_, sluice::internal::deadline::never());
  }
}

asio::awaitable<std::optional<message>> async_mailbox::async_get(std::string tag, std::chrono::nanoseconds timeout) {
  const auto deadline = sluice::internal::deadline::after(timeout);
  for (bool last = false;;) {
    {
      std::lock_guard<std::mutex> g(s_->m);
      if (auto m = detail::take_tagged(*s_, tag)) co_return m;
      if (s_->killed) throw port_killed(s_->reason);
    }
    if (last) co_return std::nullopt;
    if (!co_await ring(*s_, deadline)) last = true;  // one last look at the deadline
  }
}

asio::awaitable<std::optional<message>> async_mailbox::async_get_cond(std::function<bool(const message&)> pred,
                                                                      std::chrono::nanoseconds timeout) {
  const auto deadline = sluice::internal::deadline::after(timeout);
  std::uint64_t seen = 0;  // messages before this sequence number were already rejected
  for (bool last = false;;) {
    {
      std::lock_guard<std::mutex> g(s_->m);
      if (auto m = detail::take_matching(*s_, pred, seen)) co_return m;
      if (s_->killed) throw port_killed(s_->reason);
    }
    if (last) co_return std::nullopt;
    if (!co_await ring(*s_, deadline)) last = true;
  }
}

std::size_t async_mailbox::size() const { return s_->size_hint(); }

port_id port_co(asio::any_io_executor ex, std::function<asio::awaitable<void>(async_mailbox&)> body) {
  auto ps = std::make_shared<detail::mailbox_state>();
  port_id id = detail::create_port_with_mailbox(ps);
  asio::co_spawn(
      ex,
      [ps, id, body = std::move(body)]() mutable -> asio::awaitable<void> {
        async_mailbox mb(ps, id);
        co_await body(mb);
      },
      [id](std::exception_ptr e) {
        if (!e) return kil(id);
        try {
          std::rethrow_exception(e);
        } catch (const port_killed&) {
          // killed from outside: already dead
        } catch (const std::exception& x) {
          kil(id, message::array({"die", x.what()}));
        } catch (...) {
          kil(id, message::array({"die", "unknown exception"}));
        }
      });
  return id;
}

}  // namespace sluice::mp
