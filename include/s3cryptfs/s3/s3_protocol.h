#pragma once

// The S3 wire protocol as pure functions: URLs, XML request bodies, XML response parsing and the
// mapping of S3 errors to our ErrorKind. No I/O here, so every rule is unit-tested without a
// server. tinyxml2 stays inside src/s3: nothing of it appears in this header.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "s3cryptfs/core/bytes.h"
#include "s3cryptfs/core/result.h"
#include "s3cryptfs/store/object_store.h"

namespace s3cryptfs::s3 {

// Path style: http://host/bucket/key. Virtual-hosted: http://bucket.host/key.
enum class AddressingStyle : uint8_t { kPath, kVirtualHosted };

struct Endpoint {
  std::string scheme;     // "http" or "https"
  std::string authority;  // "host" or "host:port" as given
};

// Accepts "http://host[:port]" or "https://host[:port]", with an optional trailing "/".
// Anything else (a path, a query, user info, another scheme) is kInvalidArgument.
Result<Endpoint> parseEndpoint(std::string_view url);

// The URL of a bucket (key empty) or an object. `full_key` is the key as stored (prefix
// included) and is percent-encoded here by the AWS rules; `query` is appended after '?' as is
// (build it with queryParam).
std::string objectUrl(const Endpoint& endpoint, AddressingStyle style, std::string_view bucket,
                      std::string_view full_key, std::string_view query = {});
// "name=value" with both sides percent-encoded by the AWS rules ("name" alone when value is
// empty and `bare` is set, e.g. "uploads", "delete").
std::string queryParam(std::string_view name, std::string_view value);
// The x-amz-copy-source header value: "/bucket/key", percent-encoded, '/' kept.
std::string copySourceHeader(std::string_view bucket, std::string_view full_key);

// Decodes a value of a listing requested with encoding-type=url ('+' is a space, as AWS sends
// it). A malformed escape is kInvalidArgument (the caller reports a malformed response).
Result<std::string> urlDecode(std::string_view encoded);

// "bytes 100-199/1000" → total 1000 (also "bytes */1000" of a 416 answer).
struct ContentRange {
  std::optional<uint64_t> first;
  std::optional<uint64_t> last;
  uint64_t total = 0;
};
std::optional<ContentRange> parseContentRange(std::string_view value);
// The Range header of a request; nullopt for a zero-length range (the caller refuses it).
std::optional<std::string> rangeHeader(const store::ByteRange& range);

// RFC 7231 IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") and ISO 8601 as in S3 XML
// ("2026-11-23T07:02:48.000Z"). nullopt when malformed.
std::optional<int64_t> parseHttpDate(std::string_view value);
std::optional<int64_t> parseIsoDate(std::string_view value);

// ETags arrive quoted; we keep them without quotes.
std::string unquoteEtag(std::string_view etag);

// --- Errors -------------------------------------------------------------------------------

// The parsed <Error> body of an S3 answer.
struct ErrorBody {
  std::string code;
  std::string message;
  std::string resource;
  std::string request_id;
};
// nullopt when the body is not an S3 <Error> document.
std::optional<ErrorBody> parseErrorBody(ByteSpan body);

// What the error message names: never credentials or signatures.
struct RequestContext {
  std::string method;    // "GET", "PUT", ...
  std::string endpoint;  // "http://127.0.0.1:7480"
  std::string bucket;
  std::string key;        // full key (with the store's prefix); may be empty
  std::string operation;  // "GetObject", "CompleteMultipartUpload", ...
};

// Maps an HTTP status and an S3 error code to an Error (see docs/S3.md for the table). The
// message names the operation, the bucket and the key, the server's code and message, and for
// credential problems what to check. serviceCode()/httpStatus() carry the server's code.
Error mapS3Error(int http_status, const std::optional<ErrorBody>& body,
                 const RequestContext& context);
// A body we could not make sense of: kIo "malformed response from <endpoint>: <what>".
Error malformedResponse(const RequestContext& context, std::string_view what);

// --- XML bodies ---------------------------------------------------------------------------

// One page of ListObjectsV2. Keys and prefixes are full keys (store prefix included), already
// decoded when the server says it url-encoded them (<EncodingType>url</EncodingType>).
struct ListObjectsResult {
  std::vector<store::ObjectInfo> objects;
  std::vector<std::string> common_prefixes;
  bool is_truncated = false;
  std::string next_continuation_token;
};
// Errors are kIo "malformed …" details in the message; the caller adds the context.
Result<ListObjectsResult> parseListObjectsV2(ByteSpan body);

struct DeleteResultEntry {
  std::string key;  // full key
  std::string code;
  std::string message;
};
// The <Error> entries of a DeleteObjects answer (quiet mode reports only failures).
Result<std::vector<DeleteResultEntry>> parseDeleteResult(ByteSpan body);
// <Delete><Quiet>true</Quiet><Object><Key>…</Key></Object>…</Delete>. kInvalidArgument when a
// key holds a character XML 1.0 cannot carry (control bytes, CR): delete those one by one.
Result<std::string> buildDeleteBody(const std::vector<std::string>& full_keys);

Result<std::string> parseInitiateMultipartUpload(ByteSpan body);

// The ETag (unquoted) and last-modified of CopyObject / UploadPartCopy answers, and the ETag
// of CompleteMultipartUpload. These answers can be "200 OK" carrying an <Error> document: that
// comes back as `error`, for the caller to map.
struct WriteResult {
  std::string etag;
  int64_t last_modified_unix = 0;
  std::optional<ErrorBody> error;
};
Result<WriteResult> parseCopyResult(ByteSpan body);
// The ETag may be empty here (Ceph RGW 16.2 sends <ETag></ETag>).
Result<WriteResult> parseCompleteMultipartUpload(ByteSpan body);

std::string buildCompleteMultipartBody(const std::vector<store::PartInfo>& parts);

struct ListUploadsResult {
  std::vector<store::MultipartUploadInfo> uploads;  // full keys, decoded
  bool is_truncated = false;
  std::string next_key_marker;
  std::string next_upload_id_marker;
};
Result<ListUploadsResult> parseListMultipartUploads(ByteSpan body);

struct ListPartsResult {
  std::vector<store::PartInfo> parts;
  bool is_truncated = false;
  uint32_t next_part_number_marker = 0;
};
Result<ListPartsResult> parseListParts(ByteSpan body);

}  // namespace s3cryptfs::s3
