#include "s3cryptfs/keys/protector_spec.h"

#include <array>
#include <charconv>

#include "s3cryptfs/keys/awskms_protector.h"
#include "s3cryptfs/keys/keyfile_protector.h"
#include "s3cryptfs/keys/kmip_protector.h"
#include "s3cryptfs/keys/passphrase_protector.h"
#include "s3cryptfs/keys/pkcs11_protector.h"
#include "s3cryptfs/keys/recovery_protector.h"
#include "s3cryptfs/keys/vault_protector.h"

namespace s3cryptfs::keys {

namespace {
constexpr std::array<std::string_view, 7> kKnownTypes = {
    "keyfile", "passphrase", "recovery", "pkcs11", "vault", "kmip", "awskms"};

std::string knownTypes() {
  std::string out;
  for (auto t : kKnownTypes) {
    if (!out.empty()) out += ", ";
    out += t;
  }
  return out;
}

Error specError(std::string_view text, const std::string& why) {
  return Error(ErrorKind::kInvalidArgument, "--protector " + std::string(text) + ": " + why);
}

// "a=1,b=2" into options; every element must be key=value with a key from `allowed`.
Status parseOptions(std::string_view spec_text, std::string_view list,
                    std::initializer_list<std::string_view> allowed,
                    std::map<std::string, std::string>& options) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    if (item.empty()) continue;
    size_t eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return specError(spec_text, "expected key=value, got '" + std::string(item) + "'");
    }
    std::string key(item.substr(0, eq));
    bool allowed_name = false;
    for (auto a : allowed)
      allowed_name = allowed_name || a == key;
    // "token" names a PKCS#11 token label, but a Vault token anywhere else.
    if (!allowed_name && (key == "pin" || key == "passphrase" || key == "password" ||
                          key == "secret" || key == "token" || key == "jwt")) {
      // Said without echoing the value: it is a secret that was just put on a command line.
      const char* instead = key == "pin"     ? "pin-file= or pin-env= (or a prompt)"
                            : key == "token" ? "token-file= or token-env="
                            : key == "jwt"   ? "k8s-jwt=/path"
                                             : "file= or env= (or a prompt)";
      return specError(
          spec_text.substr(0, spec_text.find(':')),
          std::string("secrets are never accepted on the command line; use ") + instead);
    }
    bool known = allowed.size() == 0;
    for (auto a : allowed)
      known = known || a == key;
    if (!known) {
      std::string list_text;
      for (auto a : allowed) {
        if (!list_text.empty()) list_text += ", ";
        list_text += a;
      }
      return specError(spec_text, "unknown option '" + key + "' (known: " + list_text + ")");
    }
    if (!options.emplace(key, std::string(item.substr(eq + 1))).second) {
      return specError(spec_text, "option '" + key + "' given twice");
    }
  }
  return ok();
}

bool parseSmallCount(std::string_view text, unsigned& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size() && out >= 1 && out <= 255;
}

std::shared_ptr<PassphraseSource> pinSource(const std::map<std::string, std::string>& options) {
  if (auto it = options.find("pin-file"); it != options.end()) return filePassphrase(it->second);
  if (auto it = options.find("pin-env"); it != options.end()) return envPassphrase(it->second);
  return terminalPassphrase("PKCS#11 user PIN: ");
}
}  // namespace

Result<ProtectorSpec> parseProtectorSpec(std::string_view text) {
  size_t colon = text.find(':');
  ProtectorSpec spec;
  spec.type = std::string(text.substr(0, colon));
  std::string_view rest =
      colon == std::string_view::npos ? std::string_view() : text.substr(colon + 1);
  bool known = false;
  for (auto t : kKnownTypes)
    known = known || t == spec.type;
  if (!known) {
    return Error(ErrorKind::kInvalidArgument,
                 "unknown protector type '" + spec.type + "' (known: " + knownTypes() + ")");
  }
  if (spec.type == "keyfile") {
    if (rest.empty()) return specError(text, "keyfile needs a path: keyfile:/path/to/key");
    spec.options["path"] = std::string(rest);
  } else if (spec.type == "passphrase") {
    S3C_RETURN_IF_ERROR(parseOptions(text, rest, {"file", "env"}, spec.options));
    if (spec.options.size() > 1) return specError(text, "give file= or env=, not both");
  } else if (spec.type == "recovery") {
    std::string_view counts = rest.substr(0, rest.find(','));
    std::string_view others;
    if (rest.empty() || counts.find('=') != std::string_view::npos) {
      others = rest;  // no k-of-n: an unlock with shares only
    } else {
      others = counts.size() < rest.size() ? rest.substr(counts.size() + 1) : std::string_view();
      size_t of = counts.find("-of-");
      unsigned k = 0;
      unsigned n = 0;
      if (of == std::string_view::npos || !parseSmallCount(counts.substr(0, of), k) ||
          !parseSmallCount(counts.substr(of + 4), n) || k > n) {
        return specError(text, "expected recovery:K-of-N with 1 <= K <= N <= 255");
      }
      spec.options["k"] = std::to_string(k);
      spec.options["n"] = std::to_string(n);
    }
    S3C_RETURN_IF_ERROR(parseOptions(text, others, {"shares-file"}, spec.options));
  } else if (spec.type == "pkcs11") {
    S3C_RETURN_IF_ERROR(parseOptions(
        text, rest, {"module", "token", "key", "pin-file", "pin-env", "mechanism", "create-key"},
        spec.options));
    if (!spec.options.count("token") || !spec.options.count("key")) {
      return specError(text, "pkcs11 needs token=LABEL and key=LABEL");
    }
    if (spec.options.count("pin-file") && spec.options.count("pin-env")) {
      return specError(text, "give pin-file= or pin-env=, not both");
    }
    if (auto it = spec.options.find("mechanism");
        it != spec.options.end() && it->second != "aes-gcm" && it->second != "aes-key-wrap-pad") {
      return specError(text, "mechanism must be aes-gcm or aes-key-wrap-pad");
    }
    if (auto it = spec.options.find("create-key");
        it != spec.options.end() && it->second != "yes" && it->second != "no") {
      return specError(text, "create-key must be yes or no");
    }
  } else if (spec.type == "awskms") {
    S3C_RETURN_IF_ERROR(
        parseOptions(text, rest, {"key-id", "region", "endpoint", "profile", "ca"}, spec.options));
  } else if (spec.type == "kmip") {
    S3C_RETURN_IF_ERROR(parseOptions(
        text, rest, {"host", "port", "ca", "cert", "key", "key-id", "create-key", "version"},
        spec.options));
    for (const char* required : {"host", "ca", "cert", "key"}) {
      if (!spec.options.count(required)) {
        return specError(
            text, std::string("kmip needs host=, ca=, cert= and key= (missing ") + required + "=)");
      }
    }
    if (auto it = spec.options.find("port"); it != spec.options.end()) {
      unsigned port = 0;
      auto [end, ec] =
          std::from_chars(it->second.data(), it->second.data() + it->second.size(), port);
      if (ec != std::errc() || end != it->second.data() + it->second.size() || port == 0 ||
          port > 65535) {
        return specError(text, "port must be 1..65535");
      }
    }
    if (auto it = spec.options.find("version");
        it != spec.options.end() && it->second != "1.4" && it->second != "2.0") {
      return specError(text, "version must be 1.4 or 2.0");
    }
    if (auto it = spec.options.find("create-key");
        it != spec.options.end() && it->second != "yes" && it->second != "no") {
      return specError(text, "create-key must be yes or no");
    }
    if (spec.options.count("key-id") && spec.options.count("create-key") &&
        spec.options.at("create-key") == "yes") {
      return specError(text, "give key-id= or create-key=yes, not both");
    }
  } else if (spec.type == "vault") {
    S3C_RETURN_IF_ERROR(parseOptions(text, rest,
                                     {"addr", "key", "mount", "namespace", "ca", "token-file",
                                      "token-env", "k8s-role", "k8s-jwt", "k8s-mount"},
                                     spec.options));
    if (!spec.options.count("key")) return specError(text, "vault needs key=TRANSIT_KEY_NAME");
    int sources =
        static_cast<int>(spec.options.count("token-file") + spec.options.count("token-env") +
                         spec.options.count("k8s-role"));
    if (sources > 1) return specError(text, "give one of token-file=, token-env=, k8s-role=");
    if ((spec.options.count("k8s-jwt") || spec.options.count("k8s-mount")) &&
        !spec.options.count("k8s-role")) {
      return specError(text, "k8s-jwt= and k8s-mount= need k8s-role=");
    }
  }
  return spec;
}

Result<std::unique_ptr<KeyProtector>> makeProtector(const ProtectorSpec& spec,
                                                    const ProtectorOptions& options) {
  auto option = [&](const char* name) -> const std::string* {
    auto it = spec.options.find(name);
    return it == spec.options.end() ? nullptr : &it->second;
  };
  if (spec.type == "keyfile") {
    const std::string* path = option("path");
    if (path == nullptr) return Error(ErrorKind::kInvalidArgument, "keyfile needs a path");
    return std::unique_ptr<KeyProtector>(std::make_unique<KeyFileProtector>(*path));
  }
  if (spec.type == "passphrase") {
    std::unique_ptr<PassphraseSource> source;
    if (const auto* file = option("file")) {
      source = filePassphrase(*file);
    } else if (const auto* env = option("env")) {
      source = envPassphrase(*env);
    } else {
      source = terminalPassphrase("Passphrase: ");
    }
    return std::unique_ptr<KeyProtector>(std::make_unique<PassphraseProtector>(std::move(source)));
  }
  if (spec.type == "recovery") {
    ShareSource source;
    if (const auto* file = option("shares-file")) {
      source = sharesFromFile(*file);
    } else {
      source = sharesFromTerminal();
    }
    unsigned k = 0;
    unsigned n = 0;
    if (const auto* kt = option("k")) parseSmallCount(*kt, k);
    if (const auto* nt = option("n")) parseSmallCount(*nt, n);
    return std::unique_ptr<KeyProtector>(std::make_unique<RecoveryProtector>(
        static_cast<uint8_t>(k), static_cast<uint8_t>(n), std::move(source)));
  }
  if (spec.type == "pkcs11") {
    Pkcs11Config config;
    if (const auto* module = option("module")) config.module_path = *module;
    if (const auto* token = option("token")) config.token_label = *token;
    if (const auto* key = option("key")) config.key_label = *key;
    if (const auto* mech = option("mechanism"); mech != nullptr && *mech == "aes-key-wrap-pad") {
      config.mechanism = Pkcs11Mechanism::kAesKeyWrapPad;
    }
    if (const auto* create = option("create-key")) config.create_key_if_missing = *create == "yes";
    config.pin = pinSource(spec.options);
    return std::unique_ptr<KeyProtector>(std::make_unique<Pkcs11Protector>(std::move(config)));
  }
  if (spec.type == "awskms") {
    AwsKmsConfig config;
    if (const auto* key = option("key-id")) config.key_id = *key;
    if (const auto* region = option("region")) config.aws.region = *region;
    if (const auto* endpoint = option("endpoint")) config.aws.endpoint_url = *endpoint;
    if (const auto* profile = option("profile")) config.aws.profile = *profile;
    if (const auto* ca = option("ca")) config.ca_bundle = *ca;
    config.timeout = options.timeout;
    return std::unique_ptr<KeyProtector>(std::make_unique<AwsKmsProtector>(std::move(config)));
  }
  if (spec.type == "kmip") {
    KmipProtectorConfig config;
    if (const auto* host = option("host")) config.client.host = *host;
    if (const auto* port = option("port")) {
      config.client.port = static_cast<uint16_t>(std::stoul(*port));  // checked when parsed
    }
    if (const auto* ca = option("ca")) config.client.ca_file = *ca;
    if (const auto* cert = option("cert")) config.client.cert_file = *cert;
    if (const auto* key = option("key")) config.client.key_file = *key;
    if (const auto* version = option("version"); version != nullptr && *version == "2.0") {
      config.client.version = KmipVersion{2, 0};
    }
    if (const auto* id = option("key-id")) config.key_id = *id;
    if (const auto* create = option("create-key")) config.create_key = *create == "yes";
    config.client.timeout = options.timeout;
    return std::unique_ptr<KeyProtector>(std::make_unique<KmipProtector>(std::move(config)));
  }
  if (spec.type == "vault") {
    VaultConfig config;
    if (const auto* addr = option("addr")) config.address = *addr;
    if (const auto* key = option("key")) config.key = *key;
    if (const auto* mount = option("mount")) config.mount = *mount;
    if (const auto* ns = option("namespace")) config.namespace_ = *ns;
    if (const auto* ca = option("ca")) config.ca_bundle = *ca;
    if (const auto* file = option("token-file")) config.auth.token_file = *file;
    if (const auto* env = option("token-env")) config.auth.token_env = *env;
    if (const auto* role = option("k8s-role")) config.auth.k8s_role = *role;
    if (const auto* jwt = option("k8s-jwt")) config.auth.k8s_jwt_file = *jwt;
    if (const auto* mount = option("k8s-mount")) config.auth.k8s_mount = *mount;
    config.timeout = options.timeout;
    return std::unique_ptr<KeyProtector>(std::make_unique<VaultProtector>(std::move(config)));
  }
  return Error(ErrorKind::kInvalidArgument,
               "unknown protector type '" + spec.type + "' (known: " + knownTypes() + ")");
}

}  // namespace s3cryptfs::keys
