#include "support/fake_vault_transit.h"

#include <httplib.h>
#include <regex>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "s3cryptfs/core/bytes.h"
#include "s3cryptfs/crypto/aead.h"
#include "s3cryptfs/crypto/random.h"

namespace s3cryptfs::test {

using nlohmann::json;

struct FakeVaultTransit::Impl {
  FakeVaultOptions options;
  std::unique_ptr<httplib::Server> server;
  std::thread thread;
  int port = 0;
  mutable std::mutex mutex;
  struct Key {
    std::vector<SecureBuffer> versions;  // index v-1
    int min_decryption_version = 1;
  };
  std::map<std::string, Key> keys;
  bool sealed = false;
  size_t requests = 0;
  std::string last_namespace;

  static void reply(httplib::Response& res, int status, const json& body) {
    res.status = status;
    res.set_content(body.dump(), "application/json");
  }
  static void fail(httplib::Response& res, int status, const std::string& message) {
    reply(res, status, {{"errors", {message}}});
  }

  // Common checks; false when a reply was already made.
  bool admit(const httplib::Request& req, httplib::Response& res, bool needs_token) {
    std::lock_guard lock(mutex);
    ++requests;
    last_namespace = req.get_header_value("X-Vault-Namespace");
    if (sealed) {
      fail(res, 503, "Vault is sealed");
      return false;
    }
    if (last_namespace != options.namespace_) {
      fail(res, 403, "permission denied");
      return false;
    }
    if (needs_token) {
      std::string token = req.get_header_value("X-Vault-Token");
      bool valid =
          token == options.token || (!options.k8s_role.empty() && token == options.k8s_token);
      if (!valid) {
        fail(res, 403, "permission denied");
        return false;
      }
    }
    return true;
  }

  std::string seal(const SecureBuffer& key, int version, ByteSpan plaintext, ByteSpan context) {
    auto aead = crypto::Aead::create(crypto::Cipher::kAes256Gcm, key);
    Bytes out(crypto::kAeadNonceSize + plaintext.size() + crypto::kAeadTagSize);
    MutableByteSpan nonce(out.data(), crypto::kAeadNonceSize);
    if (!aead || !crypto::fillRandom(nonce) ||
        !aead->seal(nonce, context, plaintext,
                    MutableByteSpan(out).subspan(crypto::kAeadNonceSize))) {
      throw std::runtime_error("fake vault: seal failed");
    }
    return "vault:v" + std::to_string(version) + ":" + toBase64(out);
  }

  // The plaintext of a "vault:v<N>:..." ciphertext, or an error message (HTTP 400).
  bool open(const Key& key, const std::string& ciphertext, ByteSpan context, Bytes& plaintext,
            std::string& error) {
    static const std::regex kFormat("^vault:v([0-9]+):(.*)$");
    std::smatch m;
    if (!std::regex_match(ciphertext, m, kFormat)) {
      error = "invalid ciphertext: no prefix";
      return false;
    }
    int version = std::stoi(m[1].str());
    if (version < key.min_decryption_version) {
      error = "ciphertext or signature version is disallowed by policy (too old)";
      return false;
    }
    if (version < 1 || version > static_cast<int>(key.versions.size())) {
      error = "invalid ciphertext: key version not found";
      return false;
    }
    Bytes raw;
    if (!fromBase64(m[2].str(), raw) ||
        raw.size() < crypto::kAeadNonceSize + crypto::kAeadTagSize) {
      error = "invalid ciphertext: could not decode";
      return false;
    }
    auto aead = crypto::Aead::create(crypto::Cipher::kAes256Gcm, key.versions[version - 1]);
    plaintext.assign(raw.size() - crypto::kAeadNonceSize - crypto::kAeadTagSize, 0);
    if (!aead || !aead->open(ByteSpan(raw).first(crypto::kAeadNonceSize), context,
                             ByteSpan(raw).subspan(crypto::kAeadNonceSize), plaintext)) {
      error = "cipher: message authentication failed";
      return false;
    }
    return true;
  }

  void transit(const httplib::Request& req, httplib::Response& res) {
    if (!admit(req, res, true)) return;
    const std::string mount = req.matches[1];
    const std::string operation = req.matches[2];
    const std::string name = req.matches[3];
    json body = json::parse(req.body, nullptr, false);
    if (mount != options.mount) {
      fail(res, 404, "no handler for route \"" + mount + "/" + operation + "/" + name + "\"");
      return;
    }
    if (!body.is_object()) {
      fail(res, 400, "failed to parse JSON input");
      return;
    }
    Bytes context;
    if (body.contains("context") && (!body["context"].is_string() ||
                                     !fromBase64(body["context"].get<std::string>(), context))) {
      fail(res, 400, "failed to base64-decode context");
      return;
    }
    std::lock_guard lock(mutex);
    auto it = keys.find(name);
    if (it == keys.end()) {
      fail(res, 400, "encryption key not found");
      return;
    }
    Key& key = it->second;
    int latest = static_cast<int>(key.versions.size());
    if (operation == "encrypt") {
      Bytes plaintext;
      if (!body.contains("plaintext") || !body["plaintext"].is_string() ||
          !fromBase64(body["plaintext"].get<std::string>(), plaintext)) {
        fail(res, 400, "failed to base64-decode plaintext");
        return;
      }
      reply(res, 200,
            {{"data",
              {{"ciphertext", seal(key.versions.back(), latest, plaintext, context)},
               {"key_version", latest}}}});
      return;
    }
    if (!body.contains("ciphertext") || !body["ciphertext"].is_string()) {
      fail(res, 400, "missing ciphertext to decrypt");
      return;
    }
    Bytes plaintext;
    std::string error;
    if (!open(key, body["ciphertext"].get<std::string>(), context, plaintext, error)) {
      fail(res, 400, error);
      return;
    }
    if (operation == "decrypt") {
      reply(res, 200, {{"data", {{"plaintext", toBase64(plaintext)}}}});
    } else {
      reply(res, 200,
            {{"data",
              {{"ciphertext", seal(key.versions.back(), latest, plaintext, context)},
               {"key_version", latest}}}});
    }
  }

  void login(const httplib::Request& req, httplib::Response& res) {
    if (!admit(req, res, false)) return;
    json body = json::parse(req.body, nullptr, false);
    if (!body.is_object() || !body.contains("role") || !body.contains("jwt")) {
      fail(res, 400, "missing role or jwt");
      return;
    }
    if (options.k8s_role.empty() || body["role"] != options.k8s_role) {
      fail(res, 400, "invalid role name \"" + body["role"].dump() + "\"");
      return;
    }
    if (body["jwt"] != options.k8s_jwt) {
      fail(res, 403, "permission denied");
      return;
    }
    reply(res, 200,
          {{"auth",
            {{"client_token", options.k8s_token},
             {"policies", {"s3cryptfs"}},
             {"lease_duration", 3600},
             {"renewable", true}}}});
  }
};

FakeVaultTransit::FakeVaultTransit(FakeVaultOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  if (!impl_->options.cert_file.empty()) {
    impl_->server = std::make_unique<httplib::SSLServer>(impl_->options.cert_file.c_str(),
                                                         impl_->options.key_file.c_str());
  } else {
    impl_->server = std::make_unique<httplib::Server>();
  }
  Impl* impl = impl_.get();
  impl->server->Post(
      R"(/v1/([^/]+)/(encrypt|decrypt|rewrap)/([^/]+))",
      [impl](const httplib::Request& req, httplib::Response& res) { impl->transit(req, res); });
  impl->server->Post(
      "/v1/auth/kubernetes/login",
      [impl](const httplib::Request& req, httplib::Response& res) { impl->login(req, res); });
  impl->port = impl->server->bind_to_any_port("127.0.0.1");
  if (impl->port <= 0) throw std::runtime_error("fake vault: cannot listen on 127.0.0.1");
  impl->thread = std::thread([impl] { impl->server->listen_after_bind(); });
  // bind_to_any_port() already listens: connections wait in the backlog until accept runs.
}

FakeVaultTransit::~FakeVaultTransit() {
  impl_->server->stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

std::string FakeVaultTransit::address() const {
  return std::string(impl_->options.cert_file.empty() ? "http" : "https") +
         "://127.0.0.1:" + std::to_string(impl_->port);
}

void FakeVaultTransit::createKey(const std::string& name) {
  std::lock_guard lock(impl_->mutex);
  auto key = crypto::randomKey(crypto::kAeadKeySize);
  if (!key) throw std::runtime_error("fake vault: no random key");
  impl_->keys[name].versions.push_back(std::move(*key));
}

void FakeVaultTransit::rotateKey(const std::string& name) {
  createKey(name);
}

void FakeVaultTransit::setMinDecryptionVersion(const std::string& name, int version) {
  std::lock_guard lock(impl_->mutex);
  impl_->keys.at(name).min_decryption_version = version;
}

void FakeVaultTransit::setSealed(bool sealed) {
  std::lock_guard lock(impl_->mutex);
  impl_->sealed = sealed;
}

size_t FakeVaultTransit::requests() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->requests;
}

std::string FakeVaultTransit::lastNamespace() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->last_namespace;
}

}  // namespace s3cryptfs::test
