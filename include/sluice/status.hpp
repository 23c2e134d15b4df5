// sluice/status.hpp - the outcome of a channel operation.
//
// Provides: sluice::status, sluice::to_string(status), sluice::bad_recv_access.
// Thread-safety: plain values. Nothing here blocks.
#pragma once

#include <exception>
#include <ostream>

namespace sluice {

// ok      - the operation happened (a value was sent or received).
// closed  - the channel is closed (for a receive: closed and drained).
// timeout - a timed operation (or an alternation's otherwise) reached its deadline.
// full    - a non-blocking send found no room (or no waiting receiver on a rendezvous).
// empty   - a non-blocking receive found nothing (or no waiting sender on a rendezvous).
// cancelled - an awaited operation (<sluice/async.hpp>) was cancelled before it committed:
//           nothing was sent or received.
enum class status : unsigned char { ok, closed, timeout, full, empty, cancelled };

// "ok", "closed", "timeout", "full", "empty", "cancelled"; "unknown" for a value outside the enum.
const char* to_string(status s) noexcept;

inline std::ostream& operator<<(std::ostream& os, status s) { return os << to_string(s); }

// Thrown by recv_result<T>::value() (and operator*, operator->) when there is no value.
class bad_recv_access : public std::exception {
 public:
  explicit bad_recv_access(sluice::status s) noexcept : status_(s) {}
  const char* what() const noexcept override;
  sluice::status status() const noexcept { return status_; }

 private:
  sluice::status status_;
};

}  // namespace sluice
