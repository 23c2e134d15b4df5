// AEMP's data phase: JSON and CBOR message streams (see sluice/internal/aemp/framing.hpp for
// the Invariants). The CBOR scanner follows RFC 8949's encoding (major type in the top 3 bits,
// argument in the low 5; indefinite lengths closed by 0xff).
#include "sluice/internal/aemp/framing.hpp"

#include "sluice/internal/dispose.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <utility>

namespace sluice::mp::aemp {

bool valid_utf8(std::string_view text) {
  const auto* s = reinterpret_cast<const std::uint8_t*>(text.data());
  std::size_t i = 0, n = text.size();
  while (i < n) {
    std::uint8_t c = s[i];
    std::size_t len;
    std::uint32_t cp;
    if (c < 0x80) { ++i; continue; }
    if (c >= 0xc2 && c <= 0xdf) { len = 2; cp = c & 0x1fu; }
    else if (c >= 0xe0 && c <= 0xef) { len = 3; cp = c & 0x0fu; }
    else if (c >= 0xf0 && c <= 0xf4) { len = 4; cp = c & 0x07u; }
    else return false;
    if (i + len > n) return false;
    for (std::size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3fu);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff))) {
      return false;
    }
    i += len;
  }
  return true;
}

namespace {

// Decodes one CBOR item that cbor_item_length, or accepts() in decoder::defer_cbor's walk,
// has accepted (complete, well-formed, nested at most limits::max_depth deep, so the
// recursion is bounded; tags are skipped in a loop).
// nlohmann's own from_cbor is not used: it refuses the byte-string map keys Perl sends.
// item() decodes over whatever `out` holds (decode_rest's reused value): an array or a string
// there keeps its storage; any other container is emptied (internal::dispose) before it is
// replaced, so replacing it costs nlohmann's destructor no allocation.
class cbor_reader {
 public:
  explicit cbor_reader(std::string_view b) : p_(reinterpret_cast<const std::uint8_t*>(b.data())), n_(b.size()) {}
  // The scanner's bound on a definite array's or map's count (limits::max_message / 2), for
  // array_and_name and accepts.
  cbor_reader(std::string_view b, std::uint64_t max_count) : cbor_reader(b) { max_count_ = max_count; }

  bool item(nlohmann::json& out, std::string& why) {
    std::uint8_t ib;
    std::uint64_t arg;
    do {  // tags: skip to the tagged item
      if (!has(1)) return truncated(why);
      ib = p_[pos_];
      arg = head(ib);
      if (pos_ > n_) return truncated(why);
    } while ((ib >> 5) == 6);
    if (out.is_structured() && !((ib >> 5) == 4 && out.is_array())) internal::dispose(out);
    switch (ib >> 5) {
      case 0: out = arg; return true;
      case 1:
        if (arg > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
          out = -1.0 - static_cast<double>(arg);  // below int64's range: the nearest double
        } else {
          out = -1 - static_cast<std::int64_t>(arg);
        }
        return true;
      case 2:
      case 3: {
        std::string fresh;  // unless out is a string already (a reused message): read into it
        std::string& bytes = out.is_string() ? out.get_ref<std::string&>() : fresh;
        if (!string(ib, arg, bytes)) return truncated(why);
        if (valid_utf8(bytes)) {
          if (&bytes == &fresh) out = std::move(fresh);
        } else if ((ib >> 5) == 3) {
          why = "malformed CBOR: text string is not UTF-8";
          return false;
        } else {
          out = nlohmann::json::binary(std::vector<std::uint8_t>(bytes.begin(), bytes.end()));
        }
        return true;
      }
      case 4: {
        // An array already there (a caller's reused message, see decode_rest) keeps its
        // storage and its elements: each is decoded over, so a string element keeps its own.
        if (!out.is_array()) out = nlohmann::json::array();
        auto& a = out.get_ref<nlohmann::json::array_t&>();
        // A definite count is at most the bytes left (the scanner checked it): one allocation
        // instead of the vector's doublings (1, 2, 4 for a 3-element message).
        if ((ib & 31) != 31) a.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(arg, n_ - pos_)));
        std::size_t i = 0;
        for (; more(ib, arg, i); ++i) {
          if (!has(1)) return truncated(why);
          if (i == a.size()) a.emplace_back();
          if (!item(a[i], why)) return false;
        }
        a.erase(a.begin() + static_cast<std::ptrdiff_t>(i), a.end());
        return true;
      }
      case 5: {
        out = nlohmann::json::object();
        for (std::uint64_t i = 0; more(ib, arg, i); ++i) {
          if (!has(1)) return truncated(why);
          nlohmann::json k, v;
          if (!item(k, why)) return false;
          if (!k.is_string()) {
            why = "malformed CBOR: a map key that is not a string";
            return false;
          }
          if (!item(v, why)) return false;
          out[k.get_ref<const std::string&>()] = std::move(v);
        }
        return true;
      }
      default: return simple(ib, arg, out, why);
    }
  }

  // Whether item() accepts the next item, walked without building it; false also where this
  // check is not sure (indefinite strings, containers nested deeper than `depth_left`), never
  // true where item() would fail, nor where cbor_item_length would (a reserved additional
  // information, an indefinite length on a type without one, a count above max_count_), so
  // that a walk that accepts a whole message also scanned it (decoder::defer_cbor). A map key
  // (`key`) must decode to a string.
  bool accepts(std::size_t depth_left, bool key = false) {
    std::uint8_t ib;
    std::uint64_t arg;
    do {
      if (!has(1)) return false;
      ib = p_[pos_];
      const int ai = ib & 31, m = ib >> 5;
      if ((ai >= 28 && ai <= 30) || (ai == 31 && (m < 2 || m == 6))) return false;
      arg = head(ib);
      if (pos_ > n_) return false;
    } while ((ib >> 5) == 6);
    const int major = ib >> 5;
    if (key && major != 2 && major != 3) return false;
    switch (major) {
      case 0:
      case 1: return true;
      case 2:
      case 3: {
        if ((ib & 31) == 31 || !has(arg)) return false;
        std::string_view s(reinterpret_cast<const char*>(p_ + pos_), static_cast<std::size_t>(arg));
        pos_ += static_cast<std::size_t>(arg);
        return (major == 2 && !key) || valid_utf8(s);  // binary is fine, except as a key
      }
      case 4:
      case 5:
        if (depth_left == 0 || ((ib & 31) != 31 && arg > max_count_)) return false;
        for (std::uint64_t i = 0; more(ib, arg, i); ++i) {
          if (!has(1)) return false;
          if (major == 5 && !accepts(depth_left - 1, true)) return false;
          if (!accepts(depth_left - 1)) return false;
        }
        return true;
      default: {
        const int ai = ib & 31;
        return (ai >= 20 && ai <= 23) || (ai >= 25 && ai <= 27);  // what simple() takes
      }
    }
  }

  // A deferred message's parts: at a definite array head whose first element is a definite,
  // non-empty, UTF-8 string. Reads the head and the name; false if the message is not so.
  bool array_and_name(std::uint64_t& count, bool& open_ended, std::string_view& name) {
    if (!has(1) || (p_[pos_] >> 5) != 4) return false;
    const std::uint8_t ib = p_[pos_];
    if ((ib & 31) >= 28 && (ib & 31) <= 30) return false;  // reserved
    count = head(ib);
    open_ended = (ib & 31) == 31;
    if (!open_ended && count > max_count_) return false;
    if (pos_ > n_ || (!open_ended && count == 0) || !has(1)) return false;
    const std::uint8_t nb = p_[pos_];
    if ((nb >> 5) != 2 && (nb >> 5) != 3) return false;
    if ((nb & 31) == 31) return false;
    const std::uint64_t len = head(nb);
    if (pos_ > n_ || len == 0 || !has(len)) return false;
    name = std::string_view(reinterpret_cast<const char*>(p_ + pos_), static_cast<std::size_t>(len));
    pos_ += static_cast<std::size_t>(len);
    return valid_utf8(name);
  }
  std::size_t pos() const { return pos_; }

 private:
  bool has(std::uint64_t k) const { return pos_ <= n_ && k <= n_ - pos_; }
  static bool truncated(std::string& why) {
    why = "malformed CBOR";
    return false;
  }
  // Reads a head at pos_; returns its argument. Past the end (which the scanner rules out)
  // it leaves pos_ beyond n_ for the caller to see.
  std::uint64_t head(std::uint8_t ib) {
    ++pos_;
    const int ai = ib & 31;
    if (ai < 24) return static_cast<std::uint64_t>(ai);
    if (ai >= 28) return indefinite_arg;
    std::size_t w = std::size_t{1} << (ai - 24);
    if (!has(w)) {
      pos_ = n_ + 1;
      return 0;
    }
    std::uint64_t v = 0;
    for (std::size_t k = 0; k < w; ++k) v = (v << 8) | p_[pos_++];
    return v;
  }
  // Whether a container with head `ib`, argument `arg` has an i-th entry (consumes a break).
  bool more(std::uint8_t ib, std::uint64_t arg, std::uint64_t i) {
    if ((ib & 31) != 31) return i < arg;
    if (has(1) && p_[pos_] == 0xff) {
      ++pos_;
      return false;
    }
    return true;
  }
  bool string(std::uint8_t ib, std::uint64_t arg, std::string& s) {
    if ((ib & 31) != 31) {
      if (!has(arg)) return false;
      s.assign(reinterpret_cast<const char*>(p_ + pos_), static_cast<std::size_t>(arg));
      pos_ += static_cast<std::size_t>(arg);
      return true;
    }
    s.clear();
    for (;;) {  // definite chunks of the same type (checked by the scanner), then the break
      if (!has(1)) return false;
      if (p_[pos_] == 0xff) break;
      std::uint64_t len = head(p_[pos_]);
      if (!has(len)) return false;
      s.append(reinterpret_cast<const char*>(p_ + pos_), static_cast<std::size_t>(len));
      pos_ += static_cast<std::size_t>(len);
    }
    ++pos_;
    return true;
  }
  bool simple(std::uint8_t ib, std::uint64_t arg, nlohmann::json& out, std::string& why) {
    switch (ib & 31) {
      case 20: out = false; return true;
      case 21: out = true; return true;
      case 22:
      case 23: out = nullptr; return true;  // null, undefined
      case 25: out = half(static_cast<std::uint16_t>(arg)); return true;
      case 26: {
        std::uint32_t b = static_cast<std::uint32_t>(arg);
        float f;
        std::memcpy(&f, &b, sizeof f);
        out = static_cast<double>(f);
        return true;
      }
      case 27: {
        double d;
        std::memcpy(&d, &arg, sizeof d);
        out = d;
        return true;
      }
      default: why = "malformed CBOR: unknown simple value"; return false;
    }
  }
  static double half(std::uint16_t h) {  // RFC 8949, appendix D
    int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    double v = e == 0 ? std::ldexp(m, -24) : e != 31 ? std::ldexp(m + 1024, e - 25)
                                                     : (m == 0 ? std::numeric_limits<double>::infinity()
                                                               : std::numeric_limits<double>::quiet_NaN());
    return (h & 0x8000) ? -v : v;
  }

  static constexpr std::uint64_t indefinite_arg = std::numeric_limits<std::uint64_t>::max();
  const std::uint8_t* p_;
  std::size_t n_;  // the reader never reads past it, even if the scanner were wrong
  std::uint64_t max_count_ = std::numeric_limits<std::uint64_t>::max();
  std::size_t pos_ = 0;
};

constexpr std::uint64_t indefinite = std::numeric_limits<std::uint64_t>::max();

}  // namespace

std::optional<framing> framing_of(std::string_view name) {
  if (name == "json") return framing::json;
  if (name == "cbor") return framing::cbor;
  return std::nullopt;
}

const char* name_of(framing f) { return f == framing::json ? "json" : "cbor"; }

std::ptrdiff_t cbor_item_length(std::string_view bytes, const limits& l, std::string& why) {
  cbor_scan fresh;
  return cbor_item_length(bytes, l, why, fresh);
}

std::ptrdiff_t cbor_item_length(std::string_view bytes, const limits& l, std::string& why, cbor_scan& at) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(bytes.data());
  const std::size_t n = bytes.size();
  std::size_t pos = at.pos;
  std::vector<cbor_scan::frame>& stack = at.stack;
  auto fail = [&](const char* reason) {
    why = reason;
    at = cbor_scan{};
    return std::ptrdiff_t{-1};
  };
  auto incomplete = [&] {  // pos is always at the start of a head here: resume from it
    at.pos = pos;
    return std::ptrdiff_t{0};
  };
  for (;;) {
    if (pos > l.max_message) return fail("message too large");
    if (pos >= n) return incomplete();
    // Step 1: the head: major type, argument (immediate, 1, 2, 4 or 8 bytes, or indefinite).
    const std::uint8_t ib = p[pos];
    const int major = ib >> 5, ai = ib & 31;
    std::uint64_t arg = 0;
    bool open_ended = false;  // indefinite length (ai 31): never inferred from arg's value
    std::size_t head = 1;
    if (ai < 24) {
      arg = static_cast<std::uint64_t>(ai);
    } else if (ai <= 27) {
      std::size_t w = std::size_t{1} << (ai - 24);
      if (pos + 1 + w > n) return incomplete();
      for (std::size_t k = 0; k < w; ++k) arg = (arg << 8) | p[pos + 1 + k];
      head += w;
    } else if (ai < 31) {
      return fail("malformed CBOR: reserved additional information");
    } else {
      open_ended = true;
    }
    // Step 2: inside an indefinite string only definite chunks of its type, or the break.
    const bool is_break = ib == 0xff;
    if (!stack.empty() && stack.back().chunks_of >= 0 && !is_break &&
        (major != stack.back().chunks_of || open_ended)) {
      return fail("malformed CBOR: bad chunk in an indefinite string");
    }
    // Step 3: what the head opens or completes.
    bool done = false;  // a whole item ended at pos (after this head and its payload)
    if (is_break) {
      if (stack.empty() || stack.back().left != indefinite) return fail("malformed CBOR: unexpected break");
      pos += 1;
      stack.pop_back();
      done = true;
    } else if (open_ended && (major < 2 || major == 6 || major == 7)) {
      return fail("malformed CBOR: indefinite length on a type without one");
    } else if (major <= 1 || major == 7) {
      pos += head;
      done = true;
    } else if (major == 6) {
      pos += head;  // a tag: its item follows
    } else if (major <= 3) {
      if (open_ended) {
        stack.push_back({indefinite, major});
        pos += head;
      } else {
        if (arg > l.max_message) return fail("CBOR string longer than a message may be");
        if (pos + head + arg > n) return incomplete();
        pos += head + static_cast<std::size_t>(arg);
        done = true;
      }
    } else {  // 4: array, 5: map
      std::uint64_t items = open_ended ? indefinite : arg;
      if (!open_ended) {
        if (arg > l.max_message / 2) return fail("CBOR container larger than a message may be");
        if (major == 5) items = 2 * arg;
      }
      pos += head;
      if (items == 0) {
        done = true;
      } else {
        stack.push_back({items, -1});
        if (stack.size() > l.max_depth) return fail("message nested too deeply");
      }
    }
    // Step 4: an item that ended completes its parents' counts.
    while (done && !stack.empty()) {
      cbor_scan::frame& top = stack.back();
      if (top.left == indefinite) break;
      if (--top.left != 0) break;
      stack.pop_back();
    }
    if (done && stack.empty()) {
      if (pos > l.max_message) return fail("message too large");
      at = cbor_scan{};
      return static_cast<std::ptrdiff_t>(pos);
    }
  }
}

std::ptrdiff_t decoder::scan_json(std::string& why) {
  const char* p = buf_.data() + pos_;
  const std::size_t n = buf_.size() - pos_;
  json_scan& st = json_;
  for (; st.i < n; ++st.i) {
    if (st.i >= l_.max_message) {
      why = "message too large";
      return -1;
    }
    const char c = p[st.i];
    if (st.in_string) {
      if (st.escape) st.escape = false;
      else if (c == '\\') st.escape = true;
      else if (c == '"') st.in_string = false;
      continue;
    }
    if (st.depth == 0 && c != '[') {
      why = "message is not a JSON array";
      return -1;
    }
    if (c == '"') {
      st.in_string = true;
    } else if (c == '[' || c == '{') {
      if (++st.depth > l_.max_depth) {
        why = "message nested too deeply";
        return -1;
      }
    } else if (c == ']' || c == '}') {
      if (--st.depth == 0) {
        std::size_t len = st.i + 1;
        st = json_scan{};
        return static_cast<std::ptrdiff_t>(len);
      }
    }
  }
  return 0;
}

std::ptrdiff_t decoder::scan(std::string& why) {
  return f_ == framing::json ? scan_json(why)
                             : cbor_item_length(std::string_view(buf_).substr(pos_), l_, why, cbor_);
}

bool decoder::decode_one(std::string_view text, nlohmann::json& j, std::string& why) const {
  if (f_ == framing::json) {
    j = json_parse(text);
  } else {
    if (!cbor_reader(text).item(j, why)) return false;
  }
  if (j.is_discarded()) {
    why = "malformed JSON";
    return false;
  }
  if (!j.is_array()) {
    why = "message is not an array";
    return false;
  }
  return true;
}

namespace {

void cbor_array_head(std::uint64_t n, std::string& out) {
  if (n < 24) {
    out.push_back(static_cast<char>(0x80 | n));
    return;
  }
  int w = n < 0x100 ? 1 : n < 0x10000 ? 2 : n < 0x100000000 ? 4 : 8;
  out.push_back(static_cast<char>(0x80 | (w == 1 ? 24 : w == 2 ? 25 : w == 4 ? 26 : 27)));
  for (int k = w - 1; k >= 0; --k) out.push_back(static_cast<char>((n >> (8 * k)) & 0xff));
}

// A JSON message that starts ["name", or ["name"] with a name of plain characters (no
// escape): the name, and where the rest starts (after the comma, or at the closing bracket).
bool json_array_and_name(std::string_view t, std::string_view& name, std::size_t& rest) {
  auto ws = [&](std::size_t i) {
    while (i < t.size() && (t[i] == ' ' || t[i] == '\t' || t[i] == '\r' || t[i] == '\n')) ++i;
    return i;
  };
  std::size_t i = ws(0);
  if (i >= t.size() || t[i] != '[') return false;
  i = ws(i + 1);
  if (i >= t.size() || t[i] != '"') return false;
  const std::size_t start = ++i;
  while (i < t.size() && t[i] != '"') {
    if (t[i] == '\\' || static_cast<unsigned char>(t[i]) < 0x20) return false;
    ++i;
  }
  if (i >= t.size() || i == start) return false;
  name = t.substr(start, i - start);
  i = ws(i + 1);
  if (i >= t.size()) return false;
  if (t[i] == ']') {
    rest = i;
    return true;
  }
  if (t[i] != ',') return false;
  rest = i + 1;
  return true;
}

}  // namespace

bool decoder::defer_one(std::string_view text, incoming& out) const {
  if (f_ == framing::cbor) return defer_cbor(text, out) == static_cast<std::ptrdiff_t>(text.size());
  std::string_view name;
  std::size_t rest;
  if (!json_array_and_name(text, name, rest) || !json_check_fast(text)) return false;  // else: eager
  out.rest.assign(1, '[');
  out.rest.append(text.substr(rest));
  out.deferred = true;
  out.port.assign(name);
  return true;
}

// One walk of a CBOR message at the start of `bytes`: [name, arg...] with the arguments
// accepted (cbor_reader::accepts) and nested at most max_depth deep, complete within the
// bytes and within max_message. Such a message goes into `out`, deferred; the result is its
// length, or 0 where the walk is not sure (incomplete, another shape, an indefinite string,
// too deep or too long), with `out` untouched. What it accepts, cbor_item_length accepts
// with the same length (accepts() refuses every head the scanner refuses), so the scan can
// be skipped (feed).
std::ptrdiff_t decoder::defer_cbor(std::string_view bytes, incoming& out) const {
  if (l_.max_depth == 0) return 0;
  cbor_reader r(bytes.substr(0, std::min(bytes.size(), l_.max_message)), l_.max_message / 2);
  std::uint64_t count;
  bool open_ended;
  std::string_view name;
  if (!r.array_and_name(count, open_ended, name)) return 0;
  const std::size_t after_name = r.pos();
  auto at_break = [&] { return r.pos() < bytes.size() && static_cast<std::uint8_t>(bytes[r.pos()]) == 0xff; };
  for (std::uint64_t i = 1; open_ended ? !at_break() : i < count; ++i) {
    if (!r.accepts(l_.max_depth - 1)) return 0;
  }
  std::size_t end = r.pos();
  if (open_ended) {
    if (!at_break() || end + 1 > l_.max_message) return 0;
    ++end;
  }
  out.rest.clear();
  if (open_ended) {
    out.rest.push_back(static_cast<char>(0x9f));
  } else {
    cbor_array_head(count - 1, out.rest);
  }
  out.rest.append(bytes.substr(after_name, end - after_name));
  out.deferred = true;
  out.port.assign(name);
  return static_cast<std::ptrdiff_t>(end);
}

nlohmann::json decode_rest(framing f, std::string_view rest) {
  nlohmann::json j;
  decode_rest(f, rest, j);
  return j;
}

void decode_rest(framing f, std::string_view rest, nlohmann::json& j) {
  std::string why;
  bool whole = true;
  if (f == framing::json) {
    internal::dispose(j);  // nlohmann's parser builds a new tree: the old one goes without an allocation
    j = json_parse(rest);
  } else {
    cbor_reader r(rest);
    whole = r.item(j, why) && r.pos() == rest.size();
  }
  if (!whole || !j.is_array()) {  // defer_cbor or defer_one checked these bytes: a broken invariant, not bad input
    std::fprintf(stderr, "sluice: a deferred AEMP message did not decode\n");
    std::abort();
  }
}

template <class Quick, class Out>
bool decoder::feed_with(std::string_view bytes, std::string& why, Quick&& quick, Out&& take) {
  if (!failed_.empty()) {
    why = failed_;
    return false;
  }
  buf_.append(bytes);
  for (;;) {
    // Whitespace between JSON texts is allowed.
    if (f_ == framing::json) {
      while (pos_ < buf_.size() && std::strchr(" \t\r\n", buf_[pos_]) != nullptr && buf_[pos_] != '\0') ++pos_;
    }
    if (pos_ == buf_.size()) break;
    if (quick(std::string_view(buf_).substr(pos_))) continue;  // it moved pos_ past a message
    std::ptrdiff_t len = scan(why);
    if (len < 0) {
      failed_ = why;
      return false;
    }
    if (len == 0) break;
    // Past the message before it is handed on, as quick() does: a take() that throws has
    // had the message (the view stays valid: buf_ changes only after the loop).
    const std::string_view text = std::string_view(buf_).substr(pos_, static_cast<std::size_t>(len));
    pos_ += static_cast<std::size_t>(len);
    if (!take(text)) {
      failed_ = why;
      return false;
    }
  }
  // Keep the buffer from growing: drop what was consumed once it is most of it.
  if (pos_ > 0 && pos_ * 2 >= buf_.size()) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  return true;
}

bool decoder::feed(std::string_view bytes, std::vector<nlohmann::json>& out, std::string& why) {
  return feed_with(bytes, why, [](std::string_view) { return false; }, [&](std::string_view text) {
    nlohmann::json j;
    if (!decode_one(text, j, why)) return false;
    out.push_back(std::move(j));
    return true;
  });
}

bool decoder::feed(std::string_view bytes, std::vector<incoming>& out, std::string& why) {
  return feed(bytes, why, [&](incoming& in) { out.push_back(std::move(in)); });
}

bool decoder::feed(std::string_view bytes, std::string& why, const std::function<void(incoming&)>& take) {
  // CBOR's common case in one walk (defer_cbor), where no scan is under way; anything it is
  // not sure of goes the general way: the scanner, then defer_one or the eager decoder.
  // One `incoming` serves every message (its strings keep their storage).
  auto quick = [&](std::string_view avail) {
    if (f_ != framing::cbor || cbor_.pos != 0 || !cbor_.stack.empty()) return false;
    const std::ptrdiff_t len = defer_cbor(avail, scratch_);
    if (len == 0) return false;
    pos_ += static_cast<std::size_t>(len);
    take(scratch_);
    return true;
  };
  return feed_with(bytes, why, quick, [&](std::string_view text) {
    if (!defer_one(text, scratch_)) {
      scratch_.deferred = false;
      if (!decode_one(text, scratch_.msg, why)) return false;
    }
    take(scratch_);
    return true;
  });
}

}  // namespace sluice::mp::aemp
