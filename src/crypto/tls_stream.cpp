#include "s3cryptfs/crypto/tls_stream.h"

#include <arpa/inet.h>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "openssl_support.h"

namespace s3cryptfs::crypto {

namespace {

struct SslCtxDeleter {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
struct SslDeleter {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};

std::string errnoText(int err) {
  char buffer[256];
  return ::strerror_r(err, buffer, sizeof buffer);  // GNU variant: returns the message
}

// The first reason on OpenSSL's error queue, then the queue cleared.
std::string takeOpensslReason() {
  unsigned long code = ERR_peek_last_error();
  std::string reason;
  if (code != 0) {
    const char* text = ERR_reason_error_string(code);
    reason = text != nullptr ? text : "error " + std::to_string(code);
  }
  ERR_clear_error();
  return reason;
}

int millisecondsLeft(TlsStream::Clock::time_point deadline) {
  auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - TlsStream::Clock::now());
  return left.count() <= 0 ? 0 : static_cast<int>(std::min<int64_t>(left.count(), 1 << 30));
}

// Waits until fd is readable (or writable); false when the deadline passed first.
bool waitFor(int fd, bool for_write, TlsStream::Clock::time_point deadline) {
  while (true) {
    pollfd p{fd, static_cast<short>(for_write ? POLLOUT : POLLIN), 0};
    int left = millisecondsLeft(deadline);
    if (left == 0) return false;
    int n = ::poll(&p, 1, left);
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return false;
  }
}

// A write to a connection the peer has closed raises SIGPIPE, which kills a process that has
// not ignored it (a CLI command, unlike the FUSE daemon). OpenSSL writes with write(2), so no
// MSG_NOSIGNAL: block SIGPIPE on this thread around our writes and discard one we caused.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigset_t pipe_only;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    sigset_t pending;
    sigemptyset(&pending);
    ::sigpending(&pending);
    already_pending_ = sigismember(&pending, SIGPIPE) == 1;
    ::pthread_sigmask(SIG_BLOCK, &pipe_only, &saved_);
  }
  ~SigpipeGuard() {
    sigset_t pending;
    sigemptyset(&pending);
    ::sigpending(&pending);
    if (!already_pending_ && sigismember(&pending, SIGPIPE) == 1) {
      sigset_t pipe_only;
      sigemptyset(&pipe_only);
      sigaddset(&pipe_only, SIGPIPE);
      timespec zero{};
      ::sigtimedwait(&pipe_only, nullptr, &zero);
    }
    ::pthread_sigmask(SIG_SETMASK, &saved_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;
  SigpipeGuard(SigpipeGuard&&) = delete;
  SigpipeGuard& operator=(SigpipeGuard&&) = delete;

 private:
  sigset_t saved_{};
  bool already_pending_ = false;
};

bool isIpAddress(const std::string& host) {
  in6_addr v6{};
  in_addr v4{};
  return ::inet_pton(AF_INET, host.c_str(), &v4) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), &v6) == 1;
}
}  // namespace

struct TlsStream::State {
  std::string where;  // "host:port"
  int fd = -1;
  std::unique_ptr<SSL_CTX, SslCtxDeleter> ctx;
  std::unique_ptr<SSL, SslDeleter> ssl;
  ~State() {
    if (ssl) {
      SigpipeGuard guard;
      SSL_shutdown(ssl.get());  // best effort close_notify; never waits
    }
    ssl.reset();
    if (fd >= 0) ::close(fd);
  }
  State() = default;
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  State(State&&) = delete;
  State& operator=(State&&) = delete;

  Error transient(const std::string& what) const {
    return Error(ErrorKind::kTransient, "TLS " + where + ": " + what);
  }
  Error timedOut(const char* during) const {
    return Error(ErrorKind::kTransient, ETIMEDOUT, "TLS " + where + ": timed out " + during);
  }
  // Runs an SSL call until it completes, waiting on the socket as OpenSSL asks.
  template <class Call>
  Result<int> drive(Call call, const char* during, Clock::time_point deadline) {
    while (true) {
      ERR_clear_error();
      int rc = call();
      if (rc > 0) return rc;
      int err = SSL_get_error(ssl.get(), rc);
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
        if (!waitFor(fd, err == SSL_ERROR_WANT_WRITE, deadline)) return timedOut(during);
        continue;
      }
      if (err == SSL_ERROR_ZERO_RETURN) {
        return transient(std::string("connection closed by the server ") + during);
      }
      if (err == SSL_ERROR_SYSCALL) {
        int saved = errno;
        std::string reason = takeOpensslReason();
        return transient(std::string("connection lost ") + during + ": " +
                         (saved != 0       ? errnoText(saved)
                          : reason.empty() ? "unexpected end of stream"
                                           : reason));
      }
      return Error(ErrorKind::kIo,
                   "TLS " + where + ": failed " + during + ": " + takeOpensslReason());
    }
  }
};

TlsStream::TlsStream(std::unique_ptr<State> state) : state_(std::move(state)) {}
TlsStream::~TlsStream() = default;

Result<std::unique_ptr<TlsStream>> TlsStream::connect(const TlsClientOptions& options,
                                                      Clock::time_point deadline) {
  auto state = std::make_unique<State>();
  state->where = options.host + ":" + std::to_string(options.port);
  if (options.ca_file.empty()) {
    return Error(ErrorKind::kInvalidArgument,
                 "TLS " + state->where + ": a CA file is required to verify the server");
  }

  // Context: TLS 1.2+, the server verified against exactly the given CA file.
  state->ctx.reset(SSL_CTX_new(TLS_client_method()));
  if (!state->ctx) return detail::opensslError(ErrorKind::kInternal, "SSL_CTX_new");
  SSL_CTX_set_min_proto_version(state->ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_verify(state->ctx.get(), SSL_VERIFY_PEER, nullptr);
  if (SSL_CTX_load_verify_locations(state->ctx.get(), options.ca_file.c_str(), nullptr) != 1) {
    return Error(ErrorKind::kInvalidArgument, "TLS " + state->where + ": cannot load CA file " +
                                                  options.ca_file + ": " + takeOpensslReason());
  }
  if (!options.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(state->ctx.get(), options.cert_file.c_str()) != 1) {
      return Error(ErrorKind::kInvalidArgument, "TLS " + state->where +
                                                    ": cannot load client certificate " +
                                                    options.cert_file + ": " + takeOpensslReason());
    }
    const std::string& key = options.key_file.empty() ? options.cert_file : options.key_file;
    if (SSL_CTX_use_PrivateKey_file(state->ctx.get(), key.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(state->ctx.get()) != 1) {
      return Error(ErrorKind::kInvalidArgument,
                   "TLS " + state->where + ": cannot load the client key " + key +
                       " (or it does not match the certificate): " + takeOpensslReason());
    }
  }

  // TCP, non-blocking, connect bounded by the deadline.
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  std::string port_text = std::to_string(options.port);
  int gai = ::getaddrinfo(options.host.c_str(), port_text.c_str(), &hints, &found);
  if (gai != 0) return state->transient(std::string("cannot resolve: ") + ::gai_strerror(gai));
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> addresses(found, ::freeaddrinfo);
  std::string last_failure = "no address";
  for (addrinfo* a = addresses.get(); a != nullptr; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      last_failure = errnoText(errno);
      continue;
    }
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      if (!waitFor(fd, true, deadline)) {
        ::close(fd);
        return state->timedOut("connecting");
      }
      int so_error = 0;
      socklen_t length = sizeof so_error;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &length);
      rc = so_error == 0 ? 0 : -1;
      errno = so_error;
    }
    if (rc == 0) {
      state->fd = fd;
      break;
    }
    last_failure = errnoText(errno);
    ::close(fd);
  }
  if (state->fd < 0) return state->transient("cannot connect: " + last_failure);
  int one = 1;
  ::setsockopt(state->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

  // Handshake, with the server's name (or IP address) checked against its certificate.
  state->ssl.reset(SSL_new(state->ctx.get()));
  if (!state->ssl) return detail::opensslError(ErrorKind::kInternal, "SSL_new");
  SSL_set_fd(state->ssl.get(), state->fd);
  if (isIpAddress(options.host)) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(state->ssl.get()), options.host.c_str());
  } else {
    SSL_set_tlsext_host_name(state->ssl.get(), options.host.c_str());
    SSL_set1_host(state->ssl.get(), options.host.c_str());
  }
  SSL* ssl = state->ssl.get();
  SigpipeGuard guard;
  auto handshake = state->drive([ssl] { return SSL_connect(ssl); }, "in the handshake", deadline);
  if (!handshake) {
    long verify = SSL_get_verify_result(ssl);
    if (verify != X509_V_OK) {
      return Error(ErrorKind::kInvalidArgument,
                   "TLS " + state->where + ": the server certificate does not verify against " +
                       options.ca_file + ": " + X509_verify_cert_error_string(verify));
    }
    const std::string& message = handshake.error().message();
    if (message.find("alert") != std::string::npos) {
      // The server sent an alert: it refused us (our certificate, most often).
      return Error(ErrorKind::kPermissionDenied,
                   message + (options.cert_file.empty()
                                  ? " (the server may require a client certificate)"
                                  : " (the server did not accept the client certificate " +
                                        options.cert_file + ")"));
    }
    return std::move(handshake).error();
  }
  return std::unique_ptr<TlsStream>(new TlsStream(std::move(state)));
}

Status TlsStream::writeAll(ByteSpan data, Clock::time_point deadline) {
  SigpipeGuard guard;
  size_t done = 0;
  SSL* ssl = state_->ssl.get();
  while (done < data.size()) {
    const uint8_t* p = data.data() + done;
    int n = static_cast<int>(std::min<size_t>(data.size() - done, 1 << 20));
    S3C_ASSIGN_OR_RETURN(int written,
                         state_->drive([&] { return SSL_write(ssl, p, n); }, "writing", deadline));
    done += static_cast<size_t>(written);
  }
  return ok();
}

Status TlsStream::readExact(MutableByteSpan out, Clock::time_point deadline) {
  size_t done = 0;
  SSL* ssl = state_->ssl.get();
  while (done < out.size()) {
    uint8_t* p = out.data() + done;
    int n = static_cast<int>(std::min<size_t>(out.size() - done, 1 << 20));
    S3C_ASSIGN_OR_RETURN(int got,
                         state_->drive([&] { return SSL_read(ssl, p, n); }, "reading", deadline));
    done += static_cast<size_t>(got);
  }
  return ok();
}

std::string TlsStream::protocolVersion() const {
  return SSL_get_version(state_->ssl.get());
}

}  // namespace s3cryptfs::crypto
