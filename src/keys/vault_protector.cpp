#include "s3cryptfs/keys/vault_protector.h"

#include <charconv>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "s3cryptfs/core/log.h"
#include "s3cryptfs/crypto/random.h"
#include "s3cryptfs/http/sigv4.h"

#include "remote_support.h"
#include "wrap_support.h"

namespace s3cryptfs::keys {

namespace {
using nlohmann::json;

constexpr std::string_view kDenied = "Vault key does not unlock this volume";
constexpr std::string_view kWrapLabel = "s3cryptfs vault wrap v1";
constexpr size_t kIntermediateKeySize = 32;
constexpr size_t kMaxTokenSize = 8192;

// A token in locked memory with surrounding whitespace (a trailing newline) removed.
SecureBuffer trimmed(const SecureBuffer& raw) {
  size_t begin = 0;
  size_t end = raw.size();
  auto space = [](uint8_t c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; };
  while (begin < end && space(raw.data()[begin]))
    ++begin;
  while (end > begin && space(raw.data()[end - 1]))
    --end;
  return SecureBuffer(raw.span().subspan(begin, end - begin));
}

// Vault error bodies are {"errors": ["..."]} (Vault HTTP API, "Error Response").
std::string vaultErrors(ByteSpan body) {
  json parsed = json::parse(body.begin(), body.end(), nullptr, false);
  std::string out;
  if (parsed.is_object()) {
    if (auto it = parsed.find("errors"); it != parsed.end() && it->is_array()) {
      for (const auto& e : *it) {
        if (!e.is_string()) continue;
        if (!out.empty()) out += "; ";
        out += e.get<std::string>();
      }
    }
  }
  return detail::bodyExcerpt(asBytes(out.empty() ? asChars(body) : std::string_view(out)));
}

// "vault:v12:..." -> 12; 0 if the prefix is not there.
uint64_t ciphertextVersion(const std::string& ciphertext) {
  constexpr std::string_view kPrefix = "vault:v";
  if (ciphertext.compare(0, kPrefix.size(), kPrefix) != 0) return 0;
  uint64_t version = 0;
  const char* begin = ciphertext.data() + kPrefix.size();
  const char* end = ciphertext.data() + ciphertext.size();
  auto [stop, ec] = std::from_chars(begin, end, version);
  if (ec != std::errc() || stop == end || *stop != ':') return 0;
  return version;
}

class VaultSession {
 public:
  explicit VaultSession(const VaultConfig& config) : config_(config) {}
  ~VaultSession() { detail::scrub(token_); }
  VaultSession(const VaultSession&) = delete;
  VaultSession& operator=(const VaultSession&) = delete;
  VaultSession(VaultSession&&) = delete;
  VaultSession& operator=(VaultSession&&) = delete;

  Status open() {
    address_ = config_.address;
    if (address_.empty()) {
      // NOLINTNEXTLINE(concurrency-mt-unsafe): the process never calls setenv
      const char* env = std::getenv("VAULT_ADDR");
      if (env != nullptr) address_ = env;
    }
    while (!address_.empty() && address_.back() == '/')
      address_.pop_back();
    if (address_.empty()) {
      return Error(ErrorKind::kInvalidArgument, "vault: no address (addr= or VAULT_ADDR)");
    }
    S3C_ASSIGN_OR_RETURN(client_, detail::makeRemoteClient(config_.timeout, config_.ca_bundle));
    return login();
  }

  // POST <path> with a JSON body; the response's JSON. `secret_response`: scrub the raw body.
  Result<json> post(const std::string& path, const std::string& body, bool secret_response,
                    const std::string& what) {
    http::Request request;
    request.method = "POST";
    request.url = address_ + "/v1/" + path;
    request.headers = {{"Content-Type", "application/json"}};
    if (!token_.empty()) request.headers.emplace_back("X-Vault-Token", token_);
    if (!config_.namespace_.empty()) {
      request.headers.emplace_back("X-Vault-Namespace", config_.namespace_);
    }
    request.body = asBytes(body);
    auto response = client_->send(request);
    for (auto& [name, value] : request.headers) {
      if (name == "X-Vault-Token") detail::scrub(value);
    }
    const std::string where = "Vault " + what + " at " + address_;
    if (!response) return detail::remoteError(response.error(), where, config_.timeout);
    int status = response->status;
    if (status < 200 || status >= 300) {
      std::string errors = vaultErrors(response->body);
      if (secret_response) detail::scrub(response->body);
      return statusError(status, where, errors);
    }
    json parsed = json::parse(response->body.begin(), response->body.end(), nullptr, false);
    if (secret_response) detail::scrub(response->body);
    if (!parsed.is_object()) {
      return Error(ErrorKind::kIo, where + ": the response is not a JSON object");
    }
    return parsed;
  }

  const std::string& address() const { return address_; }

 private:
  Error statusError(int status, const std::string& where, const std::string& errors) const {
    std::string namespace_note =
        config_.namespace_.empty() ? "" : " in namespace '" + config_.namespace_ + "'";
    Error error(ErrorKind::kIo, where + " failed: HTTP " + std::to_string(status) + ": " + errors);
    if (status == 403 || status == 401) {
      error =
          Error(ErrorKind::kPermissionDenied,
                where + " refused: permission denied (token " + tokenSource() +
                    " invalid, expired or without the policy" + namespace_note + "): " + errors);
    } else if (status == 404) {
      error =
          Error(ErrorKind::kNotFound,
                where + " failed: not found (no transit mount '" +
                    (config_.mount.empty() ? std::string(kDefaultTransitMount) : config_.mount) +
                    "' or key '" + config_.key + "'" + namespace_note + "): " + errors);
    } else if (status == 429) {
      error = Error(ErrorKind::kThrottled, where + " throttled: " + errors);
    } else if (status == 503) {
      error = Error(ErrorKind::kTransient,
                    where + " failed: Vault is sealed or in standby (" + errors + ")");
    } else if (status >= 500) {
      error = Error(ErrorKind::kTransient,
                    where + " failed: HTTP " + std::to_string(status) + ": " + errors);
    } else if (status == 400) {
      error = Error(ErrorKind::kInvalidArgument, where + " rejected: " + errors);
    }
    error.setService("", status);
    return error;
  }

  std::string tokenSource() const {
    const VaultAuth& auth = config_.auth;
    if (!auth.k8s_role.empty()) return "from Kubernetes login as role '" + auth.k8s_role + "'";
    if (!auth.token_file.empty()) return "from " + auth.token_file;
    return "from $" + (auth.token_env.empty() ? std::string("VAULT_TOKEN") : auth.token_env);
  }

  Status login() {
    const VaultAuth& auth = config_.auth;
    SecureBuffer raw;
    if (!auth.k8s_role.empty()) {
      S3C_ASSIGN_OR_RETURN(SecureBuffer jwt,
                           detail::readSecretFile(auth.k8s_jwt_file, kMaxTokenSize));
      SecureBuffer clean = trimmed(jwt);
      json body = {{"role", auth.k8s_role}, {"jwt", std::string(asChars(clean.span()))}};
      std::string text = body.dump();
      detail::scrub(body["jwt"].get_ref<std::string&>());
      auto response = post("auth/" + auth.k8s_mount + "/login", text, true,
                           "Kubernetes login (role '" + auth.k8s_role + "')");
      detail::scrub(text);
      if (!response) {
        Error e = std::move(response).error();
        if (e.kind() == ErrorKind::kInvalidArgument || e.kind() == ErrorKind::kNotFound) {
          // Vault answers 400 for an unknown role and a JWT it cannot verify.
          return Error(ErrorKind::kPermissionDenied, e.message());
        }
        return e;
      }
      json& r = *response;
      auto auth_it = r.find("auth");
      if (auth_it == r.end() || !auth_it->is_object() || !auth_it->contains("client_token") ||
          !(*auth_it)["client_token"].is_string()) {
        return Error(ErrorKind::kIo, "Vault Kubernetes login at " + address_ +
                                         ": the response has no auth.client_token");
      }
      std::string& token = (*auth_it)["client_token"].get_ref<std::string&>();
      token_ = token;
      detail::scrub(token);
      log::info("Vault: logged in at {} with Kubernetes role '{}'", address_, auth.k8s_role);
      return ok();
    }
    if (!auth.token_file.empty()) {
      S3C_ASSIGN_OR_RETURN(raw, detail::readSecretFile(auth.token_file, kMaxTokenSize));
    } else {
      std::string variable = auth.token_env.empty() ? "VAULT_TOKEN" : auth.token_env;
      // NOLINTNEXTLINE(concurrency-mt-unsafe): the process never calls setenv
      const char* value = std::getenv(variable.c_str());
      if (value == nullptr || *value == '\0') {
        return Error(ErrorKind::kInvalidArgument, "vault: no token: $" + variable +
                                                      " is not set (token-file=, token-env= "
                                                      "or k8s-role=)");
      }
      raw = SecureBuffer(asBytes(value));
    }
    SecureBuffer token = trimmed(raw);
    if (token.empty()) {
      return Error(ErrorKind::kInvalidArgument, "vault: the token " + tokenSource() + " is empty");
    }
    token_.assign(asChars(token.span()));
    return ok();
  }

  const VaultConfig& config_;
  std::string address_;
  std::unique_ptr<http::HttpClient> client_;
  // Sent in a header, so an ordinary string; scrubbed on destruction.
  std::string token_;
};

std::string transitPath(const VaultConfig& config, const char* operation) {
  return (config.mount.empty() ? std::string(kDefaultTransitMount) : config.mount) + "/" +
         operation + "/" + http::uriEncode(config.key, true);
}

// The configuration completed by a copy's params: key, mount and namespace the copy was made
// with, unless configured.
Result<VaultConfig> configFor(const VaultConfig& configured, const WrappedKey& wrapped) {
  VaultConfig config = configured;
  if (config.key.empty()) {
    S3C_ASSIGN_OR_RETURN(config.key, detail::paramString(wrapped.params, "key"));
  }
  if (auto it = wrapped.params.find("mount"); it != wrapped.params.end() && config.mount.empty()) {
    config.mount = it->second;
  }
  if (auto it = wrapped.params.find("namespace");
      it != wrapped.params.end() && config.namespace_.empty()) {
    config.namespace_ = it->second;
  }
  return config;
}

// The key context as Vault's `context` (base64): binds the copy when the key is derived.
std::string vaultContext(std::string_view type, const KeyContext& context) {
  return toBase64(detail::contextAad(type, context));
}

// POST <mount>/<operation>/<key> with a copy's ciphertext and context (decrypt, rewrap). Vault
// answers 400 "cipher: message authentication failed" for a wrong context or a tampered
// ciphertext: that copy does not unlock this volume.
Result<json> transitWithCopy(const VaultConfig& configured, const WrappedKey& wrapped,
                             const KeyContext& context, std::string_view type,
                             const char* operation, bool secret_response) {
  S3C_ASSIGN_OR_RETURN(std::string ciphertext, detail::paramString(wrapped.params, "ciphertext"));
  S3C_ASSIGN_OR_RETURN(VaultConfig config, configFor(configured, wrapped));
  VaultSession session(config);
  S3C_RETURN_IF_ERROR(session.open());
  json request = {{"ciphertext", ciphertext}, {"context", vaultContext(type, context)}};
  auto response = session.post(transitPath(config, operation), request.dump(), secret_response,
                               std::string("transit ") + operation);
  if (!response && response.error().kind() == ErrorKind::kInvalidArgument) {
    return Error(ErrorKind::kPermissionDenied,
                 std::string(kDenied) + " (" + response.error().message() + ")");
  }
  return response;
}
}  // namespace

VaultProtector::VaultProtector(VaultConfig config) : config_(std::move(config)) {}
VaultProtector::~VaultProtector() = default;

Result<WrappedKey> VaultProtector::wrap(const SecureBuffer& volume_key, const KeyContext& context) {
  S3C_RETURN_IF_ERROR(detail::checkVolumeKey(volume_key));
  if (config_.key.empty()) return Error(ErrorKind::kInvalidArgument, "vault needs key=");
  VaultSession session(config_);
  S3C_RETURN_IF_ERROR(session.open());
  S3C_ASSIGN_OR_RETURN(SecureBuffer intermediate, crypto::randomKey(kIntermediateKeySize));
  json request = {{"plaintext", toBase64(intermediate.span())},
                  {"context", vaultContext(type(), context)}};
  std::string body = request.dump();
  detail::scrub(request["plaintext"].get_ref<std::string&>());
  auto response = session.post(transitPath(config_, "encrypt"), body, false, "transit encrypt");
  detail::scrub(body);
  if (!response) return std::move(response).error();
  const json* data = response->contains("data") ? &(*response)["data"] : nullptr;
  if (data == nullptr || !data->is_object() || !data->contains("ciphertext") ||
      !(*data)["ciphertext"].is_string()) {
    return Error(ErrorKind::kIo, "Vault transit encrypt: the response has no data.ciphertext");
  }
  std::string ciphertext = (*data)["ciphertext"].get<std::string>();
  uint64_t version = ciphertextVersion(ciphertext);
  if (version == 0) {
    return Error(ErrorKind::kIo, "Vault transit encrypt: the ciphertext is not 'vault:v<N>:...'");
  }
  S3C_ASSIGN_OR_RETURN(SecureBuffer kek, detail::deriveKek(intermediate, kWrapLabel));
  WrappedKey out;
  out.type = type();
  S3C_ASSIGN_OR_RETURN(out.wrapped, detail::sealVolumeKey(kek, type(), context, volume_key));
  out.params["ciphertext"] = ciphertext;
  out.params["key-version"] = std::to_string(version);
  out.params["key"] = config_.key;
  out.params["mount"] = config_.mount.empty() ? std::string(kDefaultTransitMount) : config_.mount;
  if (!config_.namespace_.empty()) out.params["namespace"] = config_.namespace_;
  log::info("volume key wrapped by Vault transit key '{}' version {} at {}", config_.key, version,
            session.address());
  return out;
}

Result<SecureBuffer> VaultProtector::unwrap(const WrappedKey& wrapped, const KeyContext& context) {
  S3C_RETURN_IF_ERROR(detail::checkType(wrapped, type()));
  auto response = transitWithCopy(config_, wrapped, context, type(), "decrypt", true);
  if (!response) return std::move(response).error();
  json* data = response->contains("data") ? &(*response)["data"] : nullptr;
  if (data == nullptr || !data->is_object() || !data->contains("plaintext") ||
      !(*data)["plaintext"].is_string()) {
    return Error(ErrorKind::kIo, "Vault transit decrypt: the response has no data.plaintext");
  }
  std::string& plaintext = (*data)["plaintext"].get_ref<std::string&>();
  auto intermediate = detail::decodeSecretBase64(plaintext, kIntermediateKeySize,
                                                 "Vault transit decrypt plaintext");
  detail::scrub(plaintext);
  if (!intermediate) {
    return Error(ErrorKind::kPermissionDenied,
                 std::string(kDenied) + " (" + intermediate.error().message() + ")");
  }
  S3C_ASSIGN_OR_RETURN(SecureBuffer kek, detail::deriveKek(*intermediate, kWrapLabel));
  return detail::openVolumeKey(kek, type(), context, wrapped.wrapped, kDenied);
}

Result<WrappedKey> VaultProtector::rewrap(const WrappedKey& wrapped, const KeyContext& context) {
  S3C_RETURN_IF_ERROR(detail::checkType(wrapped, type()));
  auto response = transitWithCopy(config_, wrapped, context, type(), "rewrap", false);
  if (!response) return std::move(response).error();
  const json* data = response->contains("data") ? &(*response)["data"] : nullptr;
  if (data == nullptr || !data->is_object() || !data->contains("ciphertext") ||
      !(*data)["ciphertext"].is_string()) {
    return Error(ErrorKind::kIo, "Vault transit rewrap: the response has no data.ciphertext");
  }
  WrappedKey out = wrapped;
  out.params["ciphertext"] = (*data)["ciphertext"].get<std::string>();
  uint64_t version = ciphertextVersion(out.params["ciphertext"]);
  if (version == 0) {
    return Error(ErrorKind::kIo, "Vault transit rewrap: the ciphertext is not 'vault:v<N>:...'");
  }
  out.params["key-version"] = std::to_string(version);
  log::info("Vault copy rewrapped from key version {} to {}",
            wrapped.params.count("key-version") ? wrapped.params.at("key-version") : "?", version);
  return out;
}

}  // namespace s3cryptfs::keys
