#include "s3cryptfs/keys/passphrase_protector.h"

#include "s3cryptfs/crypto/aead.h"
#include "s3cryptfs/crypto/random.h"

#include "wrap_support.h"

namespace s3cryptfs::keys {

namespace {
constexpr std::string_view kWrapLabel = "s3cryptfs passphrase wrap v1";
constexpr std::string_view kDenied = "passphrase does not unlock this volume";
constexpr size_t kSaltSize = 16;
}  // namespace

PassphraseProtector::PassphraseProtector(std::unique_ptr<PassphraseSource> source,
                                         crypto::ScryptParams cost)
    : source_(std::move(source)), cost_(cost) {}

crypto::ScryptParams PassphraseProtector::testOnlyCost() {
  return crypto::ScryptParams{uint64_t{1} << 10, 8, 1};
}

Result<WrappedKey> PassphraseProtector::wrap(const SecureBuffer& volume_key,
                                             const KeyContext& context) {
  S3C_RETURN_IF_ERROR(detail::checkVolumeKey(volume_key));
  S3C_ASSIGN_OR_RETURN(SecureBuffer passphrase, source_->read(/*confirm=*/true));
  S3C_ASSIGN_OR_RETURN(Bytes salt, crypto::randomBytes(kSaltSize));
  S3C_ASSIGN_OR_RETURN(SecureBuffer stretched,
                       crypto::scrypt(passphrase.span(), salt, cost_, crypto::kAeadKeySize));
  S3C_ASSIGN_OR_RETURN(SecureBuffer kek, detail::deriveKek(stretched, kWrapLabel));
  WrappedKey out;
  out.type = type();
  out.params["kdf"] = "scrypt";
  out.params["n"] = std::to_string(cost_.n);
  out.params["r"] = std::to_string(cost_.r);
  out.params["p"] = std::to_string(cost_.p);
  out.params["salt"] = toBase64(salt);
  S3C_ASSIGN_OR_RETURN(out.wrapped, detail::sealVolumeKey(kek, out.type, context, volume_key));
  return out;
}

Result<SecureBuffer> PassphraseProtector::unwrap(const WrappedKey& wrapped,
                                                 const KeyContext& context) {
  S3C_RETURN_IF_ERROR(detail::checkType(wrapped, type()));
  S3C_ASSIGN_OR_RETURN(std::string kdf, detail::paramString(wrapped.params, "kdf"));
  if (kdf != "scrypt") {
    return Error(ErrorKind::kCorrupt, "passphrase copy uses unknown kdf '" + kdf + "'");
  }
  // The params come from the bucket before anything authenticates them: bound them so a forged
  // copy cannot make us allocate without limit (crypto::scrypt caps memory too).
  crypto::ScryptParams cost;
  S3C_ASSIGN_OR_RETURN(cost.n, detail::paramU64(wrapped.params, "n", 2, uint64_t{1} << 24));
  if ((cost.n & (cost.n - 1)) != 0) {
    return Error(ErrorKind::kCorrupt, "wrapped key parameter 'n' is not a power of two");
  }
  S3C_ASSIGN_OR_RETURN(uint64_t r, detail::paramU64(wrapped.params, "r", 1, 64));
  S3C_ASSIGN_OR_RETURN(uint64_t p, detail::paramU64(wrapped.params, "p", 1, 64));
  cost.r = static_cast<uint32_t>(r);
  cost.p = static_cast<uint32_t>(p);
  S3C_ASSIGN_OR_RETURN(std::string salt_text, detail::paramString(wrapped.params, "salt"));
  Bytes salt;
  if (!fromBase64(salt_text, salt) || salt.empty()) {
    return Error(ErrorKind::kCorrupt, "wrapped key parameter 'salt' is not base64");
  }
  S3C_ASSIGN_OR_RETURN(SecureBuffer passphrase, source_->read(/*confirm=*/false));
  auto stretched = crypto::scrypt(passphrase.span(), salt, cost, crypto::kAeadKeySize);
  if (!stretched) {
    // OpenSSL refusing the cost means the stored params are unusable, not a bad passphrase.
    return Error(ErrorKind::kCorrupt,
                 "passphrase copy has unusable scrypt parameters: " + stretched.error().message());
  }
  S3C_ASSIGN_OR_RETURN(SecureBuffer kek, detail::deriveKek(*stretched, kWrapLabel));
  return detail::openVolumeKey(kek, type(), context, wrapped.wrapped, kDenied);
}

}  // namespace s3cryptfs::keys
