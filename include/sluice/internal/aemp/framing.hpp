// sluice/internal/aemp/framing.hpp - AEMP's data phase: a stream of messages in one framing.
//
// Each message is one array [portname, arg...], serialized whole, back to back with no length
// prefix (../shared/notes/aemp-wire.md, section 2):
//   json: compact JSON texts (whitespace between texts allowed);
//   cbor: one CBOR data item per message. Perl sends strings as byte strings (major type 2):
//         a byte string that is valid UTF-8 becomes a string, any other stays binary.
//
// Pure decoders (bytes in, messages or a precise reason out), fuzzed by
// tests/fuzz/aemp_framing_fuzz.cc.
//
// Invariants:
//   - A decoder first finds where the next message ends with its own scanner, iteratively
//     (no recursion, so no input can overflow the stack), bounded by limits::max_depth and
//     limits::max_message; only a complete, bounded text is handed to nlohmann-json. The one
//     shortcut: in the `incoming` form, a CBOR message [name, arg...] that one walk finds
//     complete, within both limits and decodable (recursion bounded by max_depth) is
//     deferred without the scan; that walk refuses whatever the scanner would, so a stream's
//     messages and verdict are the same either way (the fuzz target compares them).
//   - A declared CBOR length or count larger than the bytes a message may have is an error at
//     once (it is never waited for or allocated).
//   - After an error the decoder stays failed: the connection must end.
//   - A message handed out deferred (feed's `incoming` form) is one the eager decoder accepts:
//     its port name was read from the bytes, and a non-building walk of the rest (CBOR) or
//     json_check_fast (JSON) said it decodes; anything that check does not cover goes the
//     eager way, so the verdict on a stream never depends on the form.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace sluice::mp::aemp {

enum class framing { json, cbor };

std::optional<framing> framing_of(std::string_view name);  // "json" / "cbor"
const char* name_of(framing f);

struct limits {
  std::size_t max_message = 16u << 20;  // bytes of one encoded message
  std::size_t max_depth = 64;           // nesting of arrays and maps
};

// Where an incomplete CBOR scan stopped: the next head's offset and the open containers
// (items still expected, UINT64_MAX: until a break; for an indefinite string the major type
// its chunks must have, else -1). Resuming from it makes a long message arriving in many
// reads cost one pass, not one per read.
struct cbor_scan {
  struct frame {
    std::uint64_t left;
    int chunks_of;
  };
  std::size_t pos = 0;
  std::vector<frame> stack;
};

// The skipped length of one well-formed CBOR item at the start of `bytes`: 0 if incomplete
// (`at` then says where to resume when more bytes follow the same start), -1 (with `why`) if
// malformed or beyond the limits.
std::ptrdiff_t cbor_item_length(std::string_view bytes, const limits& l, std::string& why, cbor_scan& at);
std::ptrdiff_t cbor_item_length(std::string_view bytes, const limits& l, std::string& why);

// One complete message of the stream. Deferred (`deferred` true): a message [port, arg...]
// addressed to a non-empty port name, handed on still encoded: `port` and `rest`, the
// encoded array [arg...], which decode_rest turns into the message the port gets. It lets the
// thread that runs the port allocate the message's tree and free it (glibc's per-thread
// caches then recycle it, where a tree built by the reading thread and freed by another
// costs arena locks). Otherwise `msg` is the whole message, decoded.
struct incoming {
  bool deferred = false;
  nlohmann::json msg;
  std::string port;
  std::string rest;
};

// The message [arg...] that a deferred incoming's `rest` encodes. Throws only what allocation
// throws: the decoder checked the bytes.
nlohmann::json decode_rest(framing f, std::string_view rest);
// The same into `out`, whose value it replaces. With CBOR, an array there is decoded over:
// its storage, and each element's where the type matches (a string keeps its buffer), so a
// caller decoding message after message of one shape (arrays of strings and numbers) into the
// same value allocates nothing for it; a map or binary is built anew each time. The old value
// is emptied before anything replaces it (sluice/internal/dispose.hpp), with JSON too.
void decode_rest(framing f, std::string_view rest, nlohmann::json& out);

class decoder {
 public:
  explicit decoder(framing f, limits l = {}) : f_(f), l_(l) {}

  // Appends the complete messages in `bytes` (after what came before) to `out`. False on a
  // protocol error, with the reason in `why`; it then stays false.
  bool feed(std::string_view bytes, std::vector<nlohmann::json>& out, std::string& why);
  // The same, with messages to a named port deferred where their check allows (incoming).
  bool feed(std::string_view bytes, std::vector<incoming>& out, std::string& why);
  // The same, each message handed to `take` as it is found (in order; before an error, the
  // messages ahead of it). The incoming is the decoder's, reused for the next message: take
  // moves or copies what it keeps.
  bool feed(std::string_view bytes, std::string& why, const std::function<void(incoming&)>& take);

  // Bytes received but not yet part of a complete message.
  std::size_t pending() const { return buf_.size() - pos_; }

 private:
  // The length of the complete message at buf_[pos_...], 0 if incomplete; -1 on an error.
  // Where an incomplete JSON scan stopped (offset from pos_, nesting, string state).
  struct json_scan {
    std::size_t i = 0, depth = 0;
    bool in_string = false, escape = false;
  };
  std::ptrdiff_t scan(std::string& why);
  std::ptrdiff_t scan_json(std::string& why);
  bool decode_one(std::string_view text, nlohmann::json& out, std::string& why) const;
  bool defer_one(std::string_view text, incoming& out) const;
  std::ptrdiff_t defer_cbor(std::string_view bytes, incoming& out) const;
  template <class Quick, class Out>
  bool feed_with(std::string_view bytes, std::string& why, Quick&& quick, Out&& take);

  framing f_;
  limits l_;
  std::string buf_;
  std::size_t pos_ = 0;  // start of the next message in buf_
  json_scan json_;
  cbor_scan cbor_;
  std::string failed_;  // non-empty after an error
  incoming scratch_;    // the message being handed out
};

// RFC 3629 UTF-8: no overlongs, no surrogates, nothing above U+10FFFF.
bool valid_utf8(std::string_view text);

// JSON texts (src/aemp/json_read.cc). json_read_fast and json_check_fast handle the common
// shapes (no \u escapes, integers of at most 18 digits, finite doubles): true means nlohmann::json::parse
// gives exactly `out` (accepts the text); false means "ask nlohmann", whose verdict may be
// either (and `out` may hold part of a value). json_parse: the fast reader, else nlohmann's
// parser (discarded on an error).
bool json_read_fast(std::string_view text, nlohmann::json& out);
bool json_check_fast(std::string_view text);
nlohmann::json json_parse(std::string_view text);

// Appends one message in framing `f` to `out` (src/aemp/encode.cc).
void encode(framing f, const nlohmann::json& message, std::string& out);

// Appends the message [head, args...] (args an array; any other value is one argument), byte
// for byte what encode() writes for that array, without building it (a send's wire form is
// the port name followed by the message's elements).
void encode_prefixed(framing f, const std::string& head, const nlohmann::json& args, std::string& out);

}  // namespace sluice::mp::aemp
