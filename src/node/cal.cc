// AnyEvent::MP's cal: a request with a reply port, a timeout and a monitor (see node.hpp).
#include <atomic>
#include <memory>

#include "../mp/runtime.hpp"
#include "sluice/node.hpp"
#include "sluice/timer.hpp"

namespace sluice::mp {
namespace {

// One call: finished once, by the reply, the timeout or p's death, whichever comes first.
// Only the reply port's handler owns it (the monitor and the timer hold it weakly), so it is
// freed when finish kills the reply port: no cycle through the monitor's callback.
struct call {
  std::atomic<bool> done{false};
  std::function<void(std::optional<message>)> f;
  port_id reply;
  monitor watch;
};

void finish(const std::shared_ptr<call>& c, std::optional<message> r) {
  if (c->done.exchange(true)) return;
  c->watch.cancel();
  kil(c->reply);  // drops the reply port's handler, and with it the handler's hold on c
  c->f(std::move(r));
}

}  // namespace

void cal(const port_id& p, message msg, std::function<void(std::optional<message> reply)> f,
         std::chrono::milliseconds timeout) {
  auto c = std::make_shared<call>();
  c->f = std::move(f);
  c->reply = port([c](const message& m) { finish(c, m); });
  std::weak_ptr<call> weak = c;
  c->watch = mon(p, [weak](const message&) {
    if (auto alive = weak.lock()) finish(alive, std::nullopt);
  });
  internal::call_after(timeout, [weak] {
    detail::post([weak] {
      if (auto alive = weak.lock()) finish(alive, std::nullopt);
    });
  });
  if (!msg.is_array()) msg = message::array({std::move(msg)});
  msg.push_back(c->reply);
  snd(p, std::move(msg));
}

}  // namespace sluice::mp
