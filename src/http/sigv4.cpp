#include "s3cryptfs/http/sigv4.h"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <map>
#include <utility>
#include <vector>

#include "s3cryptfs/crypto/hash.h"

#include "url_parts.h"

namespace s3cryptfs::http {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
constexpr char kHexUpper[] = "0123456789ABCDEF";
constexpr char kHexLower[] = "0123456789abcdef";

ByteSpan bytesOf(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

std::string hexLower(ByteSpan bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out += kHexLower[b >> 4];
    out += kHexLower[b & 0xF];
  }
  return out;
}

std::string toLower(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Trims both ends and collapses inner runs of spaces to one, as the canonical header form wants.
std::string canonicalHeaderValue(std::string_view value) {
  std::string out;
  bool pending_space = false;
  for (char c : value) {
    if (c == ' ' || c == '\t') {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    out += c;
  }
  return out;
}

std::string canonicalQuery(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  size_t pos = 0;
  while (pos <= query.size() && !query.empty()) {
    size_t amp = query.find('&', pos);
    std::string_view part = query.substr(pos, amp == std::string_view::npos ? amp : amp - pos);
    if (!part.empty()) {
      size_t eq = part.find('=');
      std::string_view name = part.substr(0, eq);
      std::string_view value = eq == std::string_view::npos ? "" : part.substr(eq + 1);
      // Decode first so a caller's encoding choices (lower-case hex, encoded '~') do not change
      // the canonical form.
      params.emplace_back(uriEncode(uriDecode(name), true), uriEncode(uriDecode(value), true));
    }
    if (amp == std::string_view::npos) break;
    pos = amp + 1;
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out += '&';
    out += name;
    out += '=';
    out += value;
  }
  return out;
}

std::string canonicalPath(std::string_view path, PathEncoding encoding) {
  if (path.empty()) return "/";
  std::string once = uriEncode(uriDecode(path), false);
  if (encoding == PathEncoding::kDouble) return uriEncode(once, false);
  return once;
}

void setHeader(Headers& headers, std::string_view lower_name, std::string value) {
  std::erase_if(headers, [&](const auto& h) { return toLower(h.first) == lower_name; });
  headers.emplace_back(std::string(lower_name), std::move(value));
}

}  // namespace

std::string Credentials::describe() const {
  std::string out = "access key " + (access_key_id.empty() ? std::string("(none)") : access_key_id);
  if (!session_token.empty()) out += " (with session token)";
  return out;
}

std::string uriEncode(std::string_view text, bool encode_slash) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    auto b = static_cast<unsigned char>(c);
    if (std::isalnum(b) != 0 || c == '-' || c == '_' || c == '.' || c == '~' ||
        (c == '/' && !encode_slash)) {
      out += c;
    } else {
      out += '%';
      out += kHexUpper[b >> 4];
      out += kHexUpper[b & 0xF];
    }
  }
  return out;
}

std::string uriDecode(std::string_view text) {
  auto hexValue = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() + 0 && hexValue(text[i + 1]) >= 0 &&
        hexValue(text[i + 2]) >= 0) {
      out += static_cast<char>(hexValue(text[i + 1]) * 16 + hexValue(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string amzDate(std::chrono::system_clock::time_point now) {
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  size_t n = std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return std::string(buf, n);
}

Result<SignatureParts> computeSignature(const Request& request, const Credentials& credentials,
                                        std::string_view region, std::string_view service,
                                        std::string_view amz_date, std::string_view payload_hex,
                                        PathEncoding path_encoding) {
  if (!credentials.complete()) {
    return Error(ErrorKind::kInvalidArgument,
                 "cannot sign: the access key id or secret is missing");
  }
  if (amz_date.size() != 16) {
    return Error(ErrorKind::kInvalidArgument, "cannot sign: malformed x-amz-date");
  }
  S3C_ASSIGN_OR_RETURN(UrlParts url, parseUrl(request.url));

  // Same-name headers are joined with ',' in the order given, then names sorted.
  std::map<std::string, std::string> canonical;
  for (const auto& [name, value] : request.headers) {
    std::string lower = toLower(name);
    if (lower == "authorization") continue;
    std::string v = canonicalHeaderValue(value);
    auto [it, inserted] = canonical.emplace(lower, v);
    if (!inserted) it->second += "," + v;
  }

  SignatureParts parts;
  std::string headers_block;
  for (const auto& [name, value] : canonical) {
    headers_block += name + ":" + value + "\n";
    if (!parts.signed_headers.empty()) parts.signed_headers += ';';
    parts.signed_headers += name;
  }

  parts.canonical_request = request.method + "\n" + canonicalPath(url.path, path_encoding) + "\n" +
                            canonicalQuery(url.query) + "\n" + headers_block + "\n" +
                            parts.signed_headers + "\n" + std::string(payload_hex);

  std::string date(amz_date.substr(0, 8));
  std::string scope =
      date + "/" + std::string(region) + "/" + std::string(service) + "/aws4_request";
  crypto::Sha256Digest request_hash = crypto::sha256(bytesOf(parts.canonical_request));
  parts.string_to_sign = std::string(kAlgorithm) + "\n" + std::string(amz_date) + "\n" + scope +
                         "\n" + hexLower(request_hash);

  std::string secret_key = "AWS4" + credentials.secret_access_key;
  crypto::Sha256Digest k_date = crypto::hmacSha256(bytesOf(secret_key), bytesOf(date));
  std::fill(secret_key.begin(), secret_key.end(), '\0');
  crypto::Sha256Digest k_region = crypto::hmacSha256(k_date, bytesOf(region));
  crypto::Sha256Digest k_service = crypto::hmacSha256(k_region, bytesOf(service));
  crypto::Sha256Digest k_signing = crypto::hmacSha256(k_service, bytesOf("aws4_request"));
  parts.signature = hexLower(crypto::hmacSha256(k_signing, bytesOf(parts.string_to_sign)));
  return parts;
}

Status signRequest(Request& request, const Credentials& credentials, std::string_view region,
                   std::string_view service, std::chrono::system_clock::time_point now,
                   PayloadHash payload, SigningOptions options) {
  S3C_ASSIGN_OR_RETURN(UrlParts url, parseUrl(request.url));
  std::string payload_hex;
  switch (payload.kind) {
    case PayloadHash::Kind::kBodySha256:
      payload_hex = hexLower(crypto::sha256(request.body));
      break;
    case PayloadHash::Kind::kUnsigned:
      payload_hex = "UNSIGNED-PAYLOAD";
      break;
    case PayloadHash::Kind::kPrecomputed:
      if (payload.hex.size() != 64) {
        return Error(ErrorKind::kInvalidArgument, "cannot sign: payload hash is not 64 hex digits");
      }
      payload_hex = toLower(payload.hex);
      break;
  }
  bool has_host = std::any_of(request.headers.begin(), request.headers.end(),
                              [](const auto& h) { return toLower(h.first) == "host"; });
  if (!has_host) request.headers.emplace_back("host", url.host_header);
  std::string date = amzDate(now);
  setHeader(request.headers, "x-amz-date", date);
  if (options.add_content_sha256_header) {
    setHeader(request.headers, "x-amz-content-sha256", payload_hex);
  }
  if (!credentials.session_token.empty()) {
    setHeader(request.headers, "x-amz-security-token", credentials.session_token);
  }
  std::erase_if(request.headers, [](const auto& h) { return toLower(h.first) == "authorization"; });
  S3C_ASSIGN_OR_RETURN(SignatureParts parts,
                       computeSignature(request, credentials, region, service, date, payload_hex,
                                        options.path_encoding));
  std::string authorization =
      std::string(kAlgorithm) + " Credential=" + credentials.access_key_id + "/" +
      date.substr(0, 8) + "/" + std::string(region) + "/" + std::string(service) +
      "/aws4_request, SignedHeaders=" + parts.signed_headers + ", Signature=" + parts.signature;
  request.headers.emplace_back("Authorization", std::move(authorization));
  return ok();
}

}  // namespace s3cryptfs::http
