// A JSON reader for the common shapes of AEMP messages, next to nlohmann's parser (see
// sluice/internal/aemp/framing.hpp, json_read_fast).
//
// Invariants:
//   - Sound, not complete: when it accepts a text, the value it builds is the one
//     nlohmann::json::parse builds, type for type (a non-negative integer is number_unsigned, a
//     negative one number_integer, a later duplicate key wins). Whatever it does not handle it
//     refuses, and the caller asks nlohmann: \u escapes, integers of more than 18 digits,
//     numbers out of a double's range, nesting deeper than max_depth, and every invalid text.
//   - Checked against nlohmann by tests/fuzz/aemp_framing_fuzz.cc, type for type.
//   - Recursion is bounded by max_depth; every read is bounded by the text's size.
//   - Building and checking are one walk (Build), so they cannot disagree.
#include "sluice/internal/aemp/framing.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

namespace sluice::mp::aemp {

namespace {

class json_reader {
 public:
  static constexpr int max_depth = 64;

  explicit json_reader(std::string_view t) : p_(t.data()), n_(t.size()) {}

  template <bool Build>
  bool document(nlohmann::json* out) {
    ws();
    if (!value<Build>(out, 0)) return false;
    ws();
    return i_ == n_;
  }

 private:
  void ws() {
    while (i_ < n_ && (p_[i_] == ' ' || p_[i_] == '\t' || p_[i_] == '\n' || p_[i_] == '\r')) ++i_;
  }
  bool word(const char* w, std::size_t k) {
    if (n_ - i_ < k || std::memcmp(p_ + i_, w, k) != 0) return false;
    i_ += k;
    return true;
  }

  template <bool Build>
  bool value(nlohmann::json* out, int depth) {
    if (i_ >= n_) return false;
    switch (p_[i_]) {
      case '"':
        if constexpr (Build) {
          std::string s;
          if (!string(&s)) return false;
          *out = std::move(s);
          return true;
        } else {
          return string(nullptr);
        }
      case '[': return array<Build>(out, depth);
      case '{': return object<Build>(out, depth);
      case 't':
        if (!word("true", 4)) return false;
        if constexpr (Build) *out = true;
        return true;
      case 'f':
        if (!word("false", 5)) return false;
        if constexpr (Build) *out = false;
        return true;
      case 'n':
        if (!word("null", 4)) return false;
        if constexpr (Build) *out = nullptr;
        return true;
      default: return number<Build>(out);
    }
  }

  template <bool Build>
  bool array(nlohmann::json* out, int depth) {
    if (depth >= max_depth) return false;
    ++i_;  // '['
    nlohmann::json::array_t* a = nullptr;
    if constexpr (Build) {
      *out = nlohmann::json::array();
      a = out->get_ptr<nlohmann::json::array_t*>();
      a->reserve(4);  // one allocation for most messages, not the doublings from 1
    }
    ws();
    if (i_ < n_ && p_[i_] == ']') {
      ++i_;
      return true;
    }
    for (;;) {
      ws();
      if constexpr (Build) {
        a->emplace_back();
        if (!value<Build>(&a->back(), depth + 1)) return false;
      } else {
        if (!value<Build>(nullptr, depth + 1)) return false;
      }
      const int k = after_element(']');
      if (k <= 0) return k == 0;
    }
  }

  template <bool Build>
  bool object(nlohmann::json* out, int depth) {
    if (depth >= max_depth) return false;
    ++i_;  // '{'
    if constexpr (Build) *out = nlohmann::json::object();
    ws();
    if (i_ < n_ && p_[i_] == '}') {
      ++i_;
      return true;
    }
    for (;;) {
      ws();
      if (i_ >= n_ || p_[i_] != '"') return false;
      std::string key;
      if (!string(Build ? &key : nullptr)) return false;
      ws();
      if (i_ >= n_ || p_[i_] != ':') return false;
      ++i_;
      ws();
      if constexpr (Build) {
        nlohmann::json v;
        if (!value<Build>(&v, depth + 1)) return false;
        (*out->get_ptr<nlohmann::json::object_t*>())[key] = std::move(v);  // a later duplicate wins, as in nlohmann
      } else {
        if (!value<Build>(nullptr, depth + 1)) return false;
      }
      const int k = after_element('}');
      if (k <= 0) return k == 0;
    }
  }

  // After an element: a comma (another follows: 1), the closing bracket (done: 0), else -1.
  int after_element(char close) {
    ws();
    if (i_ >= n_) return -1;
    if (p_[i_] == ',') {
      ++i_;
      return 1;
    }
    if (p_[i_] != close) return -1;
    ++i_;
    return 0;
  }

  // At '"': a string without \u escapes or control characters, valid UTF-8 (RFC 3629, as
  // nlohmann's lexer checks it); its value goes to s when given.
  bool string(std::string* s) {
    ++i_;  // '"'
    const std::size_t start = i_;
    bool escaped = false;
    for (;;) {
      if (i_ >= n_) return false;
      const auto c = static_cast<unsigned char>(p_[i_]);
      if (c == '"') break;
      if (c < 0x20) return false;
      if (c == '\\') {
        if (i_ + 1 >= n_ || std::strchr("\"\\/bfnrt", p_[i_ + 1]) == nullptr || p_[i_ + 1] == '\0') return false;
        escaped = true;
        i_ += 2;
        continue;
      }
      ++i_;
    }
    const std::string_view raw(p_ + start, i_ - start);
    ++i_;  // the closing '"'
    if (!valid_utf8(raw)) return false;  // escapes are ASCII: the raw bytes decide
    if (s == nullptr) return true;
    if (!escaped) {
      s->assign(raw);
      return true;
    }
    s->reserve(raw.size());
    for (std::size_t k = 0; k < raw.size(); ++k) {
      char c = raw[k];
      if (c == '\\') {
        switch (raw[++k]) {
          case 'b': c = '\b'; break;
          case 'f': c = '\f'; break;
          case 'n': c = '\n'; break;
          case 'r': c = '\r'; break;
          case 't': c = '\t'; break;
          default: c = raw[k]; break;  // " \ /
        }
      }
      s->push_back(c);
    }
    return true;
  }

  // An integer of at most 18 digits (no overflow possible), or a finite number with a fraction
  // or an exponent (correctly rounded, as glibc's strtod, which nlohmann calls, rounds);
  // anything else is refused.
  template <bool Build>
  bool number(nlohmann::json* out) {
    std::size_t j = i_;
    const bool negative = j < n_ && p_[j] == '-';
    if (negative) ++j;
    const std::size_t first = j;
    j = digits(j);
    const std::size_t whole = j - first;
    if (whole == 0 || (whole > 1 && p_[first] == '0')) return false;
    bool fraction = false;
    if (j < n_ && p_[j] == '.') {
      const std::size_t f = j + 1;
      j = digits(f);
      if (j == f) return false;
      fraction = true;
    }
    if (j < n_ && (p_[j] == 'e' || p_[j] == 'E')) {
      std::size_t e = j + 1;
      if (e < n_ && (p_[e] == '+' || p_[e] == '-')) ++e;
      j = digits(e);
      if (j == e) return false;
      fraction = true;
    }
    if (fraction) {
      double d = 0;
      auto r = std::from_chars(p_ + i_, p_ + j, d);
      if (r.ec != std::errc() || r.ptr != p_ + j || !std::isfinite(d)) return false;
      i_ = j;
      if constexpr (Build) *out = d;  // number_float
      return true;
    }
    if (whole > 18) return false;
    std::uint64_t v = 0;
    for (std::size_t k = first; k < j; ++k) v = v * 10 + static_cast<std::uint64_t>(p_[k] - '0');
    i_ = j;
    if constexpr (Build) {
      if (negative) {
        *out = -static_cast<std::int64_t>(v);  // number_integer, "-0" too
      } else {
        *out = v;  // number_unsigned
      }
    }
    return true;
  }
  std::size_t digits(std::size_t j) const {
    while (j < n_ && p_[j] >= '0' && p_[j] <= '9') ++j;
    return j;
  }

  const char* p_;
  std::size_t n_;
  std::size_t i_ = 0;
};

}  // namespace

bool json_read_fast(std::string_view text, nlohmann::json& out) { return json_reader(text).document<true>(&out); }

bool json_check_fast(std::string_view text) { return json_reader(text).document<false>(nullptr); }

nlohmann::json json_parse(std::string_view text) {
  nlohmann::json j;
  if (json_read_fast(text, j)) return j;
  return nlohmann::json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
}

}  // namespace sluice::mp::aemp
