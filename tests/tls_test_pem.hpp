// Test helper: a fresh node PEM (private key + self-signed CA certificate), the kind
// AnyEvent::MP's `aemp gencert` writes and every node of one network shares. Made with
// libcrypto (P-256: quick even under the sanitizers), so the tests need no openssl tool.
#pragma once

#include <openssl/crypto.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <string>

namespace sluice_test {

inline void add_extension(X509* x, int nid, const char* value) {
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, x, x, nullptr, nullptr, 0);
  X509_EXTENSION* e = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
  if (e) X509_add_ext(x, e, -1);
  X509_EXTENSION_free(e);
}

// Key first, then the certificate (as `aemp gencert` writes them); "" if OpenSSL failed.
inline std::string make_node_pem(const std::string& common_name = "AnyEvent::MP") {
  // As sluice::mp::configure does: no exit-time cleanup of OpenSSL's globals, which a node's io
  // thread (never joined) may still use while the process exits (TSan saw the race when the
  // test's OpenSSL use came first and registered the cleanup).
  OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, nullptr);
  static std::atomic<long> serial{1};
  std::string pem;
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* x = X509_new();
  BIO* out = BIO_new(BIO_s_mem());
  if (key && x && out) {
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial.fetch_add(1));
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600L * 24 * 365);
    X509_set_pubkey(x, key);
    X509_NAME* name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name.c_str()),
                               -1, -1, 0);
    X509_set_issuer_name(x, name);
    add_extension(x, NID_basic_constraints, "critical,CA:TRUE");
    add_extension(x, NID_subject_key_identifier, "hash");
    if (X509_sign(x, key, EVP_sha256()) > 0 && PEM_write_bio_PrivateKey(out, key, nullptr, nullptr, 0, nullptr, nullptr) == 1 &&
        PEM_write_bio_X509(out, x) == 1) {
      char* data = nullptr;
      long n = BIO_get_mem_data(out, &data);
      pem.assign(data, static_cast<std::size_t>(n));
    }
  }
  BIO_free(out);
  X509_free(x);
  EVP_PKEY_free(key);
  return pem;
}

// The PEM's blocks: the private key's and the certificate's.
inline std::string pem_block(const std::string& pem, const std::string& kind) {
  std::string begin = "-----BEGIN " + kind + "-----", end = "-----END " + kind + "-----";
  auto a = pem.find(begin), b = pem.find(end);
  if (a == std::string::npos || b == std::string::npos) return std::string();
  return pem.substr(a, b + end.size() + 1 - a);
}

inline bool write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  return static_cast<bool>(f);
}

}  // namespace sluice_test
