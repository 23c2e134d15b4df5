#include "sluice/status.hpp"

namespace sluice {

const char* to_string(status s) noexcept {
  switch (s) {
    case status::ok: return "ok";
    case status::closed: return "closed";
    case status::timeout: return "timeout";
    case status::full: return "full";
    case status::empty: return "empty";
    case status::cancelled: return "cancelled";
  }
  return "unknown";
}

const char* bad_recv_access::what() const noexcept {
  switch (status_) {
    case status::closed: return "sluice::bad_recv_access: no value (channel closed)";
    case status::timeout: return "sluice::bad_recv_access: no value (timeout)";
    case status::empty: return "sluice::bad_recv_access: no value (empty)";
    case status::cancelled: return "sluice::bad_recv_access: no value (cancelled)";
    default: return "sluice::bad_recv_access: no value";
  }
}

}  // namespace sluice
