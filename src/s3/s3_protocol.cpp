#include "s3cryptfs/s3/s3_protocol.h"

#include <charconv>
#include <ctime>

#include "s3cryptfs/http/sigv4.h"

#include <tinyxml2.h>

namespace s3cryptfs::s3 {
namespace {

bool startsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

std::optional<uint64_t> parseU64(std::string_view text) {
  if (text.empty()) return std::nullopt;
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

Error malformed(std::string what) {
  return Error(ErrorKind::kIo, std::move(what));
}

// Parses a whole body; a truncated or garbled document is an error, never a crash.
Status parseDocument(tinyxml2::XMLDocument& doc, ByteSpan body) {
  if (body.empty()) return malformed("empty XML body");
  tinyxml2::XMLError rc = doc.Parse(reinterpret_cast<const char*>(body.data()), body.size());
  if (rc != tinyxml2::XML_SUCCESS) {
    return malformed(std::string("XML does not parse (") +
                     tinyxml2::XMLDocument::ErrorIDToName(rc) + ")");
  }
  if (doc.RootElement() == nullptr) return malformed("XML has no root element");
  return ok();
}

// The text of a child element, "" when absent or empty.
std::string childText(const tinyxml2::XMLElement* parent, const char* name) {
  const tinyxml2::XMLElement* child = parent->FirstChildElement(name);
  if (child == nullptr || child->GetText() == nullptr) return {};
  return child->GetText();
}

bool hasChild(const tinyxml2::XMLElement* parent, const char* name) {
  return parent->FirstChildElement(name) != nullptr;
}

Result<const tinyxml2::XMLElement*> expectRoot(const tinyxml2::XMLDocument& doc,
                                               std::string_view name) {
  const tinyxml2::XMLElement* root = doc.RootElement();
  std::string_view actual = root->Name();
  // moto names some roots "…Response" where S3 says "…Result".
  bool alias = name.size() > 6 && name.substr(name.size() - 6) == "Result" &&
               actual.size() == name.size() + 2 &&
               actual.substr(0, name.size() - 6) == name.substr(0, name.size() - 6) &&
               actual.substr(name.size() - 6) == "Response";
  if (actual != name && !alias) {
    return malformed("expected <" + std::string(name) + ">, got <" + root->Name() + ">");
  }
  return root;
}

bool isTrue(const std::string& text) {
  return text == "true" || text == "True" || text == "TRUE";
}

ErrorBody errorFromElement(const tinyxml2::XMLElement* element) {
  ErrorBody out;
  out.code = childText(element, "Code");
  out.message = childText(element, "Message");
  out.resource = childText(element, "Resource");
  out.request_id = childText(element, "RequestId");
  return out;
}

// Appends text escaped for XML content. CR would be normalised to LF by the server's parser and
// C0 control characters cannot appear in XML 1.0 at all, so those make the key unsendable.
bool appendXmlEscaped(std::string& out, std::string_view text) {
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      case '\t':
        out += "&#9;";
        break;
      case '\n':
        out += "&#10;";
        break;
      default:
        if (u < 0x20 || u == 0x7f) return false;
        out += c;
    }
  }
  return true;
}

Result<std::string> maybeDecode(bool url_encoded, std::string text) {
  if (!url_encoded) return text;
  return urlDecode(text);
}

}  // namespace

Result<Endpoint> parseEndpoint(std::string_view url) {
  Endpoint out;
  std::string_view rest;
  if (startsWith(url, "http://")) {
    out.scheme = "http";
    rest = url.substr(7);
  } else if (startsWith(url, "https://")) {
    out.scheme = "https";
    rest = url.substr(8);
  } else {
    return Error(ErrorKind::kInvalidArgument,
                 "S3 endpoint '" + std::string(url) + "' must start with http:// or https://");
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.empty() || rest.find_first_of("/?#@ \t") != std::string_view::npos) {
    return Error(ErrorKind::kInvalidArgument,
                 "S3 endpoint '" + std::string(url) +
                     "' must be scheme://host[:port] with no path, query or user info");
  }
  out.authority = std::string(rest);
  return out;
}

std::string objectUrl(const Endpoint& endpoint, AddressingStyle style, std::string_view bucket,
                      std::string_view full_key, std::string_view query) {
  std::string url = endpoint.scheme + "://";
  if (style == AddressingStyle::kVirtualHosted) {
    url += bucket;
    url += '.';
    url += endpoint.authority;
    url += '/';
  } else {
    url += endpoint.authority;
    url += '/';
    url += bucket;
    url += '/';  // S3 accepts "/bucket/" for bucket operations; the signer signs it as sent
  }
  url += http::uriEncode(full_key, /*encode_slash=*/false);
  if (!query.empty()) {
    url += '?';
    url += query;
  }
  return url;
}

std::string queryParam(std::string_view name, std::string_view value) {
  std::string out = http::uriEncode(name, true);
  out += '=';
  out += http::uriEncode(value, true);
  return out;
}

std::string copySourceHeader(std::string_view bucket, std::string_view full_key) {
  std::string out = "/";
  out += http::uriEncode(bucket, true);
  out += '/';
  out += http::uriEncode(full_key, false);
  return out;
}

Result<std::string> urlDecode(std::string_view encoded) {
  std::string out;
  out.reserve(encoded.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < encoded.size(); ++i) {
    char c = encoded[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      if (i + 2 >= encoded.size()) {
        return Error(ErrorKind::kInvalidArgument, "truncated %-escape in url-encoded value");
      }
      int hi = hex(encoded[i + 1]);
      int lo = hex(encoded[i + 2]);
      if (hi < 0 || lo < 0) {
        return Error(ErrorKind::kInvalidArgument, "bad %-escape in url-encoded value");
      }
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<ContentRange> parseContentRange(std::string_view value) {
  while (!value.empty() && value.front() == ' ')
    value.remove_prefix(1);
  if (!startsWith(value, "bytes ")) return std::nullopt;
  value.remove_prefix(6);
  size_t slash = value.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  std::string_view span = value.substr(0, slash);
  std::string_view total = value.substr(slash + 1);
  while (!total.empty() && (total.back() == ' ' || total.back() == '\r'))
    total.remove_suffix(1);
  ContentRange out;
  auto parsed_total = parseU64(total);
  if (!parsed_total) return std::nullopt;  // "*" totals are useless to us
  out.total = *parsed_total;
  if (span != "*") {
    size_t dash = span.find('-');
    if (dash == std::string_view::npos) return std::nullopt;
    out.first = parseU64(span.substr(0, dash));
    out.last = parseU64(span.substr(dash + 1));
    if (!out.first || !out.last || *out.last < *out.first || *out.last >= out.total) {
      return std::nullopt;
    }
  }
  return out;
}

std::optional<std::string> rangeHeader(const store::ByteRange& range) {
  if (range.length && *range.length == 0) return std::nullopt;
  std::string out = "bytes=" + std::to_string(range.offset) + "-";
  if (range.length) {
    // Saturate: a length past the end is cut at the end by the server.
    uint64_t last = range.offset + *range.length - 1;
    if (last < range.offset) last = UINT64_MAX - 1;
    out += std::to_string(last);
  }
  return out;
}

namespace {
std::optional<int64_t> toUnix(std::tm& tm) {
  tm.tm_isdst = 0;
  time_t t = timegm(&tm);
  if (t == static_cast<time_t>(-1)) return std::nullopt;
  return static_cast<int64_t>(t);
}

std::optional<int> monthIndex(std::string_view name) {
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (int i = 0; i < 12; ++i) {
    if (kMonths[i] == name) return i;
  }
  return std::nullopt;
}

std::optional<int> number(std::string_view text) {
  auto v = parseU64(text);
  if (!v || *v > 100000) return std::nullopt;
  return static_cast<int>(*v);
}
}  // namespace

std::optional<int64_t> parseHttpDate(std::string_view value) {
  // "Sun, 06 Nov 1994 08:49:37 GMT": fixed widths after the comma.
  size_t comma = value.find(", ");
  if (comma == std::string_view::npos) return std::nullopt;
  std::string_view rest = value.substr(comma + 2);
  if (rest.size() < 24 || rest.substr(20, 4) != " GMT") return std::nullopt;
  std::tm tm{};
  auto day = number(rest.substr(0, 2));
  auto month = monthIndex(rest.substr(3, 3));
  auto year = number(rest.substr(7, 4));
  auto hour = number(rest.substr(12, 2));
  auto minute = number(rest.substr(15, 2));
  auto second = number(rest.substr(18, 2));
  if (!day || !month || !year || !hour || !minute || !second || rest[2] != ' ' || rest[6] != ' ' ||
      rest[11] != ' ' || rest[14] != ':' || rest[17] != ':') {
    return std::nullopt;
  }
  tm.tm_mday = *day;
  tm.tm_mon = *month;
  tm.tm_year = *year - 1900;
  tm.tm_hour = *hour;
  tm.tm_min = *minute;
  tm.tm_sec = *second;
  return toUnix(tm);
}

std::optional<int64_t> parseIsoDate(std::string_view value) {
  // "2026-11-23T07:02:48.000Z" (fraction optional).
  if (value.size() < 20 || value[4] != '-' || value[7] != '-' || value[10] != 'T' ||
      value[13] != ':' || value[16] != ':' || value.back() != 'Z') {
    return std::nullopt;
  }
  auto year = number(value.substr(0, 4));
  auto month = number(value.substr(5, 2));
  auto day = number(value.substr(8, 2));
  auto hour = number(value.substr(11, 2));
  auto minute = number(value.substr(14, 2));
  auto second = number(value.substr(17, 2));
  if (!year || !month || !day || !hour || !minute || !second || *month < 1 || *month > 12) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = *year - 1900;
  tm.tm_mon = *month - 1;
  tm.tm_mday = *day;
  tm.tm_hour = *hour;
  tm.tm_min = *minute;
  tm.tm_sec = *second;
  return toUnix(tm);
}

std::string unquoteEtag(std::string_view etag) {
  if (startsWith(etag, "W/")) etag.remove_prefix(2);
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag = etag.substr(1, etag.size() - 2);
  }
  // Some servers escape the quotes in XML as &quot; which tinyxml2 has already decoded.
  return std::string(etag);
}

// --- Errors -------------------------------------------------------------------------------

std::optional<ErrorBody> parseErrorBody(ByteSpan body) {
  tinyxml2::XMLDocument doc;
  if (!parseDocument(doc, body)) return std::nullopt;
  const tinyxml2::XMLElement* root = doc.RootElement();
  if (std::string_view(root->Name()) != "Error") return std::nullopt;
  ErrorBody out = errorFromElement(root);
  if (out.code.empty()) return std::nullopt;
  return out;
}

namespace {

std::string where(const RequestContext& context) {
  std::string out = context.operation.empty() ? context.method : context.operation;
  out += " s3://" + context.bucket;
  if (!context.key.empty()) out += "/" + context.key;
  return out;
}

}  // namespace

Error malformedResponse(const RequestContext& context, std::string_view what) {
  return Error(ErrorKind::kIo, where(context) + ": malformed response from " + context.endpoint +
                                   ": " + std::string(what));
}

Error mapS3Error(int http_status, const std::optional<ErrorBody>& body,
                 const RequestContext& context) {
  // HEAD answers and some proxies carry no body: fall back to a code named after the status.
  std::string code = body ? body->code : std::string();
  std::string server_message = body ? body->message : std::string();
  if (code.empty()) {
    switch (http_status) {
      case 404:
        code = "NoSuchKey";
        break;
      case 403:
        code = "AccessDenied";
        break;
      case 412:
        code = "PreconditionFailed";
        break;
      case 416:
        code = "InvalidRange";
        break;
      case 503:
        code = "ServiceUnavailable";
        break;
      default:
        code = "HTTP" + std::to_string(http_status);
    }
  }

  ErrorKind kind = ErrorKind::kIo;
  std::string advice;
  if (code == "NoSuchBucket") {
    kind = ErrorKind::kNotFound;
    advice = "bucket " + context.bucket + " does not exist at " + context.endpoint +
             " (check the bucket name and the endpoint)";
  } else if (code == "NoSuchKey" || code == "NotFound" || code == "NoSuchUpload") {
    kind = ErrorKind::kNotFound;
  } else if (code == "PreconditionFailed" || code == "ConditionalRequestConflict" ||
             http_status == 412) {
    kind = ErrorKind::kPreconditionFailed;
  } else if (code == "SignatureDoesNotMatch") {
    kind = ErrorKind::kPermissionDenied;
    advice =
        "the server rejected the request signature: check the secret access key (and the "
        "region and clock)";
  } else if (code == "InvalidAccessKeyId") {
    kind = ErrorKind::kPermissionDenied;
    advice = "the server does not know the access key id: check the access key id";
  } else if (code == "ExpiredToken" || code == "TokenRefreshRequired" || code == "RequestExpired") {
    kind = ErrorKind::kPermissionDenied;
    advice = "credentials expired: refresh the session token (or check the clock)";
  } else if (code == "RequestTimeTooSkewed") {
    kind = ErrorKind::kPermissionDenied;
    advice = "the clock of this host differs too much from the server's: sync the clock";
  } else if (code == "AccessDenied" || code == "AllAccessDisabled" || code == "InvalidToken" ||
             http_status == 403) {
    kind = ErrorKind::kPermissionDenied;
    advice = "access denied: check the credentials and the bucket policy";
  } else if (code == "SlowDown" || code == "ServiceUnavailable" || code == "Throttling" ||
             code == "ThrottlingException" || code == "RequestLimitExceeded" ||
             http_status == 429 || http_status == 503) {
    kind = ErrorKind::kThrottled;
  } else if (code == "InternalError" || code == "RequestTimeout" ||
             (http_status >= 500 && http_status != 501 && code != "NotImplemented")) {
    kind = ErrorKind::kTransient;
  } else if (code == "NotImplemented" || http_status == 501) {
    kind = ErrorKind::kUnsupported;
    advice = "the server does not implement " +
             (context.operation.empty() ? context.method : context.operation);
  } else if (code == "KeyTooLongError") {
    kind = ErrorKind::kNameTooLong;
  } else if (code == "InvalidRange" || http_status == 416 || code == "InvalidPart" ||
             code == "InvalidPartOrder" || code == "EntityTooSmall" || code == "EntityTooLarge" ||
             code == "InvalidArgument" || code == "InvalidRequest" || code == "MetadataTooLarge" ||
             code == "InvalidDigest" || code == "BadDigest" || code == "MalformedXML" ||
             code == "InvalidBucketName") {
    kind = ErrorKind::kInvalidArgument;
  }

  std::string message = where(context) + " at " + context.endpoint + ": ";
  if (!advice.empty()) {
    message += advice + "; ";
  }
  Error error(kind, "");
  if (body && !body->code.empty()) {
    message += "server said " + code;
    if (!server_message.empty()) message += " (" + server_message + ")";
    error = Error(kind, std::move(message));
    error.setService(code, http_status);
  } else {
    // No S3 error document (HEAD, a proxy, a crashed handler): the status is all we know.
    message += "server answered HTTP " + std::to_string(http_status) + " (" + code + ")";
    error = Error(kind, std::move(message));
    error.setService("", http_status);
  }
  return error;
}

// --- XML bodies ---------------------------------------------------------------------------

Result<ListObjectsResult> parseListObjectsV2(ByteSpan body) {
  tinyxml2::XMLDocument doc;
  S3C_RETURN_IF_ERROR(parseDocument(doc, body));
  S3C_ASSIGN_OR_RETURN(const tinyxml2::XMLElement* root, expectRoot(doc, "ListBucketResult"));
  bool encoded = childText(root, "EncodingType") == "url";
  ListObjectsResult out;
  std::string truncated = childText(root, "IsTruncated");
  if (!truncated.empty() && truncated != "true" && truncated != "false") {
    return malformed("IsTruncated is '" + truncated + "'");
  }
  out.is_truncated = isTrue(truncated);
  out.next_continuation_token = childText(root, "NextContinuationToken");
  if (out.is_truncated && out.next_continuation_token.empty()) {
    return malformed("a truncated listing without NextContinuationToken");
  }
  for (const tinyxml2::XMLElement* item = root->FirstChildElement("Contents"); item != nullptr;
       item = item->NextSiblingElement("Contents")) {
    if (!hasChild(item, "Key")) return malformed("<Contents> without <Key>");
    store::ObjectInfo info;
    auto key = maybeDecode(encoded, childText(item, "Key"));
    if (!key) return malformed("undecodable key: " + key.error().message());
    info.key = std::move(key).value();
    std::string size = childText(item, "Size");
    auto parsed_size = parseU64(size);
    if (!parsed_size) return malformed("bad <Size> '" + size + "' of key " + info.key);
    info.size = *parsed_size;
    info.etag = unquoteEtag(childText(item, "ETag"));
    info.last_modified_unix = parseIsoDate(childText(item, "LastModified")).value_or(0);
    out.objects.push_back(std::move(info));
  }
  for (const tinyxml2::XMLElement* item = root->FirstChildElement("CommonPrefixes");
       item != nullptr; item = item->NextSiblingElement("CommonPrefixes")) {
    auto prefix = maybeDecode(encoded, childText(item, "Prefix"));
    if (!prefix) return malformed("undecodable common prefix: " + prefix.error().message());
    out.common_prefixes.push_back(std::move(prefix).value());
  }
  return out;
}

Result<std::vector<DeleteResultEntry>> parseDeleteResult(ByteSpan body) {
  tinyxml2::XMLDocument doc;
  S3C_RETURN_IF_ERROR(parseDocument(doc, body));
  S3C_ASSIGN_OR_RETURN(const tinyxml2::XMLElement* root, expectRoot(doc, "DeleteResult"));
  std::vector<DeleteResultEntry> out;
  for (const tinyxml2::XMLElement* item = root->FirstChildElement("Error"); item != nullptr;
       item = item->NextSiblingElement("Error")) {
    DeleteResultEntry entry;
    entry.key = childText(item, "Key");
    entry.code = childText(item, "Code");
    entry.message = childText(item, "Message");
    if (entry.key.empty()) return malformed("a DeleteResult <Error> without <Key>");
    out.push_back(std::move(entry));
  }
  return out;
}

Result<std::string> buildDeleteBody(const std::vector<std::string>& full_keys) {
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Delete><Quiet>true</Quiet>";
  for (const auto& key : full_keys) {
    out += "<Object><Key>";
    if (!appendXmlEscaped(out, key)) {
      return Error(ErrorKind::kInvalidArgument,
                   "key holds a character XML cannot carry: delete it alone");
    }
    out += "</Key></Object>";
  }
  out += "</Delete>";
  return out;
}

Result<std::string> parseInitiateMultipartUpload(ByteSpan body) {
  tinyxml2::XMLDocument doc;
  S3C_RETURN_IF_ERROR(parseDocument(doc, body));
  S3C_ASSIGN_OR_RETURN(const tinyxml2::XMLElement* root,
                       expectRoot(doc, "InitiateMultipartUploadResult"));
  std::string upload_id = childText(root, "UploadId");
  if (upload_id.empty()) return malformed("no <UploadId>");
  return upload_id;
}

namespace {
Result<WriteResult> parseWriteResult(ByteSpan body, std::string_view expected_root,
                                     bool require_etag) {
  tinyxml2::XMLDocument doc;
  S3C_RETURN_IF_ERROR(parseDocument(doc, body));
  const tinyxml2::XMLElement* root = doc.RootElement();
  WriteResult out;
  if (std::string_view(root->Name()) == "Error") {
    // "200 OK" with an error: the server failed after it had started answering.
    out.error = errorFromElement(root);
    if (out.error->code.empty()) out.error->code = "InternalError";
    return out;
  }
  S3C_ASSIGN_OR_RETURN(root, expectRoot(doc, expected_root));
  out.etag = unquoteEtag(childText(root, "ETag"));
  if (out.etag.empty() && require_etag) {
    return malformed("no <ETag> in <" + std::string(expected_root) + ">");
  }
  out.last_modified_unix = parseIsoDate(childText(root, "LastModified")).value_or(0);
  return out;
}
}  // namespace

Result<WriteResult> parseCopyResult(ByteSpan body) {
  tinyxml2::XMLDocument doc;
  S3C_RETURN_IF_ERROR(parseDocument(doc, body));
  std::string_view root = doc.RootElement()->Name();
  // CopyObject answers <CopyObjectResult>, UploadPartCopy <CopyPartResult>.
  bool part = root.substr(0, 8) == "CopyPart";
  return parseWriteResult(body, part ? "CopyPartResult" : "CopyObjectResult", true);
}

Result<WriteResult> parseCompleteMultipartUpload(ByteSpan body) {
  // Ceph RGW 16.2 answers <ETag></ETag>: the caller HEADs the object then.
  return parseWriteResult(body, "CompleteMultipartUploadResult", false);
}

std::string buildCompleteMultipartBody(const std::vector<store::PartInfo>& parts) {
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUpload>";
  for (const auto& part : parts) {
    out += "<Part><PartNumber>" + std::to_string(part.part_number) + "</PartNumber><ETag>";
    out += "&quot;";
    // ETags are hex (plus "-N"); escaping keeps a hostile value from breaking the document.
    std::string etag = unquoteEtag(part.etag);
    if (!appendXmlEscaped(out, etag)) out += "invalid";
    out += "&quot;</ETag></Part>";
  }
  out += "</CompleteMultipartUpload>";
  return out;
}

Result<ListUploadsResult> parseListMultipartUploads(ByteSpan body) {
  tinyxml2::XMLDocument doc;
  S3C_RETURN_IF_ERROR(parseDocument(doc, body));
  S3C_ASSIGN_OR_RETURN(const tinyxml2::XMLElement* root,
                       expectRoot(doc, "ListMultipartUploadsResult"));
  bool encoded = childText(root, "EncodingType") == "url";
  ListUploadsResult out;
  out.is_truncated = isTrue(childText(root, "IsTruncated"));
  auto next_key = maybeDecode(encoded, childText(root, "NextKeyMarker"));
  if (!next_key) return malformed("undecodable NextKeyMarker");
  out.next_key_marker = std::move(next_key).value();
  out.next_upload_id_marker = childText(root, "NextUploadIdMarker");
  for (const tinyxml2::XMLElement* item = root->FirstChildElement("Upload"); item != nullptr;
       item = item->NextSiblingElement("Upload")) {
    store::MultipartUploadInfo info;
    auto key = maybeDecode(encoded, childText(item, "Key"));
    if (!key) return malformed("undecodable upload key");
    info.key = std::move(key).value();
    info.upload_id = childText(item, "UploadId");
    if (info.upload_id.empty()) return malformed("<Upload> without <UploadId>");
    info.initiated_unix = parseIsoDate(childText(item, "Initiated")).value_or(0);
    out.uploads.push_back(std::move(info));
  }
  return out;
}

Result<ListPartsResult> parseListParts(ByteSpan body) {
  tinyxml2::XMLDocument doc;
  S3C_RETURN_IF_ERROR(parseDocument(doc, body));
  S3C_ASSIGN_OR_RETURN(const tinyxml2::XMLElement* root, expectRoot(doc, "ListPartsResult"));
  ListPartsResult out;
  out.is_truncated = isTrue(childText(root, "IsTruncated"));
  out.next_part_number_marker =
      static_cast<uint32_t>(parseU64(childText(root, "NextPartNumberMarker")).value_or(0));
  for (const tinyxml2::XMLElement* item = root->FirstChildElement("Part"); item != nullptr;
       item = item->NextSiblingElement("Part")) {
    store::PartInfo part;
    auto number = parseU64(childText(item, "PartNumber"));
    auto size = parseU64(childText(item, "Size"));
    if (!number || *number == 0 || *number > 10000 || !size) {
      return malformed("bad <Part> in ListPartsResult");
    }
    part.part_number = static_cast<uint32_t>(*number);
    part.size = *size;
    part.etag = unquoteEtag(childText(item, "ETag"));
    out.parts.push_back(std::move(part));
  }
  return out;
}

}  // namespace s3cryptfs::s3
