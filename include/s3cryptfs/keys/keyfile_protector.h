#pragma once

#include <string>

#include "s3cryptfs/keys/key_protector.h"

namespace s3cryptfs::keys {

inline constexpr std::string_view kKeyFileProtectorType = "keyfile";
inline constexpr size_t kKeyFileKeySize = 32;

// Creates a key file with 32 random bytes, base64 text plus a newline, mode 0600. Refuses to
// overwrite anything (O_EXCL, no symlink followed): kAlreadyExists.
Status generateKeyFile(const std::string& path);

// Reads a key file: exactly 32 raw bytes, or their base64 text with optional surrounding
// whitespace. A file readable by group or others is accepted with a warning in the log (its
// owner may have a reason; refusing would break volumes on shared read-only media).
// kNotFound / kPermissionDenied / kIo for the file, kInvalidArgument for wrong content.
Result<SecureBuffer> readKeyFile(const std::string& path);

// Wraps with AES-256-GCM under HKDF-SHA256(file key, info "s3cryptfs keyfile wrap v1").
class KeyFileProtector final : public KeyProtector {
 public:
  // The file is read at each wrap/unwrap, so the key lives in memory only while it is used.
  explicit KeyFileProtector(std::string path);
  // For callers that already hold the key (tests, a key piped in): must be 32 bytes.
  static Result<KeyFileProtector> fromKey(SecureBuffer file_key);

  std::string type() const override { return std::string(kKeyFileProtectorType); }
  Result<WrappedKey> wrap(const SecureBuffer& volume_key, const KeyContext& context) override;
  Result<SecureBuffer> unwrap(const WrappedKey& wrapped, const KeyContext& context) override;

 private:
  Result<SecureBuffer> fileKey() const;
  std::string path_;
  SecureBuffer key_;  // set only by fromKey
};

}  // namespace s3cryptfs::keys
