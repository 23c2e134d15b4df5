// The pure parts of TLS on an AEMP connection (see sluice/internal/aemp/tls.hpp).
#include "sluice/internal/aemp/tls.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <memory>

namespace sluice::mp::aemp {
namespace {

bool digit(char c) { return c >= '0' && c <= '9'; }

// The longest prefix of s (after leading blanks) that Perl reads as a decimal number.
std::string numeric_prefix(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  std::size_t start = i;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  std::size_t digits = 0;
  while (i < s.size() && digit(s[i])) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && digit(s[i])) ++i, ++digits;
  }
  if (digits == 0) return std::string();
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {  // an exponent only counts with digits
    std::size_t j = i + 1;
    if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
    if (j < s.size() && digit(s[j])) {
      while (j < s.size() && digit(s[j])) ++j;
      i = j;
    }
  }
  return std::string(s.substr(start, i - start));
}

struct bio_free {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct pkey_free {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct x509_free {
  void operator()(X509* x) const { X509_free(x); }
};

// An encrypted key is refused, not prompted for on the terminal (OpenSSL's default).
int no_password(char*, int, int, void*) { return 0; }

std::unique_ptr<BIO, bio_free> pem_bio(std::string_view pem) {
  return std::unique_ptr<BIO, bio_free>(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

}  // namespace

long long perl_int(std::string_view value) {
  std::string n = numeric_prefix(value);
  if (n.empty()) return 0;
  double d = std::strtod(n.c_str(), nullptr);
  if (!std::isfinite(d) || std::fabs(d) > 9e18) return 0;  // far from 1 either way
  return static_cast<long long>(std::trunc(d));
}

bool peer_offers_tls(const greeting& peer) {
  std::optional<std::string> v = peer.key("tls");
  return v && perl_int(*v) == 1;
}

tls_role tls_role_of(std::string_view my_nonce_line, std::string_view peer_nonce_line) {
  return my_nonce_line < peer_nonce_line ? tls_role::client : tls_role::server;  // string_view: bytewise
}

std::size_t bytes_through_lines(std::string_view peeked, std::size_t lines) {
  std::size_t pos = 0;
  for (std::size_t i = 0; i < lines; ++i) {
    std::size_t lf = peeked.find('\n', pos);
    if (lf == std::string_view::npos) return peeked.size();
    pos = lf + 1;
  }
  return pos;
}

// PEM_read_bio_* skip the PEM blocks of other kinds, so key and certificate may come in
// either order (Perl's `aemp gencert` writes the key first).
bool check_node_pem(std::string_view pem, std::string& why) {
  if (pem.size() > (64u << 20)) {
    why = "cert: too large for a PEM";
    return false;
  }
  auto b1 = pem_bio(pem), b2 = pem_bio(pem);
  if (!b1 || !b2) {
    why = "cert: out of memory";
    return false;
  }
  std::unique_ptr<EVP_PKEY, pkey_free> key(PEM_read_bio_PrivateKey(b1.get(), nullptr, no_password, nullptr));
  std::unique_ptr<X509, x509_free> cert(PEM_read_bio_X509(b2.get(), nullptr, no_password, nullptr));
  bool key_matches = key && cert && X509_check_private_key(cert.get(), key.get()) == 1;
  ERR_clear_error();  // what failed is said below; nothing may stay queued for later OpenSSL calls
  if (!key) why = "cert: no (unencrypted) private key in the PEM (it must hold the private key and the certificate)";
  else if (!cert) why = "cert: no certificate in the PEM (it must hold the private key and the certificate)";
  else if (!key_matches) why = "cert: the private key does not belong to the certificate";
  return key_matches;
}

}  // namespace sluice::mp::aemp
