#include "s3cryptfs/keys/awskms_protector.h"

#include <nlohmann/json.hpp>

#include "s3cryptfs/core/log.h"
#include "s3cryptfs/http/sigv4.h"

#include "remote_support.h"
#include "wrap_support.h"

namespace s3cryptfs::keys {

namespace {
using nlohmann::json;

constexpr std::string_view kDenied =
    "AWS KMS does not unlock this volume (a copy made for another volume, key version or KMS "
    "key, or a damaged copy)";
constexpr std::string_view kContextVolume = "s3cryptfs:volume";
constexpr std::string_view kContextKeyVersion = "s3cryptfs:key-version";

json encryptionContext(const KeyContext& context) {
  return json{{kContextVolume, context.volume_id_hex},
              {kContextKeyVersion, std::to_string(context.key_version)}};
}

// "com.amazonaws.kms#DisabledException" and "DisabledException" both name DisabledException.
std::string errorType(const json& body) {
  std::string type;
  if (auto it = body.find("__type"); it != body.end() && it->is_string()) {
    type = it->get<std::string>();
  }
  if (auto hash = type.rfind('#'); hash != std::string::npos) type = type.substr(hash + 1);
  return type;
}

std::string errorMessage(const json& body) {
  for (const char* name : {"message", "Message"}) {
    if (auto it = body.find(name); it != body.end() && it->is_string()) {
      std::string text = it->get<std::string>();
      return detail::bodyExcerpt(asBytes(text));
    }
  }
  return {};
}

// Turns a KMS error response into an Error a user can act on. Documented error types: AWS KMS
// API Reference, "Common Errors" and each operation's "Errors" section.
Error kmsError(int status, const json& body, const std::string& operation, const std::string& key,
               const http::AwsSettings& settings) {
  std::string type = errorType(body);
  std::string message = errorMessage(body);
  std::string detail = type.empty() ? "HTTP " + std::to_string(status) : type;
  if (!message.empty()) detail += ": " + message;
  std::string where = "AWS KMS " + operation + " with key '" + key + "'";
  Error error(ErrorKind::kIo, where + " failed: " + detail);
  if (type == "InvalidCiphertextException" || type == "IncorrectKeyException") {
    error = Error(ErrorKind::kPermissionDenied, std::string(kDenied) + " [" + type + "]");
  } else if (type == "DisabledException") {
    error = Error(ErrorKind::kPermissionDenied,
                  where + " refused: the KMS key is disabled (enable it with EnableKey)");
  } else if (type == "KMSInvalidStateException") {
    error = Error(ErrorKind::kPermissionDenied,
                  where +
                      " refused: the KMS key is not usable in its current state "
                      "(pending deletion, pending import or unavailable): " +
                      message);
  } else if (type == "NotFoundException") {
    error = Error(ErrorKind::kNotFound, where + " failed: no such key: " + message);
  } else if (type == "AccessDeniedException") {
    error = Error(ErrorKind::kPermissionDenied,
                  where + " refused: access denied for " + settings.describe() + ": " + message);
  } else if (type == "ExpiredTokenException") {
    error = Error(ErrorKind::kPermissionDenied,
                  where + " refused: the session token has expired (" +
                      settings.credentials_source + "); refresh the credentials");
  } else if (type == "UnrecognizedClientException" || type == "InvalidClientTokenId" ||
             type == "InvalidSignatureException" || type == "IncompleteSignature" ||
             type == "MissingAuthenticationToken" || type == "SignatureDoesNotMatch" ||
             status == 401 || status == 403) {
    error = Error(ErrorKind::kPermissionDenied, where + " refused: credentials rejected (" +
                                                    settings.describe() + "): " + detail);
  } else if (type == "ThrottlingException" || type == "LimitExceededException" || status == 429) {
    error = Error(ErrorKind::kThrottled, where + " throttled: " + detail);
  } else if (type == "KMSInternalException" || type == "DependencyTimeoutException" ||
             type == "KeyUnavailableException" || status >= 500) {
    error = Error(ErrorKind::kTransient, where + " failed on the server side: " + detail);
  } else if (type == "ValidationException" || type == "InvalidKeyUsageException") {
    error = Error(ErrorKind::kInvalidArgument, where + " rejected: " + detail);
  }
  error.setService(type, status);
  return error;
}

// Resolves the AWS settings for KMS. `params` (from a stored copy) give the region and endpoint
// the copy was made with: the key lives there, so they win over the environment's region, but
// an explicitly configured region or endpoint wins over them.
Result<http::AwsSettings> kmsSettings(const AwsKmsConfig& config,
                                      const std::map<std::string, std::string>* params) {
  http::AwsExplicitSettings explicit_settings = config.aws;
  if (params != nullptr && !explicit_settings.region) {
    if (auto it = params->find("region"); it != params->end() && !it->second.empty()) {
      explicit_settings.region = it->second;
    }
  }
  const http::Environment environment =
      config.environment ? *config.environment : http::processEnvironment();
  S3C_ASSIGN_OR_RETURN(http::AwsSettings settings,
                       http::resolveAwsSettings(explicit_settings, environment, "kms"));
  if (settings.endpoint_url.empty() && params != nullptr) {
    if (auto it = params->find("endpoint"); it != params->end()) settings.endpoint_url = it->second;
  }
  if (settings.region.empty()) {
    return Error(ErrorKind::kInvalidArgument,
                 "AWS KMS: no region (give region=, or set AWS_REGION or a region in the profile)");
  }
  if (!settings.credentials.complete()) {
    return Error(ErrorKind::kInvalidArgument,
                 "AWS KMS: no credentials for profile '" + settings.profile +
                     "' (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or the shared "
                     "credentials or config file)");
  }
  while (!settings.endpoint_url.empty() && settings.endpoint_url.back() == '/') {
    settings.endpoint_url.pop_back();
  }
  if (settings.endpoint_url.empty()) {
    settings.endpoint_url = "https://kms." + settings.region + ".amazonaws.com";
  }
  return settings;
}

// ca= of the spec, else AWS_CA_BUNDLE as the AWS CLI reads it; empty: the system's CAs.
std::string caBundle(const AwsKmsConfig& config) {
  if (!config.ca_bundle.empty()) return config.ca_bundle;
  const http::Environment environment =
      config.environment ? *config.environment : http::processEnvironment();
  auto it = environment.find("AWS_CA_BUNDLE");
  return it == environment.end() ? std::string() : it->second;
}

// One KMS call. `body` is scrubbed by the caller; the response body is scrubbed here once
// parsed (a Decrypt response holds the plaintext key).
Result<json> callKms(const AwsKmsConfig& config, const http::AwsSettings& settings,
                     const std::string& operation, const std::string& key,
                     const std::string& body) {
  S3C_ASSIGN_OR_RETURN(auto client, detail::makeRemoteClient(config.timeout, caBundle(config)));
  S3C_ASSIGN_OR_RETURN(http::Request request,
                       signedKmsRequest(settings.endpoint_url, operation, body,
                                        settings.credentials, settings.region));
  auto response = client->send(request);
  if (!response) {
    return detail::remoteError(
        response.error(), "AWS KMS " + operation + " at " + settings.endpoint_url, config.timeout);
  }
  json parsed = json::parse(response->body.begin(), response->body.end(), nullptr,
                            /*allow_exceptions=*/false);
  int status = response->status;
  std::string excerpt = status == 200 ? std::string() : detail::bodyExcerpt(response->body);
  detail::scrub(response->body);
  if (status != 200) {
    if (parsed.is_discarded() || !parsed.is_object()) {
      Error error = kmsError(status, json::object(), operation, key, settings);
      return Error(error.kind(), error.message() + " (" + excerpt + ")");
    }
    return kmsError(status, parsed, operation, key, settings);
  }
  if (parsed.is_discarded() || !parsed.is_object()) {
    return Error(ErrorKind::kIo, "AWS KMS " + operation + " at " + settings.endpoint_url +
                                     ": the response is not a JSON object");
  }
  return parsed;
}

// Scrubs a string member of a parsed response or a request in place.
void scrubMember(json& object, const char* name) {
  if (auto it = object.find(name); it != object.end() && it->is_string()) {
    detail::scrub(it->get_ref<std::string&>());
  }
}
}  // namespace

AwsKmsProtector::AwsKmsProtector(AwsKmsConfig config) : config_(std::move(config)) {}
AwsKmsProtector::~AwsKmsProtector() = default;

Result<WrappedKey> AwsKmsProtector::wrap(const SecureBuffer& volume_key,
                                         const KeyContext& context) {
  S3C_RETURN_IF_ERROR(detail::checkVolumeKey(volume_key));
  if (config_.key_id.empty()) {
    return Error(ErrorKind::kInvalidArgument, "an awskms protector needs key-id= to wrap");
  }
  S3C_ASSIGN_OR_RETURN(http::AwsSettings settings, kmsSettings(config_, nullptr));
  json request = {{"KeyId", config_.key_id},
                  {"Plaintext", toBase64(volume_key.span())},
                  {"EncryptionContext", encryptionContext(context)}};
  std::string body = request.dump();
  scrubMember(request, "Plaintext");
  auto response = callKms(config_, settings, "Encrypt", config_.key_id, body);
  detail::scrub(body);
  if (!response) return std::move(response).error();
  const json& r = *response;
  auto blob = r.find("CiphertextBlob");
  auto key_arn = r.find("KeyId");
  if (blob == r.end() || !blob->is_string() || key_arn == r.end() || !key_arn->is_string()) {
    return Error(ErrorKind::kIo, "AWS KMS Encrypt: the response lacks CiphertextBlob or KeyId");
  }
  WrappedKey out;
  out.type = type();
  if (!fromBase64(blob->get<std::string>(), out.wrapped) || out.wrapped.empty()) {
    return Error(ErrorKind::kIo, "AWS KMS Encrypt: CiphertextBlob is not base64");
  }
  out.params["key-arn"] = key_arn->get<std::string>();
  out.params["region"] = settings.region;
  if (settings.endpoint_url != "https://kms." + settings.region + ".amazonaws.com") {
    out.params["endpoint"] = settings.endpoint_url;
  }
  log::info("volume key wrapped by AWS KMS key {} ({})", out.params["key-arn"],
            settings.describe());
  return out;
}

Result<SecureBuffer> AwsKmsProtector::unwrap(const WrappedKey& wrapped, const KeyContext& context) {
  S3C_RETURN_IF_ERROR(detail::checkType(wrapped, type()));
  std::string key = config_.key_id;
  if (key.empty()) {
    S3C_ASSIGN_OR_RETURN(key, detail::paramString(wrapped.params, "key-arn"));
  }
  if (wrapped.wrapped.empty()) {
    return Error(ErrorKind::kCorrupt, "wrapped awskms key is empty");
  }
  S3C_ASSIGN_OR_RETURN(http::AwsSettings settings, kmsSettings(config_, &wrapped.params));
  // KeyId makes KMS refuse a blob made under any other key (AWS KMS Decrypt: "KeyId").
  json request = {{"KeyId", key},
                  {"CiphertextBlob", toBase64(wrapped.wrapped)},
                  {"EncryptionContext", encryptionContext(context)}};
  S3C_ASSIGN_OR_RETURN(json response, callKms(config_, settings, "Decrypt", key, request.dump()));
  auto plaintext = response.find("Plaintext");
  if (plaintext == response.end() || !plaintext->is_string()) {
    return Error(ErrorKind::kIo, "AWS KMS Decrypt: the response lacks Plaintext");
  }
  auto decoded = detail::decodeSecretBase64(plaintext->get_ref<const std::string&>(),
                                            kVolumeKeySize, "AWS KMS Decrypt plaintext");
  scrubMember(response, "Plaintext");
  if (!decoded) {
    // Someone else's data under this key and context: not a volume key.
    return Error(ErrorKind::kPermissionDenied,
                 std::string(kDenied) + " [" + decoded.error().message() + "]");
  }
  return decoded;
}

Result<WrappedKey> AwsKmsProtector::rewrap(const WrappedKey& wrapped, const KeyContext& context) {
  S3C_RETURN_IF_ERROR(detail::checkType(wrapped, type()));
  S3C_ASSIGN_OR_RETURN(std::string source, detail::paramString(wrapped.params, "key-arn"));
  std::string destination = config_.key_id.empty() ? source : config_.key_id;
  if (wrapped.wrapped.empty()) return Error(ErrorKind::kCorrupt, "wrapped awskms key is empty");
  S3C_ASSIGN_OR_RETURN(http::AwsSettings settings, kmsSettings(config_, &wrapped.params));
  // AWS KMS API Reference, ReEncrypt: the plaintext stays inside KMS.
  json request = {{"CiphertextBlob", toBase64(wrapped.wrapped)},
                  {"SourceKeyId", source},
                  {"SourceEncryptionContext", encryptionContext(context)},
                  {"DestinationKeyId", destination},
                  {"DestinationEncryptionContext", encryptionContext(context)}};
  S3C_ASSIGN_OR_RETURN(json response,
                       callKms(config_, settings, "ReEncrypt", source, request.dump()));
  auto blob = response.find("CiphertextBlob");
  auto key_arn = response.find("KeyId");
  if (blob == response.end() || !blob->is_string() || key_arn == response.end() ||
      !key_arn->is_string()) {
    return Error(ErrorKind::kIo, "AWS KMS ReEncrypt: the response lacks CiphertextBlob or KeyId");
  }
  WrappedKey out = wrapped;
  if (!fromBase64(blob->get<std::string>(), out.wrapped) || out.wrapped.empty()) {
    return Error(ErrorKind::kIo, "AWS KMS ReEncrypt: CiphertextBlob is not base64");
  }
  out.params["key-arn"] = key_arn->get<std::string>();
  log::info("AWS KMS copy re-encrypted from {} to {}", source, out.params["key-arn"]);
  return out;
}

Result<http::Request> signedKmsRequest(const std::string& endpoint_url,
                                       const std::string& operation, std::string_view body,
                                       const http::Credentials& credentials,
                                       const std::string& region) {
  http::Request request;
  request.method = "POST";
  request.url = endpoint_url + "/";
  request.headers = {{"Content-Type", "application/x-amz-json-1.1"},
                     {"X-Amz-Target", "TrentService." + operation}};
  request.body = asBytes(body);
  http::SigningOptions signing;
  signing.path_encoding = http::PathEncoding::kDouble;
  signing.add_content_sha256_header = false;
  S3C_RETURN_IF_ERROR(http::signRequest(request, credentials, region, "kms",
                                        std::chrono::system_clock::now(),
                                        http::PayloadHash::bodySha256(), signing));
  return request;
}

}  // namespace s3cryptfs::keys
