// AnyEvent::MP's spawn by function name.
#include <sluice/sluice.hpp>

#include <cstdio>

using namespace sluice::mp;

int main() {
  sluice::channel<long> out(1);
  register_function("example::adder", [out](const message& args) {
    long base = args[0];
    rcv(self(), "add", [out, base](const message& rest) mutable { out.send(base + rest[0].get<long>()); });
  });
  port_id p = spawn(node_id(), "example::adder", {100});
  snd(p, {"add", 23});
  std::printf("%ld\n", *out.recv());  // 123
  kil(p);
}
