// Packing small messages for a local port's inbox (see packed.hpp for the format and the
// invariants).
#include "packed.hpp"

#include <cstring>
#include <string>

#include "sluice/internal/dispose.hpp"

namespace sluice::mp::detail {
namespace {

using json = nlohmann::json;

enum tag : unsigned char {
  t_null,
  t_false,
  t_true,
  t_int8,
  t_int16,
  t_int32,
  t_int64,
  t_uint8,
  t_uint16,
  t_uint32,
  t_uint64,
  t_float,
  t_string,
  t_array,
  t_object,
};

// --- pack: a writer that gives up at the end of the buffer --------------------------------

class writer {
 public:
  explicit writer(packed_message& p) : begin_(p.bytes), at_(p.bytes), end_(p.bytes + packed_message::capacity) {}

  bool byte(unsigned char b) noexcept {
    if (at_ == end_) return false;
    *at_++ = b;
    return true;
  }
  bool raw(const void* src, std::size_t n) noexcept {
    if (n > static_cast<std::size_t>(end_ - at_)) return false;
    std::memcpy(at_, src, n);
    at_ += n;
    return true;
  }
  template <class T>
  bool number(unsigned char t, T v) noexcept {  // the tag and the number, one bounds check
    if (sizeof v + 1 > static_cast<std::size_t>(end_ - at_)) return false;
    *at_ = t;
    std::memcpy(at_ + 1, &v, sizeof v);
    at_ += 1 + sizeof v;
    return true;
  }
  bool counted(unsigned char t, std::size_t n) noexcept {  // a tag and a count or length byte
    if (n > packed_message::capacity || 2 > end_ - at_) return false;
    at_[0] = t;
    at_[1] = static_cast<unsigned char>(n);
    at_ += 2;
    return true;
  }
  bool text(const std::string& s) noexcept {  // a length byte, then the bytes
    return s.size() <= packed_message::capacity && byte(static_cast<unsigned char>(s.size())) &&
           raw(s.data(), s.size());
  }
  std::size_t size() const noexcept { return static_cast<std::size_t>(at_ - begin_); }

 private:
  unsigned char* begin_;
  unsigned char* at_;
  unsigned char* end_;
};

bool pack_integer(std::int64_t v, writer& w) noexcept {
  if (v >= INT8_MIN && v <= INT8_MAX) return w.number(t_int8, static_cast<std::int8_t>(v));
  if (v >= INT16_MIN && v <= INT16_MAX) return w.number(t_int16, static_cast<std::int16_t>(v));
  if (v >= INT32_MIN && v <= INT32_MAX) return w.number(t_int32, static_cast<std::int32_t>(v));
  return w.number(t_int64, v);
}

bool pack_unsigned(std::uint64_t v, writer& w) noexcept {
  if (v <= UINT8_MAX) return w.number(t_uint8, static_cast<std::uint8_t>(v));
  if (v <= UINT16_MAX) return w.number(t_uint16, static_cast<std::uint16_t>(v));
  if (v <= UINT32_MAX) return w.number(t_uint32, static_cast<std::uint32_t>(v));
  return w.number(t_uint64, v);
}

bool pack_value(const json& v, writer& w, int depth) noexcept {
  switch (v.type()) {
    case json::value_t::null:
      return w.byte(t_null);
    case json::value_t::boolean:
      return w.byte(*v.get_ptr<const json::boolean_t*>() ? t_true : t_false);
    case json::value_t::number_integer:
      return pack_integer(*v.get_ptr<const json::number_integer_t*>(), w);
    case json::value_t::number_unsigned:
      return pack_unsigned(*v.get_ptr<const json::number_unsigned_t*>(), w);
    case json::value_t::number_float:
      return w.number(t_float, *v.get_ptr<const json::number_float_t*>());
    case json::value_t::string: {
      const auto& s = *v.get_ptr<const json::string_t*>();
      return w.counted(t_string, s.size()) && w.raw(s.data(), s.size());
    }
    case json::value_t::array: {
      const auto& a = *v.get_ptr<const json::array_t*>();
      if (depth == 0 || !w.counted(t_array, a.size())) return false;
      for (const auto& x : a) {
        if (!pack_value(x, w, depth - 1)) return false;
      }
      return true;
    }
    case json::value_t::object: {
      const auto& o = *v.get_ptr<const json::object_t*>();
      if (depth == 0 || !w.counted(t_object, o.size())) return false;
      for (const auto& [key, x] : o) {
        if (!w.text(key) || !pack_value(x, w, depth - 1)) return false;
      }
      return true;
    }
    case json::value_t::binary:
    case json::value_t::discarded:
      return false;
  }
  return false;
}

// --- unpack: a reader over what pack wrote --------------------------------------------------

class reader {
 public:
  explicit reader(const packed_message& p) : p_(p.bytes) {}

  unsigned char byte() noexcept { return *p_++; }
  template <class T>
  T number() noexcept {
    T v;
    std::memcpy(&v, p_, sizeof v);
    p_ += sizeof v;
    return v;
  }
  const char* take(std::size_t n) noexcept {
    const char* s = reinterpret_cast<const char*>(p_);
    p_ += n;
    return s;
  }

 private:
  const unsigned char* p_;
};

// A scalar over whatever `out` held: a container is emptied first (dispose.hpp), so the
// assignment frees it without nlohmann's extra allocation.
template <class T>
void put_scalar(json& out, T v) {
  if (out.is_structured()) sluice::internal::dispose(out);
  out = v;
}

void unpack_value(reader& r, json& out) {
  switch (r.byte()) {
    case t_null: return put_scalar(out, nullptr);
    case t_false: return put_scalar(out, false);
    case t_true: return put_scalar(out, true);
    case t_int8: return put_scalar(out, static_cast<std::int64_t>(r.number<std::int8_t>()));
    case t_int16: return put_scalar(out, static_cast<std::int64_t>(r.number<std::int16_t>()));
    case t_int32: return put_scalar(out, static_cast<std::int64_t>(r.number<std::int32_t>()));
    case t_int64: return put_scalar(out, r.number<std::int64_t>());
    case t_uint8: return put_scalar(out, static_cast<std::uint64_t>(r.number<std::uint8_t>()));
    case t_uint16: return put_scalar(out, static_cast<std::uint64_t>(r.number<std::uint16_t>()));
    case t_uint32: return put_scalar(out, static_cast<std::uint64_t>(r.number<std::uint32_t>()));
    case t_uint64: return put_scalar(out, r.number<std::uint64_t>());
    case t_float: return put_scalar(out, r.number<double>());
    case t_string: {
      const std::size_t n = r.byte();
      const char* s = r.take(n);
      if (out.is_string()) {
        out.get_ref<std::string&>().assign(s, n);  // the string's storage is reused
      } else {
        put_scalar(out, std::string(s, n));
      }
      return;
    }
    case t_array: {
      const std::size_t n = r.byte();
      if (!out.is_array()) put_scalar(out, json::array());
      auto& a = out.get_ref<json::array_t&>();
      for (std::size_t i = n; i < a.size(); ++i) {
        if (a[i].is_structured()) sluice::internal::dispose(a[i]);
      }
      a.resize(n);  // the elements that stay are written over
      for (auto& x : a) unpack_value(r, x);
      return;
    }
    case t_object: {
      const std::size_t n = r.byte();
      put_scalar(out, json::object());
      for (std::size_t i = 0; i < n; ++i) {
        const std::size_t k = r.byte();
        const char* key = r.take(k);
        unpack_value(r, out[std::string(key, k)]);
      }
      return;
    }
    default:
      return;  // not written by pack
  }
}

}  // namespace

bool pack(const json& m, packed_message& out) noexcept {
  writer w(out);
  if (!pack_value(m, w, packed_message::max_depth)) return false;
  out.size = static_cast<std::uint8_t>(w.size());
  return true;
}

void unpack(const packed_message& p, json& out) {
  reader r(p);
  unpack_value(r, out);
}

}  // namespace sluice::mp::detail
