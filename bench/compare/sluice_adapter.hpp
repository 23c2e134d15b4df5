// sluice behind the comparison suite's adapter interface (see adapters.hpp), with the
// capacity kinds; kept apart from the peers so that a sluice-only binary (scale.cc) needs
// nothing but sluice.
#pragma once

#include <sluice/channel.hpp>

#include <cstdint>
#include <optional>

namespace compare {

// Capacity kinds, as in crossbeam-channel's benchmark suite.
enum class cap { zero, one, big, unbounded };
inline const char* cap_name(cap c) {
  switch (c) {
    case cap::zero: return "cap0";
    case cap::one: return "cap1";
    case cap::big: return "capN";
    case cap::unbounded: return "unbounded";
  }
  return "?";
}

struct sluice_adapter {
  static constexpr const char* name = "sluice";
  static constexpr const char* note = "";
  using chan = sluice::channel<std::uint64_t>;
  static std::optional<chan> make(cap c, std::size_t n) {
    switch (c) {
      case cap::zero: return chan();
      case cap::one: return chan(1);
      case cap::big: return chan(n);
      case cap::unbounded: return chan(sluice::unbounded);
    }
    return std::nullopt;
  }
  static void send(chan& c, std::uint64_t v) { c.send(v); }
  static std::uint64_t recv(chan& c) { return *c.recv(); }
};

}  // namespace compare
