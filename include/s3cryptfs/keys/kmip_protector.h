#pragma once

#include <string>

#include "s3cryptfs/keys/key_protector.h"
#include "s3cryptfs/keys/kmip_client.h"

namespace s3cryptfs::keys {

inline constexpr std::string_view kKmipProtectorType = "kmip";

struct KmipProtectorConfig {
  KmipClientConfig client;
  // The Unique Identifier of an active AES-256 key on the server. Empty: wrap creates one when
  // create_key is set (and records it in the copy); unwrap takes it from the copy.
  std::string key_id;
  bool create_key = false;
};

// Wraps the volume key by KMIP Encrypt with AES-256-GCM under a key that stays on the server:
// a 12-byte IV chosen here, a 16-byte tag, the key context as Authenticated Encryption
// Additional Data; unwraps by Decrypt. Wrapped = IV ‖ ciphertext ‖ tag; params "key-id",
// "mechanism" ("aes-gcm") and "version". Unwrap uses the copy's key-id (it names the key that
// made it), the config's only if the copy has none.
// Errors: a wrong context, a tampered copy or another key: kPermissionDenied ("KMIP key does
// not unlock this volume"); a revoked (not Active) key: kPermissionDenied with the server's
// reason; a destroyed key or one of another client identity: kNotFound; TLS and connection
// failures as crypto::TlsStream says, within the timeout.
class KmipProtector final : public KeyProtector {
 public:
  explicit KmipProtector(KmipProtectorConfig config);
  ~KmipProtector() override;
  KmipProtector(const KmipProtector&) = delete;
  KmipProtector& operator=(const KmipProtector&) = delete;
  KmipProtector(KmipProtector&&) = default;
  KmipProtector& operator=(KmipProtector&&) = default;

  std::string type() const override { return std::string(kKmipProtectorType); }
  Result<WrappedKey> wrap(const SecureBuffer& volume_key, const KeyContext& context) override;
  Result<SecureBuffer> unwrap(const WrappedKey& wrapped, const KeyContext& context) override;
  // KMIP has no re-encrypt operation (and PyKMIP no ReKey): Decrypt under the copy's key, then
  // Encrypt under the configured key-id (or a created key). The volume key passes through this
  // process in locked memory, as in unwrap.
  Result<WrappedKey> rewrap(const WrappedKey& wrapped, const KeyContext& context) override;

 private:
  KmipProtectorConfig config_;
};

}  // namespace s3cryptfs::keys
