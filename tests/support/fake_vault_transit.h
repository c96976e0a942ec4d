#pragma once
// A FAKE HashiCorp Vault, for tests only: neither Vault nor OpenBao can be installed on the
// build machines, so the Vault protector is tested against this small in-process server that
// follows the documented HTTP API (developer.hashicorp.com/vault/api-docs) for the calls we
// make:
//   POST /v1/<mount>/encrypt/<key>   {"plaintext": b64, "context": b64} -> data.ciphertext
//   POST /v1/<mount>/decrypt/<key>   {"ciphertext", "context"} -> data.plaintext
//   POST /v1/<mount>/rewrap/<key>    {"ciphertext", "context"} -> data.ciphertext (newest version)
//   POST /v1/auth/kubernetes/login   {"role", "jwt"} -> auth.client_token
// Ciphertexts are "vault:v<N>:<base64(nonce ‖ AES-256-GCM ciphertext ‖ tag)>" with one random
// key per version and the context as associated data (as a derived transit key binds it).
// It checks the X-Vault-Token header (403 {"errors":["permission denied"]}) and the
// X-Vault-Namespace header (must equal the configured namespace, or be absent when none),
// answers 400 {"errors":[...]} for bad ciphertexts as Vault does, and 503 when "sealed".
// Listens on 127.0.0.1, an ephemeral port; HTTPS when a certificate is given. What it does not
// model: policies beyond one token, token TTLs, convergent encryption, batch operations.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace s3cryptfs::test {

struct FakeVaultOptions {
  std::string token = "s.fake-root-token";
  std::string namespace_;  // empty: requests must carry no X-Vault-Namespace
  std::string mount = "transit";
  std::string k8s_role;  // Kubernetes login accepted for this role and JWT only
  std::string k8s_jwt;
  std::string k8s_token = "s.fake-k8s-token";  // the token a login returns
  std::string cert_file;                       // PEM; with key_file: serve HTTPS
  std::string key_file;
};

class FakeVaultTransit {
 public:
  explicit FakeVaultTransit(FakeVaultOptions options);  // listening on return
  ~FakeVaultTransit();
  FakeVaultTransit(const FakeVaultTransit&) = delete;
  FakeVaultTransit& operator=(const FakeVaultTransit&) = delete;

  std::string address() const;  // "http://127.0.0.1:PORT" or "https://..."
  void createKey(const std::string& name);
  void rotateKey(const std::string& name);  // adds a version; new encryptions use it
  void setMinDecryptionVersion(const std::string& name, int version);
  void setSealed(bool sealed);
  size_t requests() const;
  // The X-Vault-Namespace header of the last request ("" when absent).
  std::string lastNamespace() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace s3cryptfs::test
