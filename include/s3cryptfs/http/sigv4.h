#pragma once

// AWS Signature Version 4 (header form), as documented in the AWS General Reference
// ("Create a canonical request for Signature Version 4").

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "s3cryptfs/core/result.h"
#include "s3cryptfs/http/http_client.h"

namespace s3cryptfs::http {

// AWS credentials. The secret and the token are plain strings for ease of use, but nothing in
// this module prints them: log describe(), never the fields.
struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty: long-term credentials

  bool complete() const { return !access_key_id.empty() && !secret_access_key.empty(); }
  // "access key AKID... (with session token)": safe for logs and messages.
  std::string describe() const;
};

// What x-amz-content-sha256 (and the canonical request's last line) says about the body.
struct PayloadHash {
  enum class Kind : uint8_t { kBodySha256, kUnsigned, kPrecomputed };
  Kind kind = Kind::kBodySha256;
  std::string hex;  // kPrecomputed only: lower-case hex SHA-256 of the body

  static PayloadHash bodySha256() { return {}; }
  static PayloadHash unsignedPayload() { return {Kind::kUnsigned, {}}; }
  static PayloadHash precomputed(std::string lower_hex) {
    return {Kind::kPrecomputed, std::move(lower_hex)};
  }
};

// S3 signs the path as sent (encoded once); every other service encodes the encoded path again.
enum class PathEncoding : uint8_t { kSingle, kDouble };

struct SigningOptions {
  PathEncoding path_encoding = PathEncoding::kSingle;
  // Adds the x-amz-content-sha256 header (S3 requires it; the generic test suite has none).
  bool add_content_sha256_header = true;
};

// The intermediate values, for tests and for debugging signature mismatches (they contain no
// secret, but the signature itself should still not be logged).
struct SignatureParts {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signed_headers;
  std::string signature;  // lower-case hex
};

// Adds host (unless present), x-amz-date, x-amz-content-sha256 (see options),
// x-amz-security-token (when the credentials carry one) and Authorization to `request`,
// replacing earlier values of these headers. kInvalidArgument for an unusable URL or incomplete
// credentials. Defaults suit S3 (single path encoding, content hash header).
Status signRequest(Request& request, const Credentials& credentials, std::string_view region,
                   std::string_view service, std::chrono::system_clock::time_point now,
                   PayloadHash payload = PayloadHash::bodySha256(),
                   SigningOptions options = SigningOptions{});

// Computes the signature of a request that already carries all headers to sign (host and
// x-amz-date included). signRequest() is this plus adding the headers.
Result<SignatureParts> computeSignature(const Request& request, const Credentials& credentials,
                                        std::string_view region, std::string_view service,
                                        std::string_view amz_date, std::string_view payload_hex,
                                        PathEncoding path_encoding);

// Percent-encodes per the SigV4 rules: A-Za-z0-9 - _ . ~ kept, every other byte as %XX (upper
// case hex); '/' kept when !encode_slash (S3 object key paths), encoded otherwise (query names
// and values).
std::string uriEncode(std::string_view text, bool encode_slash);
// Decodes %XX sequences (malformed ones are kept as they are); '+' stays '+'.
std::string uriDecode(std::string_view text);

// "20150830T123600Z" (UTC).
std::string amzDate(std::chrono::system_clock::time_point now);

}  // namespace s3cryptfs::http
