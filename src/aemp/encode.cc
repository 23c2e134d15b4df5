// AEMP's encoders: a message tree to JSON text or CBOR, appended to a std::string.
//
// Written here rather than through nlohmann's to_cbor/dump because those build an output
// adapter per call (a make_shared: one malloc and two atomic RMWs) and, for dump, a serializer
// with a 512-byte buffer and a locale query; encode_prefixed called them once per element, and
// they were ~10% of a sending node's profile (perf, ["tag", i] at 1.5 M msg/s).
//
// Invariants:
//   - The bytes are nlohmann's, byte for byte: CBOR integers and lengths in their shortest
//     form (RFC 8949, 3), strings as text strings (major type 3), maps in key order; JSON
//     compact, with nlohmann's escapes (\b \t \n \f \r \" \\, other bytes below 0x20 as
//     \u00xx in lower-case hex) and UTF-8 copied as it is. tests/aemp_codec_test.cc compares
//     the two on a corpus of trees.
//   - What is rare or subtle goes to nlohmann per value: floating-point numbers (its compact
//     float and shortest round-trip text), binary values (subtypes), strings that are not
//     valid UTF-8 (its U+FFFD replacement).
//   - One CBOR writer (cbor_write) with two outputs: a message that fits 256 bytes, nested
//     at most 8 deep, without floats or binary values, goes into a buffer on the stack and
//     is appended whole (small_out); any other is appended as it is written (string_out).
//     The bytes are the same either way.
//   - Recursion follows the tree's depth, as nlohmann's own writers do; a tree is built by
//     the program (decoded trees are bounded by limits::max_depth).
#include "sluice/internal/aemp/framing.hpp"

#include <charconv>
#include <cstring>
#include <limits>

namespace sluice::mp::aemp {
namespace {

using json = nlohmann::json;

// A CBOR head: major type `major` (0-7) with argument n, in its shortest form (RFC 8949, 3),
// into b (9 bytes at most); its length.
std::size_t cbor_head_bytes(unsigned major, std::uint64_t n, char* b) {
  const auto m = static_cast<unsigned char>(major << 5);
  if (n < 24) {
    b[0] = static_cast<char>(m | n);
    return 1;
  }
  const int bytes = n <= 0xff ? 1 : n <= 0xffff ? 2 : n <= 0xffffffff ? 4 : 8;
  const unsigned ai = bytes == 1 ? 24 : bytes == 2 ? 25 : bytes == 4 ? 26 : 27;
  b[0] = static_cast<char>(m | ai);
  for (int i = 0; i < bytes; ++i) b[1 + i] = static_cast<char>((n >> (8 * (bytes - 1 - i))) & 0xff);
  return 1 + static_cast<std::size_t>(bytes);
}

// The two outputs of cbor_write. Each takes a byte, a head, a text string, and `other`: a
// value that cbor_write does not write itself (floats, binary values, discarded values, and
// anything deeper than the output's max_depth); ok() is false once the output gave up.

// The general way: appended to the outbox, with nlohmann's bytes for `other`.
struct string_out {
  static constexpr int max_depth = std::numeric_limits<int>::max();  // the tree's own depth
  std::string& s;
  bool ok() const { return true; }
  void byte(unsigned char c) { s.push_back(static_cast<char>(c)); }
  void head(unsigned major, std::uint64_t n) {
    char b[9];
    s.append(b, cbor_head_bytes(major, n, b));
  }
  void string(std::string_view v) {
    head(3, v.size());
    s.append(v);
  }
  void other(const json& v) { json::to_cbor(v, s); }
};

// A small message, written with plain stores into a buffer on the stack and appended to the
// outbox in one call (each std::string::append of a head or a short string is a call and a
// capacity check: ~12% of a sending node's time for ["tag", i], perf). It gives up on what
// does not fit and on `other`; the caller then writes the message the general way.
class small_out {
 public:
  static constexpr int max_depth = 8;
  bool ok() const { return ok_; }
  std::string_view bytes() const { return {b_, n_}; }
  void byte(unsigned char c) {
    if (n_ == sizeof b_) return fail();
    b_[n_++] = static_cast<char>(c);
  }
  void head(unsigned major, std::uint64_t n) {
    if (sizeof b_ - n_ < 9) return fail();
    n_ += cbor_head_bytes(major, n, b_ + n_);
  }
  void string(std::string_view s) {
    head(3, s.size());
    if (!ok_ || s.size() > sizeof b_ - n_) return fail();
    std::memcpy(b_ + n_, s.data(), s.size());
    n_ += s.size();
  }
  void other(const json&) { fail(); }

 private:
  void fail() { ok_ = false; }
  char b_[256];
  std::size_t n_ = 0;
  bool ok_ = true;
};

// v's CBOR into out, at most `depth` containers deep (deeper ones go to out.other). Stops
// early once out gave up: the rest would be written the general way anyway.
template <class Out>
void cbor_write(const json& v, Out& out, int depth) {
  switch (v.type()) {
    case json::value_t::null: return out.byte(0xf6);
    case json::value_t::boolean: return out.byte(v.get<bool>() ? 0xf5 : 0xf4);
    case json::value_t::number_unsigned: return out.head(0, v.get<std::uint64_t>());
    case json::value_t::number_integer: {
      const std::int64_t n = v.get<std::int64_t>();
      if (n >= 0) return out.head(0, static_cast<std::uint64_t>(n));
      return out.head(1, static_cast<std::uint64_t>(-(n + 1)));  // -1 - n, without overflow
    }
    case json::value_t::string: return out.string(v.get_ref<const std::string&>());
    case json::value_t::array:
      if (depth == 0) return out.other(v);
      out.head(4, v.size());
      for (const auto& x : v) {
        if (!out.ok()) return;
        cbor_write(x, out, depth - 1);
      }
      return;
    case json::value_t::object:
      if (depth == 0) return out.other(v);
      out.head(5, v.size());
      for (const auto& [k, x] : v.get_ref<const json::object_t&>()) {
        if (!out.ok()) return;
        out.string(k);
        cbor_write(x, out, depth - 1);
      }
      return;
    default: return out.other(v);  // floats, binary, discarded: nlohmann's forms
  }
}

// What write(output, depth) writes, into the stack buffer if it takes it, else the general way.
template <class Write>
void cbor_small_first(std::string& out, const Write& write) {
  small_out small;
  write(small, small_out::max_depth);
  if (small.ok()) {
    out.append(small.bytes());
    return;
  }
  string_out general{out};
  write(general, string_out::max_depth);
}

// nlohmann's serializer, for the values it handles best (see the Invariants).
void json_by_nlohmann(const json& v, std::string& out) {
  nlohmann::detail::serializer<json> s(nlohmann::detail::output_adapter<char>(out), ' ',
                                       json::error_handler_t::replace);
  s.dump(v, false, false, 0);
}

void json_string(const std::string& s, std::string& out) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (p[i] < 0x80) continue;
    if (!valid_utf8(std::string_view(s).substr(i))) return json_by_nlohmann(json(s), out);
    break;
  }
  static constexpr char hex[] = "0123456789abcdef";
  out.push_back('"');
  std::size_t run = 0;  // start of the bytes not yet copied
  for (std::size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = p[i];
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s, run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\b': out.append("\\b"); break;
      case '\t': out.append("\\t"); break;
      case '\n': out.append("\\n"); break;
      case '\f': out.append("\\f"); break;
      case '\r': out.append("\\r"); break;
      default: {
        const char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf]};
        out.append(u, 6);
      }
    }
  }
  out.append(s, run, s.size() - run);
  out.push_back('"');
}

template <class Int>
void json_integer(Int n, std::string& out) {
  char b[24];
  auto r = std::to_chars(b, b + sizeof b, n);
  out.append(b, static_cast<std::size_t>(r.ptr - b));
}

void json_value(const json& v, std::string& out) {
  switch (v.type()) {
    case json::value_t::null: out.append("null"); return;
    case json::value_t::boolean: out.append(v.get<bool>() ? "true" : "false"); return;
    case json::value_t::number_unsigned: return json_integer(v.get<std::uint64_t>(), out);
    case json::value_t::number_integer: return json_integer(v.get<std::int64_t>(), out);
    case json::value_t::string: return json_string(v.get_ref<const std::string&>(), out);
    case json::value_t::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& x : v) {
        if (!first) out.push_back(',');
        first = false;
        json_value(x, out);
      }
      out.push_back(']');
      return;
    }
    case json::value_t::object: {
      out.push_back('{');
      bool first = true;
      for (const auto& [k, x] : v.get_ref<const json::object_t&>()) {
        if (!first) out.push_back(',');
        first = false;
        json_string(k, out);
        out.push_back(':');
        json_value(x, out);
      }
      out.push_back('}');
      return;
    }
    default: return json_by_nlohmann(v, out);  // floats, binary, discarded
  }
}

}  // namespace

void encode(framing f, const nlohmann::json& message, std::string& out) {
  if (f == framing::json) return json_value(message, out);
  cbor_small_first(out, [&](auto& o, int depth) { cbor_write(message, o, depth); });
}

void encode_prefixed(framing f, const std::string& head, const nlohmann::json& args, std::string& out) {
  const bool many = args.is_array();
  if (f == framing::json) {
    out.push_back('[');
    json_string(head, out);
    if (many) {
      for (const auto& a : args) {
        out.push_back(',');
        json_value(a, out);
      }
    } else {
      out.push_back(',');
      json_value(args, out);
    }
    out.push_back(']');
    return;
  }
  cbor_small_first(out, [&](auto& o, int depth) {
    o.head(4, 1 + (many ? args.size() : 1));  // an array of definite length
    o.string(head);
    if (!many) return cbor_write(args, o, depth);
    for (const auto& a : args) {
      if (!o.ok()) return;
      cbor_write(a, o, depth);
    }
  });
}

}  // namespace sluice::mp::aemp
