#pragma once

// A TLS client connection (TLS 1.2 or later) over TCP, with the peer verified against a given CA
// and an optional client certificate (mutual TLS): the transport of protocols that are not HTTP
// (KMIP). OpenSSL stays behind this interface.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "s3cryptfs/core/bytes.h"
#include "s3cryptfs/core/result.h"

namespace s3cryptfs::crypto {

struct TlsClientOptions {
  std::string host;  // name or IP address; the server certificate must match it (SAN)
  uint16_t port = 0;
  std::string ca_file;    // PEM CA certificates the server's chain must end at; required
  std::string cert_file;  // PEM client certificate (chain); empty: no client certificate
  std::string key_file;   // PEM private key of cert_file
};

// Errors, each naming host:port: refused / unreachable / reset / deadline passed are
// kTransient; a server certificate that does not verify (wrong CA, wrong name, expired) is
// kInvalidArgument with OpenSSL's reason; a handshake the server refuses (our certificate not
// accepted) is kPermissionDenied; unreadable CA, certificate or key files are kInvalidArgument.
// The deadline bounds everything, from name resolution (numeric hosts only: a DNS lookup is not
// interruptible) to the last byte.
class TlsStream {
 public:
  using Clock = std::chrono::steady_clock;

  static Result<std::unique_ptr<TlsStream>> connect(const TlsClientOptions& options,
                                                    Clock::time_point deadline);
  ~TlsStream();
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;
  TlsStream(TlsStream&&) = delete;
  TlsStream& operator=(TlsStream&&) = delete;

  Status writeAll(ByteSpan data, Clock::time_point deadline);
  // Fills `out` completely; a connection closed before that is kTransient.
  Status readExact(MutableByteSpan out, Clock::time_point deadline);
  // "TLSv1.2" etc., for log lines.
  std::string protocolVersion() const;

 private:
  struct State;
  explicit TlsStream(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace s3cryptfs::crypto
