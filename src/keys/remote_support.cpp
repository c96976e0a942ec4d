#include "remote_support.h"

#include <algorithm>

#include "s3cryptfs/http/curl_http_client.h"

namespace s3cryptfs::keys::detail {

namespace {
constexpr std::chrono::milliseconds kMaxConnectTimeout{5000};
// KMS and Vault answers are a few hundred bytes; 1 MiB leaves room for verbose error pages.
constexpr size_t kMaxResponseBody = 1 << 20;
}  // namespace

Result<std::unique_ptr<http::HttpClient>> makeRemoteClient(std::chrono::milliseconds timeout,
                                                           const std::string& ca_bundle) {
  http::ClientOptions options;
  options.max_connections = 1;
  options.request_timeout = timeout;
  options.connect_timeout = std::min(timeout, kMaxConnectTimeout);
  options.stall_timeout = timeout;
  options.ca_bundle = ca_bundle;
  options.max_response_body = kMaxResponseBody;
  return http::CurlHttpClient::create(options);
}

void scrub(std::string& text) {
  if (!text.empty()) secureZero(text.data(), text.size());
  text.clear();
}

void scrub(Bytes& bytes) {
  if (!bytes.empty()) secureZero(bytes.data(), bytes.size());
  bytes.clear();
}

Result<SecureBuffer> decodeSecretBase64(std::string_view text, size_t expected_size,
                                        std::string_view what) {
  Bytes decoded;
  bool ok = fromBase64(text, decoded);
  if (!ok || (expected_size != 0 && decoded.size() != expected_size)) {
    size_t size = decoded.size();
    scrub(decoded);
    return Error(ErrorKind::kCorrupt,
                 std::string(what) + (ok ? " has " + std::to_string(size) + " bytes, expected " +
                                               std::to_string(expected_size)
                                         : " is not valid base64"));
  }
  SecureBuffer out(decoded);
  scrub(decoded);
  return out;
}

std::string bodyExcerpt(ByteSpan body, size_t limit) {
  std::string out;
  for (size_t i = 0; i < body.size() && i < limit; ++i) {
    auto c = static_cast<char>(body[i]);
    out.push_back(c >= 0x20 && c < 0x7f ? c : ' ');
  }
  if (body.size() > limit) out += "...";
  return out;
}

Error remoteError(const Error& error, std::string_view what, std::chrono::milliseconds timeout) {
  std::string message = std::string(what) + ": " + error.message();
  if (error.kind() == ErrorKind::kTransient) {
    message += " (protector timeout " + std::to_string(timeout.count()) + " ms)";
  }
  return Error(error.kind(), error.errnoValue(), message);
}

}  // namespace s3cryptfs::keys::detail
