#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "s3cryptfs/core/bytes.h"
#include "s3cryptfs/core/result.h"
#include "s3cryptfs/core/secure_buffer.h"

namespace s3cryptfs::keys {

inline constexpr size_t kVolumeKeySize = 32;

// One wrapped copy of a volume key as a protector produced it. The descriptor (format module)
// stores these fields in a ProtectorSlot next to the slot id, which is the caller's business.
struct WrappedKey {
  std::string type;  // the protector type that made it, e.g. "keyfile"
  std::map<std::string, std::string> params;
  Bytes wrapped;
};

// What a wrapped key is bound to: a copy made for one volume or key version does not unwrap
// for another (it is the AEAD associated data, or the KMS encryption context).
struct KeyContext {
  std::string volume_id_hex;
  uint32_t key_version = 0;
};

// Wraps and unwraps a volume key. Errors: a wrong key, passphrase, PIN or share set, tampered
// wrapped bytes or a wrong context are kPermissionDenied ("... does not unlock this volume");
// params that cannot be parsed are kCorrupt. No error message ever carries secret material.
class KeyProtector {
 public:
  KeyProtector() = default;
  virtual ~KeyProtector();
  KeyProtector(const KeyProtector&) = delete;
  KeyProtector& operator=(const KeyProtector&) = delete;
  KeyProtector(KeyProtector&&) = default;
  KeyProtector& operator=(KeyProtector&&) = default;
  virtual std::string type() const = 0;
  // volume_key must be kVolumeKeySize bytes.
  virtual Result<WrappedKey> wrap(const SecureBuffer& volume_key, const KeyContext& context) = 0;
  virtual Result<SecureBuffer> unwrap(const WrappedKey& wrapped, const KeyContext& context) = 0;
  // The same volume key in a new copy under the key service's newest key version or the key
  // this protector is configured with (`s3cryptfs rewrap`, FORMAT.md §7.3: the caller replaces
  // the slot). Where the service can re-encrypt by itself (Vault rewrap, KMS ReEncrypt) the
  // volume key never reaches this process. Default: kUnsupported, for protectors without a key
  // service (add a new protector and remove the old one instead).
  virtual Result<WrappedKey> rewrap(const WrappedKey& wrapped, const KeyContext& context);
};

}  // namespace s3cryptfs::keys
