// tools/aemp/gencert.cc - gencert and gensecret (see aemp.hpp).
//
// gencert makes what AnyEvent::MP's `aemp gencert` stores in "cert": one PEM string holding a
// private key and a self-signed CA certificate (CN "AnyEvent::MP", ten years) that every node
// of a network shares. The key is RSA 2048 like the one Perl's tool asks openssl for.
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

#include "aemp.hpp"

namespace aemp_tool {
namespace {

template <class T, void (*F)(T*)>
struct deleter {
  void operator()(T* p) const { F(p); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, deleter<EVP_PKEY, EVP_PKEY_free>>;
using x509_ptr = std::unique_ptr<X509, deleter<X509, X509_free>>;
using bio_ptr = std::unique_ptr<BIO, deleter<BIO, BIO_free_all>>;

[[noreturn]] void ssl_fail(const char* step) { throw failure(exit_error, std::string("gencert: OpenSSL failed at ") + step); }

void add_ext(X509* x, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
  X509_EXTENSION* e = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (!e) ssl_fail("extension");
  int ok = X509_add_ext(x, e, -1);
  X509_EXTENSION_free(e);
  if (ok != 1) ssl_fail("extension");
}

}  // namespace

std::string generate_cert_pem() {
  pkey_ptr key(EVP_RSA_gen(2048));
  if (!key) ssl_fail("key generation");
  x509_ptr x(X509_new());
  if (!x || X509_set_version(x.get(), 2) != 1) ssl_fail("X509_new");
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) ssl_fail("RAND_bytes");
  serial[0] &= 0x7f;  // a positive serial number
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x.get()))) ssl_fail("serial");
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), 3650L * 24 * 3600);
  if (X509_set_pubkey(x.get(), key.get()) != 1) ssl_fail("public key");
  X509_NAME* name = X509_get_subject_name(x.get());
  const char* cn = "AnyEvent::MP";
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn), -1, -1, 0) != 1)
    ssl_fail("subject");
  if (X509_set_issuer_name(x.get(), name) != 1) ssl_fail("issuer");
  add_ext(x.get(), NID_basic_constraints, "critical,CA:TRUE");
  add_ext(x.get(), NID_subject_key_identifier, "hash");
  add_ext(x.get(), NID_authority_key_identifier, "keyid:always");
  if (X509_sign(x.get(), key.get(), EVP_sha256()) <= 0) ssl_fail("signing");
  bio_ptr out(BIO_new(BIO_s_mem()));
  if (!out || PEM_write_bio_PrivateKey(out.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1 ||
      PEM_write_bio_X509(out.get(), x.get()) != 1)
    ssl_fail("PEM output");
  char* data = nullptr;
  long n = BIO_get_mem_data(out.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

std::string generate_secret() {
  static const char alnum[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::string s;
  while (s.size() < 86) {
    unsigned char buf[64];
    if (RAND_bytes(buf, sizeof buf) != 1) throw failure(exit_error, "gensecret: RAND_bytes failed");
    for (unsigned char b : buf)
      if (b < 248 && s.size() < 86) s += alnum[b % 62];  // 248 = 4 * 62: no bias
  }
  return s;
}

}  // namespace aemp_tool
