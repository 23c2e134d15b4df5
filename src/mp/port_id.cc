// Port and node ids.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <random>

#include "runtime.hpp"

namespace sluice::mp {

port_id port_id::parse(std::string_view s) {
  auto hash = s.rfind('#');
  if (hash == std::string_view::npos || hash == 0 || hash + 1 == s.size()) {
    throw std::invalid_argument("sluice::mp::port_id: expected \"NODE#ID\", got \"" + std::string(s) + "\"");
  }
  std::uint64_t id = 0;
  for (char c : s.substr(hash + 1)) {
    if (c < '0' || c > '9') throw std::invalid_argument("sluice::mp::port_id: bad id in \"" + std::string(s) + "\"");
    id = id * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return port_id(std::string(s.substr(0, hash)), id);
}

void to_json(message& j, const port_id& p) { j = p.str(); }

void from_json(const message& j, port_id& p) {
  if (!j.is_string()) throw std::invalid_argument("sluice::mp::port_id: a port id in a message is a string");
  p = port_id::parse(j.get_ref<const std::string&>());
}

std::string node_id() { return detail::this_node(); }

const std::string& detail::this_node() {
  // "n<8 hex digits of randomness>.<pid>": unique per process start, short enough for the
  // small-string buffer, and free of '#'. Never destroyed (threads may outlive statics).
  static const std::string* id = new std::string([] {
    std::random_device rd;
    auto mix = static_cast<std::uint32_t>(rd()) ^
               static_cast<std::uint32_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    char buf[32];
    std::snprintf(buf, sizeof buf, "n%08x.%d", mix, static_cast<int>(getpid()));
    return std::string(buf);
  }());
  return *id;
}

port_killed::port_killed(message reason)
    : std::runtime_error("sluice::mp: port killed: " + reason.dump()), reason_(std::move(reason)) {}

}  // namespace sluice::mp
