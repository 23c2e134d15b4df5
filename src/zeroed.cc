// Zero-filled memory for large buffers (sluice/internal/zeroed.hpp).
#include "sluice/internal/zeroed.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

namespace sluice::internal {
namespace {

constexpr int by_calloc = 0, by_mapping = 1, by_aligned_new = 2;
constexpr std::size_t huge_page = std::size_t{2} << 20;  // x86-64's transparent huge page
constexpr std::size_t map_from = 2 * huge_page;          // smaller buffers: calloc
constexpr std::size_t page = 4096;

zeroed_block mapped(std::size_t bytes) {
  // Map one huge page more than asked, so the block can start on a huge-page boundary.
  if (bytes > SIZE_MAX - 2 * huge_page) throw std::bad_alloc();
  std::size_t len = (bytes + huge_page - 1) / huge_page * huge_page + huge_page;
  void* base = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) throw std::bad_alloc();
  auto at = (reinterpret_cast<std::uintptr_t>(base) + huge_page - 1) & ~std::uintptr_t(huge_page - 1);
  void* data = reinterpret_cast<void*>(at);
  (void)::madvise(data, len - (at - reinterpret_cast<std::uintptr_t>(base)), MADV_HUGEPAGE);  // advice only
  return zeroed_block{data, base, len, huge_page, by_mapping};
}

}  // namespace

zeroed_block zeroed_alloc(std::size_t bytes, std::size_t align) {
  if (bytes >= map_from && align <= page) return mapped(bytes);
  if (align > alignof(std::max_align_t)) {
    void* p = ::operator new(bytes, std::align_val_t(align));
    std::memset(p, 0, bytes);
    return zeroed_block{p, p, bytes, align, by_aligned_new};
  }
  void* p = std::calloc(bytes ? bytes : 1, 1);
  if (!p) throw std::bad_alloc();
  return zeroed_block{p, p, bytes, align, by_calloc};
}

void zeroed_free(const zeroed_block& b) noexcept {
  switch (b.kind) {
    case by_mapping:
      if (::munmap(b.base, b.len) != 0) {  // our own mapping: cannot fail
        std::fprintf(stderr, "sluice: munmap of a channel buffer failed: %s\n", std::strerror(errno));
        std::abort();
      }
      break;
    case by_aligned_new:
      ::operator delete(b.base, std::align_val_t(b.align));
      break;
    default:
      std::free(b.base);
  }
}

}  // namespace sluice::internal
