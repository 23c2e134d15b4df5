// libFuzzer target: AEMP's JSON and CBOR stream decoders (sluice/internal/aemp/framing.hpp).
// Input: byte 0 picks the framing (bit 0 clear: json, set: cbor) and the limits (bit 1 set:
// messages of at most 64 bytes nested at most 6 deep), byte 1 the read size (1-256); the
// rest is the stream. Checked on every input: feeding it whole and in reads of that size
// gives the same messages (or both fail), and whatever decodes re-encodes to bytes that decode
// and re-encode to the same bytes; and sluice's encoder writes each decoded message byte for
// byte as nlohmann's to_cbor / dump do; and the deferred form (aemp::incoming, what a node
// hands its ports) gives the same verdict and messages; and the fast JSON reader, whenever it
// accepts a text, builds nlohmann's value type for type. Run: tools/fuzz.
#include <sluice/internal/aemp/framing.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace aemp = sluice::mp::aemp;

namespace {

[[noreturn]] void broken(const char* what) {
  std::fprintf(stderr, "aemp_framing_fuzz: %s\n", what);
  std::abort();
}

// The decoders' limits for this input: roomy, or (bit 1 of byte 0) small enough that inputs
// of a few hundred bytes reach every limit check.
aemp::limits roomy() {
  aemp::limits l;
  l.max_message = 1 << 16;
  l.max_depth = 32;
  return l;
}
aemp::limits limits_now = roomy();

// Feeds `data` to a fresh decoder in reads of `chunk` bytes, into either form of out.
template <class Out>
bool feed_all(aemp::framing f, std::string_view data, std::size_t chunk, std::vector<Out>& out) {
  aemp::decoder d(f, limits_now);
  std::string why;
  for (std::size_t at = 0; at < data.size(); at += chunk) {
    if (!d.feed(data.substr(at, chunk), out, why)) {
      if (why.empty()) broken("an error without a reason");
      return false;
    }
  }
  return true;
}

bool decode(aemp::framing f, std::string_view data, std::size_t chunk, std::vector<nlohmann::json>& out) {
  return feed_all(f, data, chunk, out);
}

// src/aemp/encode.cc promises nlohmann's bytes (its Invariants).
void check_encoder(aemp::framing f, const nlohmann::json& m) {
  std::string ours;
  aemp::encode(f, m, ours);
  if (f == aemp::framing::json) {
    if (ours != m.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)) broken("JSON differs from dump()");
  } else {
    std::string theirs;
    nlohmann::json::to_cbor(m, theirs);
    if (ours != theirs) broken("CBOR differs from to_cbor()");
  }
}

// The port layer's form: messages to a named port deferred (aemp::incoming), rebuilt here as
// the whole message [port, arg...]. Each is decoded over the one before, as a port's worker
// does with a run of them (the reused value must never show through).
bool decode_deferred(aemp::framing f, std::string_view data, std::size_t chunk, std::vector<nlohmann::json>& out) {
  std::vector<aemp::incoming> in;
  const bool ok = feed_all(f, data, chunk, in);
  nlohmann::json reused;
  for (auto& m : in) {
    if (!m.deferred) {
      out.push_back(std::move(m.msg));
      continue;
    }
    if (m.port.empty()) broken("a deferred message without a port name");
    aemp::decode_rest(f, m.rest, reused);
    nlohmann::json whole = nlohmann::json::array({m.port});
    for (const auto& x : reused) whole.push_back(x);
    out.push_back(std::move(whole));
  }
  return ok;
}

// Type for type (nlohmann's == takes 1 and 1u, or 1 and 1.0, as equal), with NaN the same as
// NaN (CBOR carries NaNs; == never takes them as equal).
bool same(const nlohmann::json& a, const nlohmann::json& b) {
  if (a.type() != b.type()) return false;
  if (a.is_array()) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (!same(a[i], b[i])) return false;
    }
    return true;
  }
  if (a.is_object()) {
    if (a.size() != b.size()) return false;
    for (auto it = a.begin(); it != a.end(); ++it) {
      auto other = b.find(it.key());
      if (other == b.end() || !same(it.value(), *other)) return false;
    }
    return true;
  }
  if (a.is_number_float()) {
    const double x = a.get<double>(), y = b.get<double>();
    return x == y || (std::isnan(x) && std::isnan(y));
  }
  return a == b;
}

// The fast JSON reader against nlohmann's parser: when it accepts, the same value.
void check_json_reader(std::string_view text) {
  nlohmann::json fast;
  const bool took = aemp::json_read_fast(text, fast);
  if (took != aemp::json_check_fast(text)) broken("json_read_fast and json_check_fast disagree");
  if (!took) return;
  nlohmann::json slow = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
  if (slow.is_discarded()) broken("the fast JSON reader took a text nlohmann refuses");
  if (!same(fast, slow)) broken("the fast JSON reader built a different value");
}

std::string encode_all(aemp::framing f, const std::vector<nlohmann::json>& ms) {
  std::string out;
  for (const auto& m : ms) aemp::encode(f, m, out);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const aemp::framing f = data[0] % 2 ? aemp::framing::cbor : aemp::framing::json;
  limits_now = roomy();
  if (data[0] & 2) {
    limits_now.max_message = 64;
    limits_now.max_depth = 6;
  }
  const std::size_t chunk = data[1] + 1u;
  std::string_view stream(reinterpret_cast<const char*>(data + 2), size - 2);
  if (f == aemp::framing::json) check_json_reader(stream);
  std::vector<nlohmann::json> whole, pieces;
  bool ok_whole = decode(f, stream, stream.size() ? stream.size() : 1, whole);
  bool ok_pieces = decode(f, stream, chunk, pieces);
  // Messages before an error are delivered either way; the verdict must agree.
  if (ok_whole != ok_pieces) broken("whole and chunked feeding disagree on the verdict");
  std::string a = encode_all(f, whole), b = encode_all(f, pieces);
  if (a != b) broken("whole and chunked feeding decoded different messages");
  for (const auto& m : whole) check_encoder(f, m);
  // Deferring changes neither the verdict nor a message, in reads of `chunk` bytes (mostly
  // messages split across reads: the scanner's way) or whole (CBOR: the one-walk way).
  for (std::size_t read : {chunk, stream.size() ? stream.size() : 1}) {
    std::vector<nlohmann::json> deferred;
    if (decode_deferred(f, stream, read, deferred) != ok_whole) broken("the deferred form disagrees on the verdict");
    if (deferred.size() != whole.size()) broken("the deferred form decoded a different number of messages");
    for (std::size_t i = 0; i < whole.size(); ++i) {
      if (!same(deferred[i], whole[i])) broken("the deferred form decoded a different message");
    }
  }
  std::vector<nlohmann::json> again;
  limits_now = roomy();  // a re-encoding may be longer than the message it came from
  if (f == aemp::framing::json) {
    // JSON text re-encoded from decoded messages always decodes.
    if (!decode(f, a, a.size() ? a.size() : 1, again)) broken("re-encoded JSON does not decode");
    if (encode_all(f, again) != a) broken("JSON does not round-trip");
  } else if (decode(f, a, a.size() ? a.size() : 1, again) && encode_all(f, again) != a) {
    broken("CBOR does not round-trip");
  }
  return 0;
}
