// sluice/internal/aemp/tls.hpp - the pure parts of TLS on an AEMP connection (no sockets).
//
// As AnyEvent::MP 2.02 does it (../shared/notes/aemp-wire.md, section 1, "TLS (optional)"):
//   - a node with a certificate adds `tls=1.0` to its greeting line and accepts
//     `tls_sha3_512` before `hmac_sha3_512`;
//   - TLS is used iff this side has a certificate AND the peer's greeting has `tls` with
//     integer part 1 (as Perl's `int` reads the value); it is then mandatory and starts right
//     after the nonce lines;
//   - the side whose nonce line is bytewise lower is the TLS client, whatever the TCP roles;
//   - every node of a network shares one PEM (private key + self-signed certificate): it is
//     the node's certificate and the only CA; peers must present a certificate it verifies;
//     no host-name check.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "sluice/internal/aemp/greeting.hpp"

namespace sluice::mp::aemp {

inline constexpr const char* tls_greeting_version = "1.0";  // the value of our `tls` key

// Perl's `int $value` for a greeting value: leading blanks, a sign, decimal digits with an
// optional fraction and exponent; anything else (or nothing) reads as 0.
long long perl_int(std::string_view value);

// Whether the peer's greeting asks for TLS (`tls` key with integer part 1).
bool peer_offers_tls(const greeting& peer);

// Whether this connection must run over TLS.
inline bool use_tls(bool have_cert, const greeting& peer) { return have_cert && peer_offers_tls(peer); }

enum class tls_role { client, server };

// The side whose nonce line (line 2, without its ending) is bytewise lower is the client.
tls_role tls_role_of(std::string_view my_nonce_line, std::string_view peer_nonce_line);

// The number of leading bytes of `peeked` that belong to the next `lines` LF-terminated lines
// (all of it when fewer lines end in it): how much may be taken from the socket without
// taking any byte that follows them (the peer's TLS handshake follows its nonce line).
std::size_t bytes_through_lines(std::string_view peeked, std::size_t lines);

// Whether `pem` holds a private key and a certificate that belongs to it (the one PEM a node
// has: AnyEvent::MP's `cert`). `why` says what is wrong.
bool check_node_pem(std::string_view pem, std::string& why);

}  // namespace sluice::mp::aemp
