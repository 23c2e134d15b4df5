// sluice::tls: TLS (OpenSSL) over whatever stream the base accept hook yields. The SSL object
// talks to the inner stream through a BIO of our own, so the inner stream's shutdown()
// unblocks TLS reads and writes too, and its errors (exceptions) come back out of SSL_* calls
// unchanged. The handshake is the stream's start(), in the connection's thread.
#include "core.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <mutex>

namespace sluice {
namespace {

class tls_stream;

BIO_METHOD* stream_bio_method();

class tls_stream final : public stream {
 public:
  tls_stream(std::shared_ptr<SSL_CTX> ctx, std::unique_ptr<stream> inner) : ctx_(std::move(ctx)), inner_(std::move(inner)) {
    ssl_ = SSL_new(ctx_.get());
    BIO* bio = ssl_ ? BIO_new(stream_bio_method()) : nullptr;
    if (!ssl_ || !bio) {
      if (ssl_) SSL_free(ssl_);
      throw std::bad_alloc();
    }
    BIO_set_data(bio, this);
    BIO_set_init(bio, 1);
    SSL_set_bio(ssl_, bio, bio);  // the SSL owns the BIO
    SSL_set_options(ssl_, SSL_OP_IGNORE_UNEXPECTED_EOF);  // a bare TCP close is the end
    SSL_set_accept_state(ssl_);
  }
  ~tls_stream() override { SSL_free(ssl_); }

  void start() override {
    ERR_clear_error();
    int r = SSL_accept(ssl_);
    if (r != 1) fail(r, "TLS handshake");
  }

  std::size_t read_some(void* buf, std::size_t n) override {
    ERR_clear_error();
    std::size_t got = 0;
    int r = SSL_read_ex(ssl_, buf, n, &got);
    if (r == 1) return got;
    int e = SSL_get_error(ssl_, r);
    if (e == SSL_ERROR_ZERO_RETURN) return 0;
    if (e == SSL_ERROR_SYSCALL && !error_ && ERR_peek_error() == 0) return 0;  // the inner stream's end
    fail(r, "TLS read");
  }

  std::size_t write_some(const void* buf, std::size_t n) override {
    ERR_clear_error();
    std::size_t put = 0;
    int r = SSL_write_ex(ssl_, buf, n, &put);
    if (r == 1) return put;
    fail(r, "TLS write");
  }

  void shutdown() noexcept override { inner_->shutdown(); }

  void finish() noexcept override {
    ERR_clear_error();
    SSL_shutdown(ssl_);  // our close_notify; the peer's is not awaited
    error_ = nullptr;
    ERR_clear_error();
    inner_->finish();
  }

  std::string peer() const override { return inner_->peer(); }

  // The BIO's side.
  int bio_read(char* buf, std::size_t n, std::size_t* got) {
    try {
      *got = inner_->read_some(buf, n);
      return *got > 0 ? 1 : 0;
    } catch (...) {
      error_ = std::current_exception();
      return 0;
    }
  }
  int bio_write(const char* buf, std::size_t n, std::size_t* put) {
    try {
      *put = inner_->write_some(buf, n);
      return 1;
    } catch (...) {
      error_ = std::current_exception();
      return 0;
    }
  }

 private:
  [[noreturn]] void fail(int r, const char* what) {
    if (error_) {
      auto e = error_;
      error_ = nullptr;
      std::rethrow_exception(e);
    }
    unsigned long code = ERR_get_error();
    char text[256] = "";
    if (code) ERR_error_string_n(code, text, sizeof text);
    ERR_clear_error();
    throw std::runtime_error(std::string(what) + " failed (SSL error " + std::to_string(SSL_get_error(ssl_, r)) +
                             (code ? std::string(": ") + text : std::string()) + ")");
  }

  std::shared_ptr<SSL_CTX> ctx_;
  std::unique_ptr<stream> inner_;
  SSL* ssl_ = nullptr;
  std::exception_ptr error_;
};

int bio_write_ex(BIO* b, const char* data, std::size_t n, std::size_t* put) {
  BIO_clear_retry_flags(b);
  return static_cast<tls_stream*>(BIO_get_data(b))->bio_write(data, n, put);
}

int bio_read_ex(BIO* b, char* data, std::size_t n, std::size_t* got) {
  BIO_clear_retry_flags(b);
  return static_cast<tls_stream*>(BIO_get_data(b))->bio_read(data, n, got);
}

long bio_ctrl(BIO*, int cmd, long, void*) { return cmd == BIO_CTRL_FLUSH ? 1 : 0; }

BIO_METHOD* stream_bio_method() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "sluice stream");
    if (!m || !BIO_meth_set_write_ex(m, bio_write_ex) || !BIO_meth_set_read_ex(m, bio_read_ex) ||
        !BIO_meth_set_ctrl(m, bio_ctrl)) {
      std::fprintf(stderr, "sluice::tls: BIO_meth_new failed; aborting\n");
      std::abort();
    }
    return m;
  }();
  return method;
}

}  // namespace

server_options tls(ssl_ctx_st* ctx, server_options base) {
  if (!ctx) throw std::invalid_argument("sluice::tls: no SSL_CTX");
  SSL_CTX_up_ref(ctx);
  std::shared_ptr<SSL_CTX> shared(ctx, SSL_CTX_free);
  accept_hook inner = base.accept ? std::move(base.accept) : accept_hook(tcp_accept);
  base.accept = [shared, inner](listener& l) -> std::unique_ptr<stream> {
    std::unique_ptr<stream> s = inner(l);
    if (!s) return nullptr;
    return std::make_unique<tls_stream>(shared, std::move(s));
  };
  return base;
}

}  // namespace sluice
