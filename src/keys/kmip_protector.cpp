#include "s3cryptfs/keys/kmip_protector.h"

#include "s3cryptfs/core/log.h"
#include "s3cryptfs/crypto/random.h"

#include "wrap_support.h"

namespace s3cryptfs::keys {

namespace {
constexpr std::string_view kDenied = "KMIP key does not unlock this volume";
constexpr std::string_view kMechanism = "aes-gcm";
constexpr size_t kIvSize = 12;
constexpr size_t kTagSize = 16;
constexpr int kKeyBits = 256;

// What a failed Decrypt means for the user. A GCM tag that does not verify is reported as
// Cryptographic Failure by the specification (KMIP 1.4 §4.30) and as General Failure by PyKMIP
// 0.10 (its engine turns the InvalidTag exception into one): both mean "not this key or not
// this context".
Error keyError(const Error& error, const std::string& key_id, bool decrypting) {
  int reason = error.httpStatus();
  if (decrypting && error.kind() == ErrorKind::kIo &&
      (reason == kmip::reason::kCryptographicFailure || reason == kmip::reason::kGeneralFailure)) {
    return Error(ErrorKind::kPermissionDenied,
                 std::string(kDenied) + " (server answered " + error.serviceCode() + ")");
  }
  if (error.kind() == ErrorKind::kNotFound) {
    return Error(ErrorKind::kNotFound,
                 "KMIP key '" + key_id +
                     "' not found on the server: destroyed, or owned by another client identity "
                     "(the client certificate's subject). " +
                     error.message());
  }
  if (error.kind() == ErrorKind::kPermissionDenied) {
    return Error(ErrorKind::kPermissionDenied,
                 "KMIP key '" + key_id +
                     "' refused (revoked, deactivated or not usable by this "
                     "client): " +
                     error.message());
  }
  return error;
}
}  // namespace

KmipProtector::KmipProtector(KmipProtectorConfig config) : config_(std::move(config)) {}
KmipProtector::~KmipProtector() = default;

Result<WrappedKey> KmipProtector::wrap(const SecureBuffer& volume_key, const KeyContext& context) {
  S3C_RETURN_IF_ERROR(detail::checkVolumeKey(volume_key));
  if (config_.key_id.empty() && !config_.create_key) {
    return Error(ErrorKind::kInvalidArgument,
                 "a kmip protector needs key-id= (an existing key) or create-key=yes to wrap");
  }
  S3C_ASSIGN_OR_RETURN(auto client, KmipClient::connect(config_.client));
  std::string key_id = config_.key_id;
  if (key_id.empty()) {
    S3C_ASSIGN_OR_RETURN(key_id, client->createAesKey(kKeyBits));
    // Create leaves the key Pre-Active (KMIP 1.4 §3.22): it must be activated before use.
    S3C_RETURN_IF_ERROR(client->activate(key_id));
    log::info("created and activated AES-256 key '{}' on KMIP server {}:{}", key_id,
              config_.client.host, config_.client.port);
  }
  Bytes iv(kIvSize);
  S3C_RETURN_IF_ERROR(crypto::fillRandom(iv));
  Bytes aad = detail::contextAad(type(), context);
  auto sealed = client->encryptGcm(key_id, volume_key.span(), iv, aad);
  if (!sealed) return keyError(sealed.error(), key_id, false);
  WrappedKey out;
  out.type = type();
  out.params["key-id"] = key_id;
  out.params["mechanism"] = std::string(kMechanism);
  out.params["version"] = config_.client.version.text();
  out.wrapped = iv;
  out.wrapped.insert(out.wrapped.end(), sealed->ciphertext.begin(), sealed->ciphertext.end());
  out.wrapped.insert(out.wrapped.end(), sealed->tag.begin(), sealed->tag.end());
  return out;
}

Result<SecureBuffer> KmipProtector::unwrap(const WrappedKey& wrapped, const KeyContext& context) {
  S3C_RETURN_IF_ERROR(detail::checkType(wrapped, type()));
  S3C_ASSIGN_OR_RETURN(std::string mechanism, detail::paramString(wrapped.params, "mechanism"));
  if (mechanism != kMechanism) {
    return Error(ErrorKind::kCorrupt, "kmip copy uses unknown mechanism '" + mechanism + "'");
  }
  std::string key_id;
  if (auto it = wrapped.params.find("key-id"); it != wrapped.params.end() && !it->second.empty()) {
    key_id = it->second;
  } else if (!config_.key_id.empty()) {
    key_id = config_.key_id;
  } else {
    return Error(ErrorKind::kCorrupt, "wrapped key lacks parameter 'key-id'");
  }
  if (wrapped.wrapped.size() != kIvSize + kVolumeKeySize + kTagSize) {
    return Error(ErrorKind::kCorrupt,
                 "wrapped kmip key has " + std::to_string(wrapped.wrapped.size()) +
                     " bytes, expected " + std::to_string(kIvSize + kVolumeKeySize + kTagSize));
  }
  ByteSpan all(wrapped.wrapped);
  S3C_ASSIGN_OR_RETURN(auto client, KmipClient::connect(config_.client));
  auto key = client->decryptGcm(key_id, all.subspan(kIvSize, kVolumeKeySize), all.first(kIvSize),
                                detail::contextAad(type(), context), all.last(kTagSize));
  if (!key) return keyError(key.error(), key_id, true);
  if (key->size() != kVolumeKeySize)
    return Error(ErrorKind::kPermissionDenied, std::string(kDenied));
  return key;
}

Result<WrappedKey> KmipProtector::rewrap(const WrappedKey& wrapped, const KeyContext& context) {
  if (config_.key_id.empty() && !config_.create_key) {
    return Error(ErrorKind::kInvalidArgument,
                 "kmip rewrap needs the new key: key-id= (an active key) or create-key=yes");
  }
  // Decrypt under the copy's own key, whatever key-id is configured.
  KmipProtectorConfig source = config_;
  source.key_id.clear();
  S3C_ASSIGN_OR_RETURN(SecureBuffer volume_key, KmipProtector(source).unwrap(wrapped, context));
  S3C_ASSIGN_OR_RETURN(WrappedKey out, wrap(volume_key, context));
  log::info("KMIP copy moved from key '{}' to key '{}'",
            wrapped.params.count("key-id") ? wrapped.params.at("key-id") : "?",
            out.params["key-id"]);
  return out;
}

}  // namespace s3cryptfs::keys
