// The authentication line of an AEMP connection (see sluice/internal/aemp/auth.hpp).
#include "sluice/internal/aemp/auth.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace sluice::mp::aemp {
namespace {

[[noreturn]] void crypto_failed(const char* what) {
  std::fprintf(stderr, "sluice: OpenSSL %s failed unexpectedly; aborting\n", what);
  std::abort();
}

std::string hex(const unsigned char* p, std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s(2 * n, '0');
  for (std::size_t i = 0; i < n; ++i) {
    s[2 * i] = digits[p[i] >> 4];
    s[2 * i + 1] = digits[p[i] & 15];
  }
  return s;
}

bool same(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

std::optional<auth_line> parse_auth_line(std::string_view line, std::string& why) {
  auto a = line.find(';');
  auto b = a == std::string_view::npos ? a : line.find(';', a + 1);
  if (b == std::string_view::npos) {
    why = "authentication line without method, token and framing";
    return std::nullopt;
  }
  auto c = line.find(';', b + 1);
  auth_line out{std::string(line.substr(0, a)), std::string(line.substr(a + 1, b - a - 1)),
                std::string(line.substr(b + 1, c == std::string_view::npos ? c : c - b - 1))};
  if (out.method.empty() || out.framing.empty()) {
    why = "authentication line without method or framing";
    return std::nullopt;
  }
  return out;
}

std::string format_auth_line(const auth_line& a) { return a.method + ";" + a.token + ";" + a.framing; }

std::string auth_message(std::string_view l1, std::string_view l2, std::string_view r1, std::string_view r2) {
  std::string m;
  m.reserve(l1.size() + l2.size() + r1.size() + r2.size() + 4);
  for (auto part : {l1, l2, r1, r2}) {
    m.append(part);
    m += '\n';
  }
  return m;
}

std::string sha3_512_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_Digest(data.data(), data.size(), md, &n, EVP_sha3_512(), nullptr) != 1) crypto_failed("SHA3-512");
  return hex(md, n);
}

std::string hmac_sha3_512_hex(std::string_view key, std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (HMAC(EVP_sha3_512(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), md, &n) == nullptr) {
    crypto_failed("HMAC-SHA3-512");
  }
  return hex(md, n);
}

std::optional<std::string> first_shared(const std::vector<std::string>& peer, const std::vector<std::string>& mine) {
  for (const auto& p : peer) {
    if (std::find(mine.begin(), mine.end(), p) != mine.end()) return p;
  }
  return std::nullopt;
}

std::vector<std::string> offered_methods(const auth_keys& k) {
  std::vector<std::string> out;
  if (k.tls) out.push_back("tls_sha3_512");
  if (k.secret) out.push_back("hmac_sha3_512");
  return out;
}

std::optional<std::string> make_token(const std::string& method, const auth_keys& k, std::string_view m) {
  if (method == "hmac_sha3_512" && k.secret) return hmac_sha3_512_hex(*k.secret, m);
  if (method == "tls_sha3_512" && k.tls) return sha3_512_hex(m);
  if (method == "tls_anon" && k.tls) return std::string();
  return std::nullopt;
}

bool check_token(const auth_line& peer, const auth_keys& k, std::string_view m_peer, std::string& why) {
  std::optional<std::string> want;
  if (peer.method == "cleartext") {
    if (!k.accept_cleartext || !k.secret) {
      why = "cleartext authentication refused";
      return false;
    }
    want = hex(reinterpret_cast<const unsigned char*>(k.secret->data()), k.secret->size());
  } else {
    want = make_token(peer.method, k, m_peer);
  }
  if (!want) {
    why = "authentication method " + peer.method + " not usable here";
    return false;
  }
  if (!same(*want, peer.token)) {
    why = "authentication failed (wrong secret or certificate)";
    return false;
  }
  return true;
}

}  // namespace sluice::mp::aemp
