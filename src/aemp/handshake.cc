// One side of an AEMP handshake (see sluice/internal/aemp/handshake.hpp for the steps).
#include "sluice/internal/aemp/handshake.hpp"

#include "sluice/internal/aemp/tls.hpp"

#include <algorithm>

namespace sluice::mp::aemp {

handshake::handshake(handshake_config cfg, std::string nonce) : cfg_(std::move(cfg)) {
  keys_.secret = cfg_.secret;
  keys_.accept_cleartext = cfg_.accept_cleartext;
  // Step 1: both greeting lines, at once. With a certificate the greeting announces TLS and
  // accepts tls_sha3_512 first (whether TLS is used is known only from the peer's greeting).
  greeting mine;
  mine.nodeid = cfg_.nodeid;
  auth_keys could{keys_.secret, cfg_.tls, keys_.accept_cleartext};
  mine.auths = cfg_.auths.empty() ? offered_methods(could) : cfg_.auths;
  accepted_ = mine.auths;
  mine.framings = cfg_.framings;
  if (cfg_.tls) mine.keys.emplace_back("tls", tls_greeting_version);
  for (const auto& kv : cfg_.keys) {
    if (!(cfg_.tls && kv.first == "tls")) mine.keys.push_back(kv);
  }
  l1_ = format_greeting(mine);
  l2_ = std::move(nonce);
  out_ = l1_ + "\n" + l2_ + "\n";
}

void handshake::fail(const char* step, const std::string& why) {
  step_ = step::failed;
  error_ = std::string(step) + ": " + why;
}

std::size_t handshake::greeting_lines_left() const {
  return step_ == step::greeting ? 2 : step_ == step::nonce ? 1 : 0;
}

bool handshake::tls_client() const { return tls_role_of(l2_, r2_) == tls_role::client; }

handshake::step handshake::feed(std::string_view bytes) {
  if (step_ == step::done || step_ == step::failed) return step_;
  if (step_ == step::tls) {  // the transport's mistake: these bytes belong to TLS
    fail("tls", "bytes fed before the TLS handshake finished");
    return step_;
  }
  lines_.feed(bytes);
  while (step_ == step::greeting || step_ == step::nonce || step_ == step::auth) {
    bool too_long = false;
    std::optional<std::string> line = lines_.next(too_long);
    if (too_long) {
      fail(step_ == step::greeting ? "greeting" : step_ == step::nonce ? "nonce" : "auth", "line too long");
      break;
    }
    if (!line) break;
    switch (step_) {
      case step::greeting: on_greeting(*line); break;
      case step::nonce: on_nonce(*line); break;
      default: on_auth(*line); break;
    }
  }
  return step_;
}

// Step 2: the peer's greeting.
void handshake::on_greeting(const std::string& line) {
  std::string why;
  auto g = parse_greeting(line, why);
  if (!g) return fail("greeting", why);
  if (g->nodeid == cfg_.nodeid) return fail("greeting", "I refuse to talk to myself");
  r1_ = line;
  peer_ = std::move(*g);
  step_ = step::nonce;
}

// Step 3: the peer's nonce; then TLS (step 3b) or at once my authentication line.
void handshake::on_nonce(const std::string& line) {
  r2_ = line;
  if (r1_ == l1_ && r2_ == l2_) return fail("nonce", "echo of my own greeting");
  keys_.tls = use_tls(cfg_.tls, peer_);  // tls_ methods only over TLS
  std::optional<std::string> method = first_shared(peer_.auths, offered_methods(keys_));
  if (!method) return fail("nonce", "no authentication method in common (a shared secret on both sides?)");
  std::optional<std::string> f = first_shared(peer_.framings, cfg_.framings);
  std::optional<framing> mine = f ? framing_of(*f) : std::nullopt;
  if (!mine) return fail("nonce", "no framing in common");
  send_ = *mine;
  method_ = *method;
  send_framing_name_ = *f;
  if (keys_.tls) {
    step_ = step::tls;  // the transport runs the TLS handshake, then calls tls_up()
    return;
  }
  send_auth();
}

void handshake::tls_up() {
  if (step_ != step::tls) return fail("tls", "TLS came up outside the TLS step");
  send_auth();
}

// My authentication line (after TLS is up, when it is used: the line goes through it).
void handshake::send_auth() {
  std::optional<std::string> token = make_token(method_, keys_, auth_message(l1_, l2_, r1_, r2_));
  if (!token) return fail("nonce", "cannot make a token for " + method_);
  out_ += format_auth_line({method_, *token, send_framing_name_}) + "\n";
  step_ = step::auth;
}

// Step 4: the peer's authentication line.
void handshake::on_auth(const std::string& line) {
  std::string why;
  auto a = parse_auth_line(line, why);
  if (!a) return fail("auth", why);
  // Only what my greeting said I accept (Perl takes any method it knows; tls_anon would
  // leave the cleartext greetings unbound to the TLS channel).
  // (cleartext is check_token's to judge: refused unless configured.)
  bool accepted = std::find(accepted_.begin(), accepted_.end(), a->method) != accepted_.end() || a->method == "cleartext";
  if (!accepted) return fail("auth", "peer used a method I did not offer: " + a->method);
  if (!check_token(*a, keys_, auth_message(r1_, r2_, l1_, l2_), why)) return fail("auth", why);
  std::optional<framing> theirs = framing_of(a->framing);
  if (!theirs || std::find(cfg_.framings.begin(), cfg_.framings.end(), a->framing) == cfg_.framings.end()) {
    return fail("auth", "peer sends a framing I did not offer: " + a->framing);
  }
  recv_ = *theirs;
  step_ = step::done;  // Step 5: what follows is data (take_rest)
}

}  // namespace sluice::mp::aemp
