// Coro::MP-style selective receive: a port_async port's mailbox (see runtime.hpp).
//
// Invariants:
//   - `arrival` holds every queued message in arrival order; `by_tag[t]` holds, in arrival
//     order, an iterator to every queued message whose element 0 is the string t. So the
//     oldest message with tag t is by_tag[t].front(): get(tag) finds it without looking at
//     any other message, and removes it in O(1).
//   - Only the port's own thread takes messages out; any thread puts them in.
//   - The doorbell (a capacity-1 lossy channel) is rung after every arrival and on kill, so
//     a getter that found nothing, released the lock and waits on it cannot miss a message.
#include <thread>

#include "runtime.hpp"
#include "sluice/internal/deadline.hpp"

namespace sluice::mp {
namespace detail {
namespace {

const std::string* tag_of(const message& m) {
  if (m.is_array() && !m.empty() && m[0].is_string()) return &m[0].get_ref<const std::string&>();
  return nullptr;
}

// Remove `it` from arrival and from its tag's index (under the lock).
message take(mailbox_state& mb, std::list<mailbox_state::entry>::iterator it) {
  if (const std::string* t = tag_of(it->msg)) {
    auto idx = mb.by_tag.find(*t);
    if (idx != mb.by_tag.end()) {
      auto& q = idx->second;
      if (!q.empty() && q.front() == it) {
        q.pop_front();
      } else {
        for (auto qi = q.begin(); qi != q.end(); ++qi) {
          if (*qi == it) {
            q.erase(qi);
            break;
          }
        }
      }
      if (q.empty()) mb.by_tag.erase(idx);
    }
  }
  message m = std::move(it->msg);
  mb.arrival.erase(it);
  return m;
}

}  // namespace

message take_first(mailbox_state& mb) { return take(mb, mb.arrival.begin()); }

std::optional<message> take_tagged(mailbox_state& mb, const std::string& tag) {
  auto idx = mb.by_tag.find(tag);
  if (idx == mb.by_tag.end() || idx->second.empty()) return std::nullopt;
  return take(mb, idx->second.front());
}

std::optional<message> take_matching(mailbox_state& mb, const std::function<bool(const message&)>& pred,
                                     std::uint64_t& seen) {
  for (auto it = mb.arrival.begin(); it != mb.arrival.end(); ++it) {
    if (it->seq < seen) continue;
    if (pred(it->msg)) return take(mb, it);
  }
  seen = mb.next_seq;
  return std::nullopt;
}

void mailbox_state::push(message msg) {
  {
    std::lock_guard<std::mutex> g(m);
    if (killed) return;
    arrival.push_back(entry{next_seq++, std::move(msg)});
    auto it = std::prev(arrival.end());
    if (const std::string* t = tag_of(it->msg)) by_tag[*t].push_back(it);
  }
  doorbell.try_send(1);  // after unlocking: never wake a thread while holding a lock
}

void mailbox_state::kill(message why) {
  {
    std::lock_guard<std::mutex> g(m);
    killed = true;
    reason = std::move(why);
  }
  doorbell.close();
}

std::size_t mailbox_state::size_hint() const {
  std::lock_guard<std::mutex> g(m);
  return arrival.size();
}

}  // namespace detail

namespace {

// The time point `timeout` from now, saturating: a timeout too long to represent gives
// time_point::max(), which recv_until takes as never (and one not positive a time point
// already past).
std::chrono::steady_clock::time_point deadline_after(std::chrono::nanoseconds timeout) {
  return sluice::internal::deadline::after(timeout).when();
}

// Wait for the doorbell until the deadline; false once it has passed.
bool wait(detail::mailbox_state& mb, std::chrono::steady_clock::time_point deadline) {
  auto r = mb.doorbell.recv_until(deadline);
  return r.status() != status::timeout;
}

}  // namespace

message mailbox::get() {
  for (;;) {
    {
      std::lock_guard<std::mutex> g(s_->m);
      if (!s_->arrival.empty()) return detail::take_first(*s_);
      if (s_->killed) throw port_killed(s_->reason);
    }
    (void)s_->doorbell.recv();
  }
}

std::optional<message> mailbox::get(std::string_view tag, std::chrono::nanoseconds timeout) {
  auto deadline = deadline_after(timeout);
  std::string key(tag);
  for (;;) {
    {
      std::lock_guard<std::mutex> g(s_->m);
      if (auto m = detail::take_tagged(*s_, key)) return m;
      if (s_->killed) throw port_killed(s_->reason);
    }
    if (!wait(*s_, deadline)) {
      std::lock_guard<std::mutex> g(s_->m);  // one last look at the deadline
      return detail::take_tagged(*s_, key);
    }
  }
}

std::optional<message> mailbox::get_cond(std::function<bool(const message&)> pred, std::chrono::nanoseconds timeout) {
  auto deadline = deadline_after(timeout);
  std::uint64_t seen = 0;  // messages before this sequence number were already rejected
  for (bool last = false;; ) {
    {
      std::lock_guard<std::mutex> g(s_->m);
      if (auto m = detail::take_matching(*s_, pred, seen)) return m;
      if (s_->killed) throw port_killed(s_->reason);
    }
    if (last) return std::nullopt;
    if (!wait(*s_, deadline)) last = true;  // one last look at the deadline
  }
}

std::size_t mailbox::size() const { return s_->size_hint(); }

port_id port_async(std::function<void(mailbox&)> body) {
  auto ps = std::make_shared<detail::mailbox_state>();
  auto port = detail::create_port_with_mailbox(ps);
  std::thread([id = port, ps, body = std::move(body)]() mutable {
    detail::current_port as(&id);
    mailbox mb(ps);
    try {
      body(mb);
      kil(id);
    } catch (const port_killed&) {
      // killed from outside: already dead
    } catch (const std::exception& e) {
      kil(id, message::array({"die", e.what()}));
    } catch (...) {
      kil(id, message::array({"die", "unknown exception"}));
    }
  }).detach();
  return port;
}

}  // namespace sluice::mp
