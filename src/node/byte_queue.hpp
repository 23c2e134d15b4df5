// A connection's outgoing bytes, in blocks (private header of the node layer).
//
// One growing std::string was the outbox until a burst showed its cost: a sender that
// outruns the socket doubles the string again and again, copying everything queued and
// faulting in fresh pages each time (memmove and page faults were 40% of a sending node's
// profile, 3M JSON messages). Here a burst adds blocks; nothing queued is copied, and emptied
// blocks keep their storage for the next burst. The writer sends all blocks with one gather
// write.
//
// Invariants:
//   - Bytes leave in the order they were appended: blocks_ front to back, each from off_
//     (front block only) to its end.
//   - size() is the bytes queued: sealed_ (all blocks but the last, less off_ when the front
//     is one of them) plus the last block's size (less off_ when it is also the front).
//   - Memory: a block grows as a std::string does, up to about block_size; at most max_spare
//     emptied blocks are kept (a connection holds little more than its largest burst's last
//     blocks, not the burst).
//   - Not thread-safe: the connection guards its outbox with out_m_ and its in-flight queue
//     is the io thread's.
#pragma once

#include <boost/asio/buffer.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::mp::net {

class byte_queue {
 public:
  static constexpr std::size_t block_size = 64 * 1024;  // a block takes appends until it holds this much
  static constexpr std::size_t max_spare = 2;           // emptied blocks kept for reuse

  // The string to append to (a new block once the last one is full); size() counts what the
  // caller appends to it.
  std::string& tail() {
    if (blocks_.empty() || blocks_.back().size() >= block_size) {
      const std::size_t sealing = blocks_.empty() ? 0 : blocks_.back().size() - (blocks_.size() == 1 ? off_ : 0);
      blocks_.push_back(take_spare());  // may throw (bad_alloc): nothing counted yet
      sealed_ += sealing;
    }
    return blocks_.back();
  }

  // Drops what was appended to the last block beyond `size` (a failed encode's partial
  // message; `size` is that block's size before the append).
  void truncate_tail(std::size_t size) {
    if (!blocks_.empty() && blocks_.back().size() > size) blocks_.back().resize(size);
  }
  void append(std::string_view s) { tail().append(s); }

  std::size_t size() const { return blocks_.empty() ? 0 : sealed_ + blocks_.back().size() - (blocks_.size() == 1 ? off_ : 0); }
  bool empty() const { return size() == 0; }

  // The queued bytes as buffers for one gather write; valid until the queue changes.
  const std::vector<boost::asio::const_buffer>& buffers() {
    iov_.clear();
    for (std::size_t i = 0; i < blocks_.size(); ++i) {
      const std::size_t from = i == 0 ? off_ : 0;
      if (blocks_[i].size() > from) iov_.emplace_back(blocks_[i].data() + from, blocks_[i].size() - from);
    }
    return iov_;
  }

  // Drops the first n queued bytes (n <= size()).
  void consume(std::size_t n) {
    while (n > 0 && !blocks_.empty()) {
      std::string& b = blocks_.front();
      const std::size_t left = b.size() - off_;
      if (n < left) {
        off_ += n;
        if (blocks_.size() > 1) sealed_ -= n;
        return;
      }
      n -= left;
      if (blocks_.size() > 1) sealed_ -= left;
      off_ = 0;
      retire(std::move(b));
      blocks_.erase(blocks_.begin());
    }
    if (blocks_.size() <= 1) sealed_ = 0;
  }

  void clear() {
    for (auto& b : blocks_) retire(std::move(b));
    blocks_.clear();
    sealed_ = off_ = 0;
  }

  void swap(byte_queue& o) noexcept {
    blocks_.swap(o.blocks_);
    spare_.swap(o.spare_);
    std::swap(sealed_, o.sealed_);
    std::swap(off_, o.off_);
  }

 private:
  std::string take_spare() {
    if (spare_.empty()) return std::string();
    std::string s = std::move(spare_.back());
    spare_.pop_back();
    return s;
  }
  void retire(std::string&& b) {
    if (spare_.size() >= max_spare || b.capacity() > 4 * block_size) return;  // a huge message's block goes
    b.clear();
    spare_.push_back(std::move(b));
  }

  std::vector<std::string> blocks_;
  std::vector<std::string> spare_;
  std::vector<boost::asio::const_buffer> iov_;
  std::size_t sealed_ = 0;  // bytes in all blocks but the last (less off_ when the front is one of them)
  std::size_t off_ = 0;     // bytes of the front block already gone
};

}  // namespace sluice::mp::net
