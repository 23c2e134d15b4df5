// AnyEvent::MP's port / rcv / snd / mon / kil, in sluice::mp.
#include <sluice/sluice.hpp>

#include <cstdio>

using namespace sluice::mp;

int main() {
  sluice::channel<std::string> log(sluice::unbounded);
  // A port with a tag handler: "ping" replies to the sender's port with "pong".
  port_id server = port();
  rcv(server, "ping", [](const message& rest) { snd(rest[0].get<port_id>(), {"pong", rest[1]}); });
  // A client port: its default handler records the reply, then kills the server.
  port_id client = port([log, server](const message& m) mutable {
    log.send(m.dump());
    kil(server, {"done", "bye"});
  });
  mon(server, [log](const message& reason) mutable { log.send("server died: " + reason.dump()); });
  snd(server, {"ping", client, 42});
  for (int i = 0; i < 2; ++i) std::printf("%s\n", log.recv()->c_str());
  kil(client);
}
