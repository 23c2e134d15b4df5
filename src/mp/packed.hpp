// A small message, packed for its trip to a port of this node (private header).
//
// snd to a scheduled port of this node packs a message that fits in packed_message::capacity
// bytes into the inbox task itself, and the worker that runs the port unpacks it over the
// message it unpacked before (run_packed: one message per worker thread, reused across
// turns and ports). Each side then allocates and frees on its own thread: the sender frees
// its argument in snd, the worker keeps reusing its message. Sent as a JSON tree, a message was allocated on one core and freed on the other,
// two allocations each way that miss the cache, and the local path's time followed the
// machine's cross-core latency (docs/decisions.md, "Ports: small messages travel packed").
//
// Format: one tag byte per value, then its payload:
//   null, false, true            nothing
//   int8 .. int64                1, 2, 4 or 8 bytes, host order (a number_integer)
//   uint8 .. uint64              likewise (a number_unsigned)
//   float                        8 bytes, the double's bits
//   string                       a length byte, then the bytes
//   array                        a count byte, then the elements
//   object                       a count byte, then per member a key (length byte, bytes)
//                                and its value, in the object's (sorted) order
//
// Invariants:
//   - pack writes the whole message and returns true, or returns false and changes nothing
//     the caller relies on (it then sends the message as a tree). Binary and discarded
//     values, and anything nested deeper than max_depth, are not packed.
//   - unpack(pack(m)) == m with the same value types: signed, unsigned and float numbers
//     stay what they were, so a handler cannot tell a packed message from a sent tree.
//   - unpack reads only bytes pack wrote (a packed_message is made by pack only), and
//     recursion on either side is bounded by max_depth.
#pragma once

#include <cstddef>
#include <cstdint>

#include <nlohmann/json.hpp>

namespace sluice::mp::detail {

struct packed_message {
  // No larger than the inbox's largest task (encoded_message): a packed task costs no
  // bigger slot.
  static constexpr std::size_t capacity = 47;
  static constexpr int max_depth = 8;
  std::uint8_t size = 0;
  unsigned char bytes[capacity];
};

// False when m does not fit or holds what the format does not take; out is then unspecified.
bool pack(const nlohmann::json& m, packed_message& out) noexcept;

// Writes the packed message over `out`, reusing its array and strings where the shapes match.
// Throws only what allocation throws.
void unpack(const packed_message& p, nlohmann::json& out);

}  // namespace sluice::mp::detail
