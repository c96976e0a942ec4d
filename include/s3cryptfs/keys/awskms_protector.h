#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "s3cryptfs/http/aws_config.h"
#include "s3cryptfs/http/http_client.h"
#include "s3cryptfs/http/sigv4.h"
#include "s3cryptfs/keys/key_protector.h"

namespace s3cryptfs::keys {

inline constexpr std::string_view kAwsKmsProtectorType = "awskms";

struct AwsKmsConfig {
  // Key id, key ARN, alias name ("alias/x") or alias ARN. Needed to wrap; unwrap uses the key
  // ARN stored with the copy when this is empty.
  std::string key_id;
  // Region, endpoint and profile: each, when set, wins over the environment and the shared AWS
  // files (http::resolveAwsSettings with service "kms").
  http::AwsExplicitSettings aws;
  // The environment the AWS settings are read from; nullopt: the process environment.
  std::optional<http::Environment> environment;
  std::chrono::milliseconds timeout{10000};  // each KMS call, connection included
  std::string ca_bundle;  // PEM CA file for HTTPS; empty: $AWS_CA_BUNDLE, else the system's
};

// Wraps the volume key with AWS KMS Encrypt, unwraps with Decrypt (JSON 1.1 protocol, SigV4).
// The EncryptionContext binds the copy to the volume: {"s3cryptfs:volume": volume id hex,
// "s3cryptfs:key-version": decimal}; KMS refuses to decrypt under any other context. params
// store "key-arn" (the key KMS used), "region" and, when not AWS's own, "endpoint".
// Errors: a wrong context, a tampered or foreign blob, or another key are kPermissionDenied;
// a disabled, pending-deletion or unavailable key kPermissionDenied naming the key state;
// rejected credentials kPermissionDenied; no credentials kInvalidArgument; an unreachable or
// slow endpoint kTransient within the timeout.
class AwsKmsProtector final : public KeyProtector {
 public:
  explicit AwsKmsProtector(AwsKmsConfig config);
  ~AwsKmsProtector() override;
  AwsKmsProtector(const AwsKmsProtector&) = delete;
  AwsKmsProtector& operator=(const AwsKmsProtector&) = delete;
  AwsKmsProtector(AwsKmsProtector&&) = default;
  AwsKmsProtector& operator=(AwsKmsProtector&&) = default;

  std::string type() const override { return std::string(kAwsKmsProtectorType); }
  Result<WrappedKey> wrap(const SecureBuffer& volume_key, const KeyContext& context) override;
  Result<SecureBuffer> unwrap(const WrappedKey& wrapped, const KeyContext& context) override;
  // ReEncrypt: KMS decrypts and encrypts again under key_id (default: the copy's key, so a
  // rotated key's newest material) with the same context; the key never leaves KMS.
  Result<WrappedKey> rewrap(const WrappedKey& wrapped, const KeyContext& context) override;

 private:
  AwsKmsConfig config_;
};

// The request of one AWS KMS JSON call (POST / with X-Amz-Target TrentService.<operation>),
// SigV4-signed the way KMS expects; its body points at `body`, which must outlive it. The
// protector and the tests' KMS admin client both send it.
Result<http::Request> signedKmsRequest(const std::string& endpoint_url,
                                       const std::string& operation, std::string_view body,
                                       const http::Credentials& credentials,
                                       const std::string& region);

}  // namespace s3cryptfs::keys
