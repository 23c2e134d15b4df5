// A sluice node for tests/aemp_cli_test.sh, configured from the rc file that `aemp` wrote.
//   aemp_test_node PROFILE [LIFETIME_S] [TARGET_PORT]
//   aemp_test_node --check PROFILE      configure only, print the node id, exit 0 (1: refused)
// Ports: NODE#echo answers [args without the reply port] to the last argument (so a cal gets
// its arguments back) and prints "GOT <json>"; NODE#victim dies with ["killed", args...] at
// its first message. db_set("aemptest", "sluice", 1). With TARGET_PORT it cals that port
// every 0.5 s until one reply ("REACHED <json>"). Prints "READY <nodeid>"; exits after
// LIFETIME_S (default 30) seconds.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "sluice/node.hpp"

namespace mp = sluice::mp;

namespace {

void say(const std::string& s) {
  std::printf("%s\n", s.c_str());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "--check") == 0) {
    mp::node_config cfg;
    cfg.profile = argv[2];
    try {
      mp::configure(cfg);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "configure refused: %s\n", e.what());
      return 1;
    }
    say("CONFIGURED " + mp::node_id());
    return 0;
  }
  if (argc < 2) {
    std::fprintf(stderr, "usage: aemp_test_node PROFILE [LIFETIME_S] [TARGET_PORT] | --check PROFILE\n");
    return 2;
  }
  mp::node_config cfg;
  cfg.profile = argv[1];
  int lifetime = argc > 2 ? std::atoi(argv[2]) : 30;
  mp::configure(cfg);
  mp::named_port("echo", [](const mp::message& m) {
    say("GOT " + m.dump());
    if (!m.empty() && m.back().is_string() && m.back().get<std::string>().find('#') != std::string::npos) {
      mp::message rest = m;
      rest.erase(rest.end() - 1);
      mp::snd(mp::port_id::parse(m.back().get<std::string>()), rest);
    }
  });
  mp::named_port("victim", [](const mp::message& m) {
    mp::message reason = mp::message::array({"killed"});
    for (const auto& x : m) reason.push_back(x);
    mp::kil(mp::self(), reason);
  });
  mp::db_set("aemptest", "sluice", 1);
  say("READY " + mp::node_id());
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(lifetime);
  if (argc > 3) {
    mp::port_id target = mp::port_id::parse(argv[3]);
    auto reached = std::make_shared<std::atomic<bool>>(false);
    while (!reached->load() && std::chrono::steady_clock::now() < end) {
      mp::cal(target, mp::message::array({"hello from sluice"}), [reached](std::optional<mp::message> r) {
        if (r && !reached->exchange(true)) say("REACHED " + r->dump());
      }, std::chrono::milliseconds(400));
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  }
  std::this_thread::sleep_until(end);
  return 0;
}
