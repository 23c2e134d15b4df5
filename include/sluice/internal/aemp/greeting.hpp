// sluice/internal/aemp/greeting.hpp - the two greeting lines of an AEMP connection.
//
// Pure codecs (bytes in, a value or a precise reason out; nothing about sockets), fuzzed by
// tests/fuzz/aemp_greeting_fuzz.cc. The protocol is AnyEvent::MP 2.02's, as
// ../shared/notes/aemp-wire.md describes it from the Perl code and the captured streams:
//
//     line 1:  aemp;1;<nodeid>;<auth methods>;<framings>[;key=value]...
//     line 2:  <nonce>   (base64 of 66 random bytes: 88 characters)
//
// Both sides write their two lines at once, without waiting for the peer; lines end in LF (a
// CR before it is stripped); tokens are computed over lines without their endings.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::mp::aemp {

inline constexpr std::size_t max_handshake_line = 4096;  // Perl's limit before authentication
inline constexpr std::size_t nonce_bytes = 66;

struct greeting {
  std::string nodeid;
  std::vector<std::string> auths;     // authentication methods accepted, preferred first
  std::vector<std::string> framings;  // framings accepted, preferred first
  std::vector<std::pair<std::string, std::string>> keys;  // key=value fields, in line order

  // The value of key `k` ("" for a bare key without '='), or nullopt.
  std::optional<std::string> key(std::string_view k) const;
};

// Line 1 without its line ending. Errors (in `why`): not "aemp", "version mismatch", a bad node
// id (empty, or with ';', '#', CR, LF or another control character), missing fields.
std::optional<greeting> parse_greeting(std::string_view line, std::string& why);
std::string format_greeting(const greeting& g);

// A node id as AEMP allows it: non-empty, printable, without ';' or '#'.
bool valid_nodeid(std::string_view id);

// Line 2: a fresh nonce (88 base64 characters from the system's random source).
std::string make_nonce();

// Splits a handshake byte stream into lines of at most max_handshake_line bytes. Bytes that
// follow the last line asked for stay in the buffer for the next phase (the data framing).
class line_reader {
 public:
  void feed(std::string_view bytes) { buf_.append(bytes); }
  // The next complete line without its ending, nullopt if none yet; `too_long` is set when
  // the pending line already exceeds the limit (the connection must end).
  std::optional<std::string> next(bool& too_long);
  // What is left after the lines taken so far (handed to the framing decoder).
  std::string take_rest() { return std::exchange(buf_, std::string()); }

 private:
  std::string buf_;
};

}  // namespace sluice::mp::aemp
