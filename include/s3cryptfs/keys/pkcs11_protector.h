#pragma once

#include <memory>
#include <string>

#include "s3cryptfs/keys/key_protector.h"
#include "s3cryptfs/keys/passphrase.h"

namespace s3cryptfs::keys {

inline constexpr std::string_view kPkcs11ProtectorType = "pkcs11";
inline constexpr std::string_view kDefaultPkcs11Module = "/usr/lib/softhsm/libsofthsm2.so";

enum class Pkcs11Mechanism {
  // CKM_AES_GCM in the token: 12-byte IV chosen here, 128-bit tag, AAD = the key context.
  kAesGcm,
  // CKM_AES_KEY_WRAP_PAD (RFC 5649) in the token wraps a random 32-byte intermediate key; the
  // volume key is sealed under it with AES-256-GCM here, since key wrap takes no AAD and the
  // copy must still be bound to its context.
  kAesKeyWrapPad,
};

struct Pkcs11Config {
  std::string module_path = std::string(kDefaultPkcs11Module);
  std::string token_label;  // found by label: slot numbers change when tokens are added
  std::string key_label;    // CKA_LABEL of the AES-256 key
  std::shared_ptr<PassphraseSource> pin;  // user PIN, from a file or the environment
  Pkcs11Mechanism mechanism = Pkcs11Mechanism::kAesGcm;
  // wrap creates the key when none has the label: AES-256, token object, sensitive,
  // non-extractable, encrypt/decrypt/wrap/unwrap.
  bool create_key_if_missing = false;
};

// Wraps the volume key with a key that never leaves the token. params store "token", "key" and
// "mechanism" ("aes-gcm" or "aes-key-wrap-pad"); unwrap takes the token and key labels from the
// config if set, else from params. Errors: token not found is kNotFound naming the label, a
// rejected PIN kPermissionDenied, a copy the HSM key does not open kPermissionDenied.
class Pkcs11Protector final : public KeyProtector {
 public:
  explicit Pkcs11Protector(Pkcs11Config config);
  ~Pkcs11Protector() override;
  Pkcs11Protector(const Pkcs11Protector&) = delete;
  Pkcs11Protector& operator=(const Pkcs11Protector&) = delete;
  Pkcs11Protector(Pkcs11Protector&&) = default;
  Pkcs11Protector& operator=(Pkcs11Protector&&) = default;

  std::string type() const override { return std::string(kPkcs11ProtectorType); }
  Result<WrappedKey> wrap(const SecureBuffer& volume_key, const KeyContext& context) override;
  Result<SecureBuffer> unwrap(const WrappedKey& wrapped, const KeyContext& context) override;

 private:
  Pkcs11Config config_;
};

}  // namespace s3cryptfs::keys
