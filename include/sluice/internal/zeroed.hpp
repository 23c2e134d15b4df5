// sluice/internal/zeroed.hpp - zero-filled memory for large buffers, touched only as used.
//
// A ring's fresh slots are all zero bytes (ring.hpp), so its memory need not be written when
// the channel is made: calloc gives pages the kernel fills on first touch. For large buffers
// the first touch is the cost (a page fault per 4 KiB, about 14 us each on the VMs we
// measure): those come from an anonymous mapping advised to use transparent huge pages, one
// fault per 2 MiB where the kernel allows it. Either way a channel costs memory as far as it
// is filled, as Go's `make(chan T, n)` does.
#pragma once

#include <cstddef>

namespace sluice::internal {

struct zeroed_block {
  void* data = nullptr;  // `bytes` zero bytes aligned to `align`
  void* base = nullptr;  // what to give back
  std::size_t len = 0;   // the mapping's length (mapped blocks)
  std::size_t align = 0;  // the alignment asked for
  int kind = 0;          // how it was obtained (zeroed.cc)
};

// Throws std::bad_alloc. `align` is a power of two.
zeroed_block zeroed_alloc(std::size_t bytes, std::size_t align);
void zeroed_free(const zeroed_block& b) noexcept;

// Owns one block.
class zeroed_memory {
 public:
  zeroed_memory(std::size_t bytes, std::size_t align) : b_(zeroed_alloc(bytes, align)) {}
  ~zeroed_memory() { zeroed_free(b_); }
  zeroed_memory(const zeroed_memory&) = delete;
  zeroed_memory& operator=(const zeroed_memory&) = delete;
  void* get() const noexcept { return b_.data; }

 private:
  zeroed_block b_;
};

}  // namespace sluice::internal
