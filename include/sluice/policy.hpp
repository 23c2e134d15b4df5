// sluice/policy.hpp - how a channel buffers: the `unbounded` tag and the overflow policy.
//
// Thread-safety: plain values. Nothing here blocks.
#pragma once

namespace sluice {

// Tag for channel<T>(sluice::unbounded): a buffer that grows by segments and never blocks a
// sender.
struct unbounded_t {
  explicit unbounded_t() = default;
};
inline constexpr unbounded_t unbounded{};

// What a send on a full bounded channel does.
//   block       - wait for room (the default).
//   drop_newest - return status::full at once; the value stays with the caller.
//   drop_oldest - evict the oldest buffered item (it is destroyed) and return status::ok.
enum class overflow : unsigned char { block, drop_newest, drop_oldest };

}  // namespace sluice
