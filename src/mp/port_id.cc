// Port and node ids.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <cstdio>
#include <random>

#include "runtime.hpp"

namespace sluice::mp {

port_id port_id::parse(std::string_view s) {
  auto hash = s.find('#');
  if (hash == std::string_view::npos || hash == 0 || hash + 1 == s.size()) {
    throw std::invalid_argument("sluice::mp::port_id: expected \"NODE#NAME\", got \"" + std::string(s) + "\"");
  }
  return port_id(std::string(s.substr(0, hash)), std::string(s.substr(hash + 1)));
}

void to_json(message& j, const port_id& p) { j = p.str(); }

void from_json(const message& j, port_id& p) {
  if (!j.is_string()) throw std::invalid_argument("sluice::mp::port_id: a port id in a message is a string");
  p = port_id::parse(j.get_ref<const std::string&>());
}

std::string node_id() { return detail::this_node(); }

namespace {

// "n<8 hex digits of randomness>.<pid>": unique per process start, short enough for the
// small-string buffer, and free of '#'.
std::string random_node_id() {
  std::random_device rd;
  auto mix = static_cast<std::uint32_t>(rd()) ^
             static_cast<std::uint32_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  char buf[32];
  std::snprintf(buf, sizeof buf, "n%08x.%d", mix, static_cast<int>(getpid()));
  return std::string(buf);
}

std::mutex node_id_m;                          // guards choosing the id
std::atomic<const std::string*> node_id_p{nullptr};  // never destroyed (threads may outlive statics)

}  // namespace

const std::string& detail::this_node() {
  if (const std::string* id = node_id_p.load(std::memory_order_acquire)) return *id;  // pairs with the store below
  std::lock_guard<std::mutex> g(node_id_m);
  if (!node_id_p.load(std::memory_order_relaxed)) {  // under the lock: only this thread stores
    node_id_p.store(new std::string(random_node_id()), std::memory_order_release);  // pairs with the load above
  }
  return *node_id_p.load(std::memory_order_relaxed);  // stored by this thread or seen under the lock
}

bool detail::set_node_id(const std::string& id) {
  std::lock_guard<std::mutex> g(node_id_m);
  if (node_id_p.load(std::memory_order_relaxed)) return false;  // under the lock: fixed already
  node_id_p.store(new std::string(id), std::memory_order_release);  // pairs with this_node's load
  return true;
}

port_killed::port_killed(message reason)
    : std::runtime_error("sluice::mp: port killed: " + reason.dump()), reason_(std::move(reason)) {}

}  // namespace sluice::mp
