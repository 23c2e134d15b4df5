// sluice/internal/dispose.hpp - emptying a JSON tree before it is destroyed or replaced.
//
// nlohmann's destructor moves the elements of every non-empty array or object it destroys
// into a vector it allocates (its guard against deep recursion); emptied bottom-up first, a
// tree costs no such allocation. The port layer does it to each message once its handler
// has returned, node::send after encoding, and the AEMP decoder before it decodes over a
// container (aemp::decode_rest into a reused value).
//
// Invariants:
//   - Recursion is bounded by `depth`; below it, nlohmann's destructor does the rest (its
//     own way, with its allocation), so no tree can overflow the stack here.
//   - Afterwards `m` is an empty array or object (or the scalar it was): it can be assigned
//     over or destroyed without the destructor's allocation.
#pragma once

#include <nlohmann/json.hpp>

namespace sluice::internal {

inline void dispose(nlohmann::json& m, int depth = 8) noexcept {
  if (m.is_array()) {
    auto& a = *m.get_ptr<nlohmann::json::array_t*>();
    if (depth > 0) {
      for (auto& x : a) {
        if (x.is_structured()) dispose(x, depth - 1);
      }
    }
    a.clear();
  } else if (m.is_object()) {
    auto& o = *m.get_ptr<nlohmann::json::object_t*>();
    if (depth > 0) {
      for (auto& kv : o) {
        if (kv.second.is_structured()) dispose(kv.second, depth - 1);
      }
    }
    o.clear();
  }
}

}  // namespace sluice::internal
