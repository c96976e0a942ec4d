#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "s3cryptfs/keys/key_protector.h"

namespace s3cryptfs::keys {

inline constexpr std::string_view kVaultProtectorType = "vault";
inline constexpr std::string_view kDefaultTransitMount = "transit";
inline constexpr std::string_view kDefaultKubernetesJwt =
    "/var/run/secrets/kubernetes.io/serviceaccount/token";

// Where the Vault token comes from: exactly one of these.
struct VaultAuth {
  std::string token_file;  // a file holding the token (e.g. written by Vault Agent)
  std::string token_env;   // an environment variable holding the token
  // Kubernetes auth: POST auth/<k8s_mount>/login with the role and the service-account JWT.
  std::string k8s_role;
  std::string k8s_jwt_file = std::string(kDefaultKubernetesJwt);
  std::string k8s_mount = "kubernetes";
};

struct VaultConfig {
  std::string address;     // "https://vault.example:8200"
  std::string key;         // the transit key name
  std::string mount;       // the transit engine's mount path; empty: the copy's, else "transit"
  std::string namespace_;  // Vault Enterprise / HCP namespace (X-Vault-Namespace); empty: none
  std::string ca_bundle;   // PEM CA file to verify Vault's certificate; empty: the system's
  VaultAuth auth;
  std::chrono::milliseconds timeout{10000};  // each Vault call, connection included
};

// Wraps the volume key with Vault's transit engine. Vault encrypts a fresh random 32-byte
// intermediate key (POST <mount>/encrypt/<key>, with the key context, base64, as `context`:
// required and binding when the transit key is derived, ignored by Vault otherwise); the volume
// key is sealed here with AES-256-GCM under HKDF(intermediate) with the key context as AAD, so
// the copy is bound to its volume and key version whatever the transit key's settings, and
// rewrap (a new transit key version) touches only Vault's ciphertext.
// params: "ciphertext" ("vault:v<N>:..."), "key-version" (N), "key", "mount", "namespace" (when
// set); wrapped = the local seal (nonce ‖ ciphertext ‖ tag).
// Errors: a wrong or expired token, a failed Kubernetes login or a namespace it is not valid in:
// kPermissionDenied naming the address; a wrong context or a tampered copy: kPermissionDenied
// ("Vault key does not unlock this volume"); no such key or mount: kNotFound; a sealed or
// unreachable Vault: kTransient within the timeout.
class VaultProtector final : public KeyProtector {
 public:
  explicit VaultProtector(VaultConfig config);
  ~VaultProtector() override;
  VaultProtector(const VaultProtector&) = delete;
  VaultProtector& operator=(const VaultProtector&) = delete;
  VaultProtector(VaultProtector&&) = default;
  VaultProtector& operator=(VaultProtector&&) = default;

  std::string type() const override { return std::string(kVaultProtectorType); }
  Result<WrappedKey> wrap(const SecureBuffer& volume_key, const KeyContext& context) override;
  Result<SecureBuffer> unwrap(const WrappedKey& wrapped, const KeyContext& context) override;
  // The same copy with Vault's ciphertext re-encrypted under the newest version of the transit
  // key (POST <mount>/rewrap/<key>); Vault never returns the plaintext. The local seal is
  // unchanged.
  Result<WrappedKey> rewrap(const WrappedKey& wrapped, const KeyContext& context) override;

 private:
  VaultConfig config_;
};

}  // namespace s3cryptfs::keys
