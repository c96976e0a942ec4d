#pragma once

#include <memory>

#include "s3cryptfs/crypto/kdf.h"
#include "s3cryptfs/keys/key_protector.h"
#include "s3cryptfs/keys/passphrase.h"

namespace s3cryptfs::keys {

inline constexpr std::string_view kPassphraseProtectorType = "passphrase";

// scrypt(passphrase, random 16-byte salt) then AES-256-GCM as for a key file. The cost and the
// salt are stored in params ("kdf" = "scrypt", "n", "r", "p", "salt" base64), so unwrap uses the
// cost the copy was made with.
class PassphraseProtector final : public KeyProtector {
 public:
  // cost applies to new wraps; the default is N = 2^17, r = 8, p = 1 (128 MiB, ~0.3 s).
  explicit PassphraseProtector(std::unique_ptr<PassphraseSource> source,
                               crypto::ScryptParams cost = {});
  // A cheap cost for tests only (N = 2^10): never for a real volume.
  static crypto::ScryptParams testOnlyCost();

  std::string type() const override { return std::string(kPassphraseProtectorType); }
  Result<WrappedKey> wrap(const SecureBuffer& volume_key, const KeyContext& context) override;
  Result<SecureBuffer> unwrap(const WrappedKey& wrapped, const KeyContext& context) override;

 private:
  std::unique_ptr<PassphraseSource> source_;
  crypto::ScryptParams cost_;
};

}  // namespace s3cryptfs::keys
