#pragma once

// A minimal KMIP client over mutual TLS: the operations the KMIP protector needs (Create,
// Activate, Encrypt, Decrypt) and the ones an operator or a test needs to retire a key (Revoke,
// Destroy). Messages per KMIP Specification v1.4 §7 (message structures) and §4 (operations);
// one batch item per request.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "s3cryptfs/core/bytes.h"
#include "s3cryptfs/core/result.h"
#include "s3cryptfs/core/secure_buffer.h"
#include "s3cryptfs/crypto/tls_stream.h"
#include "s3cryptfs/keys/kmip_messages.h"
#include "s3cryptfs/keys/kmip_ttlv.h"

namespace s3cryptfs::keys {

inline constexpr uint16_t kKmipDefaultPort = 5696;  // IANA "kmip"

struct KmipClientConfig {
  std::string host;
  uint16_t port = kKmipDefaultPort;
  std::string ca_file;    // verifies the server
  std::string cert_file;  // our client certificate: the server's idea of who we are
  std::string key_file;
  // 1.4 or 2.0. Authenticated encryption (AES-GCM tag and additional data) needs 1.4 or later.
  KmipVersion version;
  // Bounds the whole session: connection, handshake and every call made on it.
  std::chrono::milliseconds timeout{10000};
};

// Enumeration values of Result Reason (KMIP 1.4 §9.1.3.2.29) the callers act on.
namespace kmip::reason {
inline constexpr uint32_t kItemNotFound = 0x01;
inline constexpr uint32_t kAuthenticationNotSuccessful = 0x03;
inline constexpr uint32_t kCryptographicFailure = 0x0A;
inline constexpr uint32_t kPermissionDenied = 0x0C;
inline constexpr uint32_t kGeneralFailure = 0x100;
}  // namespace kmip::reason

// One TLS session with a KMIP server. A failed operation is an Error whose serviceCode() names
// the Result Reason ("Item Not Found", ...) and whose httpStatus() carries its numeric value;
// kinds: Item Not Found kNotFound, Permission Denied / Authentication Not Successful
// kPermissionDenied, anything else kIo; transport failures as crypto::TlsStream says. Never puts
// key material in a message. Not thread-safe: one caller at a time.
class KmipClient {
 public:
  static Result<std::unique_ptr<KmipClient>> connect(const KmipClientConfig& config);
  ~KmipClient();
  KmipClient(const KmipClient&) = delete;
  KmipClient& operator=(const KmipClient&) = delete;
  KmipClient(KmipClient&&) = delete;
  KmipClient& operator=(KmipClient&&) = delete;

  // Create: a symmetric AES key of `bits` for Encrypt and Decrypt, in the Pre-Active state.
  // Returns its Unique Identifier.
  Result<std::string> createAesKey(int bits);
  Status activate(const std::string& id);
  Status revoke(const std::string& id, KmipRevocationReason reason);
  Status destroy(const std::string& id);

  struct GcmSealed {
    Bytes ciphertext;
    Bytes tag;  // 16 bytes
  };
  // AES-GCM with a 16-byte tag under the server's key `id`; `iv` chosen by the caller.
  Result<GcmSealed> encryptGcm(const std::string& id, ByteSpan plaintext, ByteSpan iv,
                               ByteSpan additional_data);
  Result<SecureBuffer> decryptGcm(const std::string& id, ByteSpan ciphertext, ByteSpan iv,
                                  ByteSpan additional_data, ByteSpan tag);

  const KmipClientConfig& config() const { return config_; }

 private:
  KmipClient(KmipClientConfig config, std::unique_ptr<crypto::TlsStream> stream,
             crypto::TlsStream::Clock::time_point deadline);
  // Sends one request and returns the batch item's Response Payload (empty structure if none).
  // `secret_request` / `secret_response`: scrub the encodings (they carry a key).
  Result<kmip::Item> call(uint32_t operation, kmip::Item payload, bool secret_request,
                          bool secret_response);

  KmipClientConfig config_;
  std::unique_ptr<crypto::TlsStream> stream_;
  crypto::TlsStream::Clock::time_point deadline_;
};

}  // namespace s3cryptfs::keys
