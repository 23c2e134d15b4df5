// sluice/internal/aemp/handshake.hpp - one side of an AEMP connection's handshake, as a pure
// state machine: bytes from the peer in, bytes to send and a verdict out. No sockets, no
// clocks (the transport owns the 30 s handshake timeout), so it is tested by wiring two of
// them together, by replaying a captured Perl connection, and by fuzzing.
//
// Steps (../shared/notes/aemp-wire.md, section 1; both sides run the same machine):
//   1. send:      my greeting line and my nonce line, at once, without waiting;
//   2. greeting:  the peer's line 1: an AEMP greeting, version 1, not my own node id;
//   3. nonce:     the peer's line 2; two lines identical to mine are an echo. Then decide on
//                 TLS (sluice/internal/aemp/tls.hpp), choose the method (the first of the
//                 peer's methods that I offer) and the framing I will send (the first of the
//                 peer's framings that I speak), and send my authentication line, unless
//   3b. tls:      TLS was agreed on: the machine waits (state `tls`) until the transport has
//                 run the TLS handshake on the bytes that follow the nonce lines and calls
//                 tls_up(); then my authentication line, and everything after it, goes
//                 through TLS;
//   4. auth:      the peer's authentication line: its token recomputed from its side, and a
//                 framing I accept;
//   5. done:      what followed the peer's authentication line is the start of the data.
// Any failure ends in `failed` with "<step>: <reason>"; nothing is sent to the peer about it
// (the transport closes the socket, as Perl does).
//
// Without a certificate (handshake_config::tls false) the machine never announces `tls`, and
// neither side uses it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sluice/internal/aemp/auth.hpp"
#include "sluice/internal/aemp/framing.hpp"
#include "sluice/internal/aemp/greeting.hpp"

namespace sluice::mp::aemp {

struct handshake_config {
  std::string nodeid;
  std::optional<std::string> secret;
  std::vector<std::string> framings{"cbor", "json"};  // what I accept, preferred first
  std::vector<std::string> auths;                     // announced; empty: offered_methods()
  std::vector<std::pair<std::string, std::string>> keys{{"provider", "sluice-1"}, {"mproto", "1"}, {"gproto", "1"}};
  bool accept_cleartext = false;
  bool tls = false;                                   // I have a certificate: announce tls=1.0
};

class handshake {
 public:
  enum class step { greeting, nonce, tls, auth, done, failed };

  explicit handshake(handshake_config cfg, std::string nonce = make_nonce());

  // Bytes to write now (both greeting lines at first, the authentication line after step 3).
  std::string take_output() { return std::exchange(out_, std::string()); }
  // Bytes read from the peer; returns the step reached.
  step feed(std::string_view bytes);

  // Step 3b: the transport finished the TLS handshake (state `tls`): my authentication line
  // is now in take_output(), to be written through TLS.
  void tls_up();

  step state() const { return step_; }
  // How many of the peer's greeting lines are still to come (2, 1, then 0): while a TLS
  // handshake may follow them, the transport must not read past them.
  std::size_t greeting_lines_left() const;
  // Valid in state `tls`: whether this side is the TLS client.
  bool tls_client() const;
  const std::string& error() const { return error_; }
  // Valid from the nonce step on: the peer's greeting.
  const greeting& peer() const { return peer_; }
  // Valid once done: the framing I send and the one the peer sends.
  framing send_framing() const { return send_; }
  framing recv_framing() const { return recv_; }
  // Once done: the bytes that followed the peer's authentication line.
  std::string take_rest() { return lines_.take_rest(); }

 private:
  void on_greeting(const std::string& line);
  void on_nonce(const std::string& line);
  void send_auth();
  void on_auth(const std::string& line);
  void fail(const char* step, const std::string& why);

  handshake_config cfg_;
  auth_keys keys_;
  std::string l1_, l2_, r1_, r2_;
  greeting peer_;
  line_reader lines_;
  std::string out_;
  step step_ = step::greeting;
  std::string error_;
  framing send_ = framing::json, recv_ = framing::json;
  std::string method_, send_framing_name_;           // chosen in step 3, sent in send_auth
  std::vector<std::string> accepted_;                 // the methods my greeting announced
};

}  // namespace sluice::mp::aemp
