// sluice/internal/aemp/auth.hpp - the authentication line of an AEMP connection.
//
// Pure functions over the four greeting lines (../shared/notes/aemp-wire.md, section 1):
//
//     <method>;<token>;<framing I will send>      (fields after the third are ignored)
//
// With L1, L2 my greeting lines and R1, R2 the peer's (no line endings),
// M = L1 "\n" L2 "\n" R1 "\n" R2 "\n", the token is
//   hmac_sha3_512: lowercase hex of HMAC-SHA3-512(key = secret, M)   (RFC 2104; no TLS)
//   tls_sha3_512:  lowercase hex of SHA3-512(M)                       (over TLS)
//   tls_anon:      empty                                              (over TLS)
// and the peer's token is checked by recomputing it from the peer's side (R1 R2 L1 L2).
// `cleartext` (the secret in hex) is accepted only when the caller allows it, and never sent.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::mp::aemp {

struct auth_line {
  std::string method, token, framing;
};

std::optional<auth_line> parse_auth_line(std::string_view line, std::string& why);
std::string format_auth_line(const auth_line& a);

// M for the side whose lines are (l1, l2), talking to the side with (r1, r2).
std::string auth_message(std::string_view l1, std::string_view l2, std::string_view r1, std::string_view r2);

std::string sha3_512_hex(std::string_view data);
std::string hmac_sha3_512_hex(std::string_view key, std::string_view data);

// The first entry of `peer` (in the peer's order of preference) that `mine` contains.
std::optional<std::string> first_shared(const std::vector<std::string>& peer, const std::vector<std::string>& mine);

struct auth_keys {
  std::optional<std::string> secret;  // shared secret
  bool tls = false;                   // the connection runs over verified TLS
  bool accept_cleartext = false;      // accept a peer's "cleartext" method (never sent)
};

// The methods this side offers, preferred first.
std::vector<std::string> offered_methods(const auth_keys& k);

// The token for `method`, nullopt if this side cannot use it (no secret, no TLS).
std::optional<std::string> make_token(const std::string& method, const auth_keys& k, std::string_view m);

// Whether the peer's line authenticates it; `m_peer` is M computed from the peer's side.
// Compares in constant time. `why` names the failure.
bool check_token(const auth_line& peer, const auth_keys& k, std::string_view m_peer, std::string& why);

}  // namespace sluice::mp::aemp
