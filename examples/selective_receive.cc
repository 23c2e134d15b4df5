// Coro::MP's port_async with selective receive: take "reply" first, leave the rest queued.
#include <sluice/sluice.hpp>

#include <cstdio>

using namespace sluice::mp;
using namespace std::chrono_literals;

int main() {
  sluice::channel<std::string> out(sluice::unbounded);
  port_id p = port_async([out](mailbox& mb) mutable {
    if (auto reply = mb.get("reply", 1s)) out.send("first: " + reply->dump());
    out.send("then: " + mb.get().dump());  // the older message it passed over
  });
  snd(p, {"noise", 1});
  snd(p, {"reply", 2});
  for (int i = 0; i < 2; ++i) std::printf("%s\n", out.recv()->c_str());
}
