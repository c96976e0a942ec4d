#include "s3cryptfs/s3/s3_object_store.h"

#include <algorithm>

#include "s3cryptfs/core/log.h"
#include "s3cryptfs/core/metrics.h"
#include "s3cryptfs/crypto/hash.h"
#include "s3cryptfs/crypto/random.h"

#include "request_signing.h"

namespace s3cryptfs::s3 {
namespace {

constexpr size_t kMaxKeyBytes = 1024;
constexpr size_t kMaxMetadataBytes = 2048;
constexpr uint32_t kMaxPartNumber = 10000;
constexpr uint32_t kMaxListKeys = 1000;
constexpr size_t kMaxDeleteBatch = 1000;
// A listing of uploads or parts that never ends is a server bug; stop instead of looping.
constexpr int kMaxPages = 100000;
constexpr std::string_view kMetaPrefix = "x-amz-meta-";

Status validateKey(std::string_view key) {
  if (key.empty()) return Error(ErrorKind::kInvalidArgument, "empty object key");
  if (key.find('\0') != std::string_view::npos) {
    return Error(ErrorKind::kInvalidArgument, "object key contains a NUL byte");
  }
  return ok();
}

bool isHeaderToken(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    bool ok_char = (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') || c == '-' || c == '_' ||
                   c == '.' || c == '!' || c == '#' || c == '$' || c == '%' || c == '&' ||
                   c == '\'' || c == '*' || c == '+' || c == '^' || c == '`' || c == '|' ||
                   c == '~';
    if (!ok_char) return false;
  }
  return true;
}

Status validateMetadata(const store::Metadata& metadata) {
  size_t total = 0;
  for (const auto& [name, value] : metadata) {
    if (!isHeaderToken(name)) {
      return Error(ErrorKind::kInvalidArgument,
                   "metadata name '" + name + "' is not a lower-case HTTP header token");
    }
    for (char c : value) {
      auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u >= 0x7f) {
        return Error(ErrorKind::kInvalidArgument,
                     "metadata value of '" + name + "' is not printable ASCII");
      }
    }
    if (!value.empty() && (value.front() == ' ' || value.back() == ' ')) {
      // HTTP strips leading and trailing spaces of header values: they would not come back.
      return Error(ErrorKind::kInvalidArgument,
                   "metadata value of '" + name + "' starts or ends with a space");
    }
    total += name.size() + value.size();
  }
  if (total > kMaxMetadataBytes) {
    return Error(ErrorKind::kInvalidArgument,
                 "metadata is " + std::to_string(total) + " bytes; S3 allows 2048");
  }
  return ok();
}

Status validatePartNumber(uint32_t part_number) {
  if (part_number == 0 || part_number > kMaxPartNumber) {
    return Error(ErrorKind::kInvalidArgument,
                 "part number " + std::to_string(part_number) + " is outside 1..10000");
  }
  return ok();
}

void addMetadataHeaders(http::Headers& headers, const store::Metadata& metadata) {
  for (const auto& [name, value] : metadata)
    headers.emplace_back(std::string(kMetaPrefix) + name, value);
}

store::Metadata metadataFrom(const http::Response& response) {
  store::Metadata out;
  for (const auto& [name, value] : response.headers) {
    if (name.size() > kMetaPrefix.size() && name.compare(0, kMetaPrefix.size(), kMetaPrefix) == 0) {
      out[name.substr(kMetaPrefix.size())] = value;
    }
  }
  return out;
}

std::string quoted(std::string_view etag) {
  return "\"" + unquoteEtag(etag) + "\"";
}

std::string randomSuffix() {
  auto bytes = crypto::randomBytes(8);
  if (!bytes) {
    return std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
  }
  return toHex(*bytes);
}

bool isSuccess(int status) {
  return status >= 200 && status < 300;
}

}  // namespace

// One request under construction: what to send and what to name in errors.
struct S3ObjectStore::Call {
  std::string method;
  std::string operation;
  std::string full_key;  // empty: a bucket-level request
  std::string query;     // already encoded
  http::Headers headers;
  ByteSpan body;

  RequestContext context(const S3ObjectStore& store) const {
    return RequestContext{method, store.config_.endpoint, store.config_.bucket, full_key,
                          operation};
  }
};

S3ObjectStore::S3ObjectStore(S3Config config, Endpoint endpoint,
                             std::shared_ptr<http::HttpClient> client)
    : config_(std::move(config)), endpoint_(std::move(endpoint)), client_(std::move(client)) {}

Result<std::unique_ptr<S3ObjectStore>> S3ObjectStore::create(
    S3Config config, std::shared_ptr<http::HttpClient> client) {
  if (client == nullptr) return Error(ErrorKind::kInternal, "S3ObjectStore needs an HttpClient");
  S3C_ASSIGN_OR_RETURN(Endpoint endpoint, parseEndpoint(config.endpoint));
  if (config.bucket.empty() || config.bucket.find('/') != std::string::npos) {
    return Error(ErrorKind::kInvalidArgument, "S3 bucket name '" + config.bucket + "' is invalid");
  }
  if (config.region.empty()) {
    return Error(ErrorKind::kInvalidArgument, "S3 region is empty (us-east-1 if unsure)");
  }
  if (!config.endpoint.empty() && config.endpoint.back() == '/') config.endpoint.pop_back();
  return std::unique_ptr<S3ObjectStore>(
      new S3ObjectStore(std::move(config), std::move(endpoint), std::move(client)));
}

std::string S3ObjectStore::fullKey(std::string_view key) const {
  return config_.prefix + std::string(key);
}

std::string S3ObjectStore::describe() const {
  return "s3://" + config_.bucket + "/" + config_.prefix + " at " + config_.endpoint;
}

store::Capabilities S3ObjectStore::capabilities() const {
  std::lock_guard lock(mutex_);
  return capabilities_;
}

ConditionalWriteSupport S3ObjectStore::conditionalWriteSupport() const {
  std::lock_guard lock(mutex_);
  return conditional_;
}

void S3ObjectStore::setCapabilities(const store::Capabilities& capabilities,
                                    const ConditionalWriteSupport& conditional) {
  std::lock_guard lock(mutex_);
  capabilities_ = capabilities;
  conditional_ = conditional;
  probed_ = true;
}

namespace {
// Per S3 operation: requests, their outcome by status class, bytes each way and time spent
// (docs/OPERATIONS.md, "Metrics").
void countRequest(const std::string& operation, const Result<http::Response>& response, size_t sent,
                  std::chrono::steady_clock::duration took) {
  const std::vector<metrics::Label> op = {{"operation", operation}};
  metrics::counter("s3cryptfs_s3_requests_total", "S3 requests sent, by operation.", op).add();
  metrics::counter("s3cryptfs_s3_sent_bytes_total", "Request body bytes sent, by operation.", op)
      .add(sent);
  std::string outcome = "transport_error";
  if (response) {
    outcome = std::to_string(response->status / 100) + "xx";
    metrics::counter("s3cryptfs_s3_received_bytes_total",
                     "Response body bytes received, by operation.", op)
        .add(response->body.size());
  }
  metrics::counter("s3cryptfs_s3_responses_total",
                   "S3 responses by operation and status class (2xx, 4xx, 5xx, transport_error).",
                   {{"operation", operation}, {"status", outcome}})
      .add();
  metrics::counter("s3cryptfs_s3_request_duration_microseconds_total",
                   "Time from sending a request to its complete response, summed, by operation.",
                   op)
      .add(static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(took).count()));
}
}  // namespace

Result<http::Response> S3ObjectStore::send(Call& call) {
  http::Request request;
  request.method = call.method;
  request.url = objectUrl(endpoint_, config_.addressing, config_.bucket, call.full_key, call.query);
  request.headers = call.headers;
  request.body = call.body;
  auto now = config_.clock ? config_.clock() : std::chrono::system_clock::now();
  Status signed_ok = signS3Request(request, config_.credentials, config_.region,
                                   config_.payload_signing == PayloadSigning::kUnsigned, now);
  RequestContext context = call.context(*this);
  if (!signed_ok) {
    return signed_ok.error().withContext(call.operation + " s3://" + config_.bucket + "/" +
                                         call.full_key);
  }
  metrics::Gauge& in_flight =
      metrics::gauge("s3cryptfs_s3_requests_in_flight",
                     "S3 requests sent and not yet answered, by operation (for PutObject and "
                     "UploadPart: the uploads under way).",
                     {{"operation", call.operation}});
  in_flight.add(1);
  auto started = std::chrono::steady_clock::now();
  auto response = client_->send(request);
  in_flight.add(-1);
  countRequest(call.operation, response, request.body.size(),
               std::chrono::steady_clock::now() - started);
  if (!response) {
    return response.error().withContext(call.operation + " s3://" + config_.bucket + "/" +
                                        call.full_key + " at " + config_.endpoint);
  }
  return response;
}

namespace {
// Turns a non-2xx answer into an Error; passes 2xx through.
Result<http::Response> expectSuccess(Result<http::Response> response,
                                     const RequestContext& context) {
  if (!response) return response;
  if (isSuccess(response->status)) return response;
  return mapS3Error(response->status, parseErrorBody(response->body), context);
}

Result<store::ObjectInfo> infoFromHeaders(const http::Response& response, std::string_view key,
                                          const RequestContext& context) {
  store::ObjectInfo info;
  info.key = std::string(key);
  if (const std::string* etag = response.header("etag")) info.etag = unquoteEtag(*etag);
  if (const std::string* modified = response.header("last-modified")) {
    info.last_modified_unix = parseHttpDate(*modified).value_or(0);
  }
  if (const std::string* length = response.header("content-length")) {
    try {
      info.size = std::stoull(*length);
    } catch (...) {  // a library edge: std::stoull throws on garbage
      return malformedResponse(context, "bad Content-Length '" + *length + "'");
    }
  }
  info.metadata = metadataFrom(response);
  return info;
}
}  // namespace

// --- Objects ------------------------------------------------------------------------------

Result<store::GetResult> S3ObjectStore::get(std::string_view key,
                                            std::optional<store::ByteRange> range) {
  S3C_RETURN_IF_ERROR(validateKey(key));
  Call call{"GET", "GetObject", fullKey(key), {}, {}, {}};
  if (range) {
    auto header = rangeHeader(*range);
    if (!header) {
      return Error(ErrorKind::kInvalidArgument,
                   "GetObject s3://" + config_.bucket + "/" + call.full_key + ": empty range");
    }
    call.headers.emplace_back("Range", *header);
  }
  RequestContext context = call.context(*this);
  S3C_ASSIGN_OR_RETURN(http::Response response, expectSuccess(send(call), context));
  S3C_ASSIGN_OR_RETURN(store::ObjectInfo info, infoFromHeaders(response, key, context));
  store::GetResult out;
  if (response.status == 206) {
    const std::string* content_range = response.header("content-range");
    auto parsed = content_range ? parseContentRange(*content_range) : std::nullopt;
    if (!parsed || !parsed->first) {
      return malformedResponse(context, "206 without a valid Content-Range");
    }
    uint64_t expected = *parsed->last - *parsed->first + 1;
    if (response.body.size() != expected) {
      return Error(ErrorKind::kTransient, "GetObject s3://" + config_.bucket + "/" + call.full_key +
                                              ": got " + std::to_string(response.body.size()) +
                                              " bytes of a " + std::to_string(expected) +
                                              "-byte range");
    }
    info.size = parsed->total;
    out.body = std::move(response.body);
    // The range asked for, cut at the end of the object.
    uint64_t want_first = range ? range->offset : 0;
    uint64_t want_last = parsed->total - 1;
    if (range && range->length && *range->length - 1 < want_last - want_first) {
      want_last = want_first + *range->length - 1;
    }
    if (want_first != *parsed->first || want_last != *parsed->last) {
      // s3rver answers "bytes=0-0" with the whole object: accept a superset and cut it here.
      if (want_first < *parsed->first || want_last > *parsed->last || want_first > want_last) {
        return malformedResponse(context, "asked for bytes " + std::to_string(want_first) + "-" +
                                              std::to_string(want_last) + ", got " +
                                              *content_range);
      }
      out.body = Bytes(out.body.begin() + static_cast<ptrdiff_t>(want_first - *parsed->first),
                       out.body.begin() + static_cast<ptrdiff_t>(want_last - *parsed->first + 1));
    }
  } else {
    // A whole object: either no range was asked for, or the server ignored the Range header
    // (then cut the range here).
    info.size = response.body.size();
    out.body = std::move(response.body);
    if (range) {
      if (range->offset >= out.body.size()) {
        return Error(ErrorKind::kInvalidArgument,
                     "GetObject s3://" + config_.bucket + "/" + call.full_key +
                         ": range starts at " + std::to_string(range->offset) +
                         ", past the end of the " + std::to_string(out.body.size()) +
                         "-byte object");
      }
      uint64_t end = out.body.size();
      if (range->length && *range->length < end - range->offset) {
        end = range->offset + *range->length;
      }
      out.body = Bytes(out.body.begin() + static_cast<ptrdiff_t>(range->offset),
                       out.body.begin() + static_cast<ptrdiff_t>(end));
    }
  }
  out.info = std::move(info);
  return out;
}

Result<store::ObjectInfo> S3ObjectStore::headFull(const std::string& full_key,
                                                  std::string_view key) {
  Call call{"HEAD", "HeadObject", full_key, {}, {}, {}};
  RequestContext context = call.context(*this);
  S3C_ASSIGN_OR_RETURN(http::Response response, expectSuccess(send(call), context));
  return infoFromHeaders(response, key, context);
}

Result<store::ObjectInfo> S3ObjectStore::head(std::string_view key) {
  S3C_RETURN_IF_ERROR(validateKey(key));
  if (key.size() + config_.prefix.size() > kMaxKeyBytes) {
    return Error(ErrorKind::kNotFound, "HeadObject: key longer than 1024 bytes cannot exist");
  }
  return headFull(fullKey(key), key);
}

Status S3ObjectStore::checkWriteCondition(const store::WriteCondition& condition,
                                          bool server_honours, std::string_view what,
                                          std::string_view key) const {
  if (!condition.if_none_match && !condition.if_match) return ok();
  store::Capabilities caps = capabilities();
  bool missing = !server_honours ||
                 (condition.if_none_match && !caps.conditional_put_if_none_match) ||
                 (condition.if_match && !caps.conditional_put_if_match);
  if (missing) {
    // The server would ignore the condition and overwrite: refuse instead of pretending.
    return Error(ErrorKind::kUnsupported,
                 std::string(what) + " s3://" + config_.bucket + "/" + fullKey(key) + ": " +
                     config_.endpoint + " does not honour " +
                     (condition.if_none_match ? "If-None-Match" : "If-Match") + " on " +
                     std::string(what));
  }
  return ok();
}

void S3ObjectStore::addWriteConditionHeaders(http::Headers& headers,
                                             const store::WriteCondition& condition) const {
  if (condition.if_none_match) headers.emplace_back("If-None-Match", "*");
  if (condition.if_match) {
    bool quote = conditionalWriteSupport().if_match_quoted;
    headers.emplace_back("If-Match",
                         quote ? quoted(*condition.if_match) : unquoteEtag(*condition.if_match));
  }
}

Status S3ObjectStore::checkKey(std::string_view key) const {
  S3C_RETURN_IF_ERROR(validateKey(key));
  if (key.size() + config_.prefix.size() > kMaxKeyBytes) {
    return Error(ErrorKind::kNameTooLong, "key of " + std::to_string(key.size()) +
                                              " bytes (with the store prefix over 1024)");
  }
  return ok();
}

Result<store::ObjectInfo> S3ObjectStore::putWithHeaders(std::string_view key, ByteSpan body,
                                                        const store::Metadata& metadata,
                                                        http::Headers conditions) {
  Call call{"PUT", "PutObject", fullKey(key), {}, std::move(conditions), body};
  call.headers.emplace_back("Content-Type", "application/octet-stream");
  addMetadataHeaders(call.headers, metadata);
  RequestContext context = call.context(*this);
  S3C_ASSIGN_OR_RETURN(http::Response response, expectSuccess(send(call), context));
  store::ObjectInfo info;
  info.key = std::string(key);
  info.size = body.size();
  const std::string* etag = response.header("etag");
  if (etag == nullptr || etag->empty()) return malformedResponse(context, "PUT without an ETag");
  info.etag = unquoteEtag(*etag);
  auto now = config_.clock ? config_.clock() : std::chrono::system_clock::now();
  info.last_modified_unix =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  if (const std::string* modified = response.header("last-modified")) {
    info.last_modified_unix = parseHttpDate(*modified).value_or(info.last_modified_unix);
  }
  info.metadata = metadata;
  return info;
}

Result<store::ObjectInfo> S3ObjectStore::put(std::string_view key, ByteSpan body,
                                             const store::PutOptions& options) {
  S3C_RETURN_IF_ERROR(checkKey(key));
  S3C_RETURN_IF_ERROR(validateMetadata(options.metadata));
  S3C_RETURN_IF_ERROR(checkWriteCondition(options.condition, true, "PutObject", key));
  http::Headers conditions;
  addWriteConditionHeaders(conditions, options.condition);
  return putWithHeaders(key, body, options.metadata, std::move(conditions));
}

Status S3ObjectStore::removeOne(const std::string& full_key) {
  Call call{"DELETE", "DeleteObject", full_key, {}, {}, {}};
  RequestContext context = call.context(*this);
  auto response = expectSuccess(send(call), context);
  if (!response) {
    // Deleting a missing key succeeds (some servers answer 404 instead of 204).
    const Error& error = response.error();
    if (error.kind() == ErrorKind::kNotFound && error.serviceCode() != "NoSuchBucket") return ok();
    return std::move(response).error();
  }
  return ok();
}

Status S3ObjectStore::remove(std::string_view key) {
  S3C_RETURN_IF_ERROR(checkKey(key));
  return removeOne(fullKey(key));
}

Result<std::vector<store::DeleteFailure>> S3ObjectStore::removeMany(
    const std::vector<std::string>& keys) {
  std::vector<store::DeleteFailure> failures;
  std::vector<std::string> batch;
  std::vector<std::string> singles;  // keys XML cannot carry
  for (const auto& key : keys) {
    if (auto valid = checkKey(key); !valid) {
      failures.push_back({key, valid.error()});
      continue;
    }
    if (!buildDeleteBody({key})) {
      singles.push_back(key);
    } else {
      batch.push_back(key);
    }
  }
  for (size_t begin = 0; begin < batch.size(); begin += kMaxDeleteBatch) {
    size_t end = std::min(batch.size(), begin + kMaxDeleteBatch);
    std::vector<std::string> full_keys;
    for (size_t i = begin; i < end; ++i)
      full_keys.push_back(fullKey(batch[i]));
    S3C_ASSIGN_OR_RETURN(std::string xml, buildDeleteBody(full_keys));
    auto digest = crypto::md5(asBytes(xml));
    Call call{"POST", "DeleteObjects", "", "delete=", {}, asBytes(xml)};
    call.headers.emplace_back("Content-Type", "application/xml");
    call.headers.emplace_back("Content-MD5", toBase64(digest));
    RequestContext context = call.context(*this);
    auto response = expectSuccess(send(call), context);
    if (!response) {
      if (response.error().kind() != ErrorKind::kUnsupported) return std::move(response).error();
      // No batch delete on this server: one by one.
      for (size_t i = begin; i < end; ++i)
        singles.push_back(batch[i]);
      continue;
    }
    auto entries = parseDeleteResult(response->body);
    if (!entries) return malformedResponse(context, entries.error().message());
    for (const auto& entry : *entries) {
      if (entry.code == "NoSuchKey") continue;  // already gone: that is success
      std::string key = entry.key;
      if (key.compare(0, config_.prefix.size(), config_.prefix) == 0) {
        key = key.substr(config_.prefix.size());
      }
      RequestContext key_context = context;
      key_context.key = entry.key;
      ErrorBody body{entry.code, entry.message, {}, {}};
      failures.push_back({key, mapS3Error(200, body, key_context)});
    }
  }
  for (const auto& key : singles) {
    if (auto removed = removeOne(fullKey(key)); !removed) {
      failures.push_back({key, removed.error()});
    }
  }
  return failures;
}

Result<store::ListPage> S3ObjectStore::list(const store::ListOptions& options) {
  if (options.max_keys == 0) {
    return Error(ErrorKind::kInvalidArgument, "ListObjectsV2: max_keys must be 1..1000");
  }
  uint32_t max_keys = std::min(options.max_keys, kMaxListKeys);
  // Parameters in sorted order, as the canonical request wants them.
  std::string query;
  auto add = [&query](std::string_view name, std::string_view value) {
    if (!query.empty()) query += '&';
    query += queryParam(name, value);
  };
  if (!options.continuation_token.empty()) add("continuation-token", options.continuation_token);
  if (!options.delimiter.empty()) add("delimiter", options.delimiter);
  add("encoding-type", "url");
  add("list-type", "2");
  add("max-keys", std::to_string(max_keys));
  add("prefix", fullKey(options.prefix));
  Call call{"GET", "ListObjectsV2", "", query, {}, {}};
  RequestContext context = call.context(*this);
  context.key = fullKey(options.prefix);
  S3C_ASSIGN_OR_RETURN(http::Response response, expectSuccess(send(call), context));
  auto parsed = parseListObjectsV2(response.body);
  if (!parsed) return malformedResponse(context, parsed.error().message());
  store::ListPage page;
  auto strip = [this](std::string& key) {
    if (key.compare(0, config_.prefix.size(), config_.prefix) != 0) return false;
    key.erase(0, config_.prefix.size());
    return true;
  };
  for (auto& object : parsed->objects) {
    if (!strip(object.key)) {
      return malformedResponse(context, "listed key '" + object.key + "' outside the prefix");
    }
    page.objects.push_back(std::move(object));
  }
  for (auto& prefix : parsed->common_prefixes) {
    if (!strip(prefix)) {
      return malformedResponse(context, "common prefix '" + prefix + "' outside the prefix");
    }
    page.common_prefixes.push_back(std::move(prefix));
  }
  // S3 returns keys in byte order; s3rver walks folders and puts "a/1" before "a". Sorting a
  // page fixes one-page listings there and costs nothing elsewhere.
  auto by_key = [](const store::ObjectInfo& a, const store::ObjectInfo& b) {
    return a.key < b.key;
  };
  if (!std::is_sorted(page.objects.begin(), page.objects.end(), by_key)) {
    std::sort(page.objects.begin(), page.objects.end(), by_key);
  }
  std::sort(page.common_prefixes.begin(), page.common_prefixes.end());
  if (parsed->is_truncated) page.next_continuation_token = parsed->next_continuation_token;
  return page;
}

// --- Copy ---------------------------------------------------------------------------------

Result<store::ObjectInfo> S3ObjectStore::copyWithHeaders(std::string_view source_key,
                                                         std::string_view dest_key,
                                                         const store::CopyOptions& options,
                                                         const store::ObjectInfo& source,
                                                         const http::Headers& dest_conditions) {
  Call call{"PUT", "CopyObject", fullKey(dest_key), {}, dest_conditions, {}};
  call.headers.emplace_back("x-amz-copy-source",
                            copySourceHeader(config_.bucket, fullKey(source_key)));
  // Pins the version whose size and metadata we report.
  call.headers.emplace_back("x-amz-copy-source-if-match", quoted(source.etag));
  if (options.replace_metadata) {
    call.headers.emplace_back("x-amz-metadata-directive", "REPLACE");
    call.headers.emplace_back("Content-Type", "application/octet-stream");
    addMetadataHeaders(call.headers, *options.replace_metadata);
  } else {
    call.headers.emplace_back("x-amz-metadata-directive", "COPY");
  }
  RequestContext context = call.context(*this);
  S3C_ASSIGN_OR_RETURN(http::Response response, expectSuccess(send(call), context));
  auto parsed = parseCopyResult(response.body);
  if (!parsed) return malformedResponse(context, parsed.error().message());
  if (parsed->error) return mapS3Error(response.status, parsed->error, context);
  store::ObjectInfo info;
  info.key = std::string(dest_key);
  info.size = source.size;
  info.etag = parsed->etag;
  info.last_modified_unix = parsed->last_modified_unix;
  info.metadata = options.replace_metadata ? *options.replace_metadata : source.metadata;
  return info;
}

Result<store::ObjectInfo> S3ObjectStore::copy(std::string_view source_key,
                                              std::string_view dest_key,
                                              const store::CopyOptions& options) {
  S3C_RETURN_IF_ERROR(checkKey(source_key));
  S3C_RETURN_IF_ERROR(checkKey(dest_key));
  if (options.replace_metadata) S3C_RETURN_IF_ERROR(validateMetadata(*options.replace_metadata));
  std::string where =
      "CopyObject s3://" + config_.bucket + "/" + fullKey(source_key) + " -> " + fullKey(dest_key);
  if (source_key == dest_key) {
    if (!options.replace_metadata) {
      return Error(ErrorKind::kInvalidArgument,
                   where + ": copying an object onto itself needs replaced metadata");
    }
    if (!capabilities().copy_onto_itself) {
      return Error(ErrorKind::kUnsupported,
                   where + ": " + config_.endpoint + " cannot copy an object onto itself");
    }
  }
  S3C_RETURN_IF_ERROR(checkWriteCondition(options.condition,
                                          conditionalWriteSupport().copy_destination_conditions,
                                          "CopyObject", dest_key));
  http::Headers conditions;
  addWriteConditionHeaders(conditions, options.condition);
  // HEAD first: the copy answer carries no size or metadata. The copy is pinned to the ETag
  // seen, so what we report is what was copied; a source replaced in between is retried.
  constexpr int kAttempts = 3;
  for (int attempt = 1;; ++attempt) {
    S3C_ASSIGN_OR_RETURN(store::ObjectInfo source, headFull(fullKey(source_key), source_key));
    if (options.source_if_match && unquoteEtag(*options.source_if_match) != source.etag) {
      return Error(ErrorKind::kPreconditionFailed, where + ": the source's ETag is " + source.etag +
                                                       ", not " +
                                                       unquoteEtag(*options.source_if_match));
    }
    // Without UploadPartCopy a single CopyObject is still tried: the limit is AWS's, and a
    // server without UploadPartCopy may not have it.
    if (source.size > config_.max_single_copy_bytes && capabilities().upload_part_copy) {
      return copyInParts(source_key, dest_key, options, source);
    }
    auto copied = copyWithHeaders(source_key, dest_key, options, source, conditions);
    if (copied || copied.error().kind() != ErrorKind::kPreconditionFailed ||
        options.source_if_match || options.condition.if_match || options.condition.if_none_match ||
        attempt == kAttempts) {
      return copied;
    }
    log::debug("{}: source changed during the copy; retrying", where);
  }
}

// --- Multipart ----------------------------------------------------------------------------

Result<std::string> S3ObjectStore::createMultipart(std::string_view key,
                                                   const store::PutOptions& options) {
  S3C_RETURN_IF_ERROR(checkKey(key));
  S3C_RETURN_IF_ERROR(validateMetadata(options.metadata));
  Call call{"POST", "CreateMultipartUpload", fullKey(key), "uploads=", {}, {}};
  call.headers.emplace_back("Content-Type", "application/octet-stream");
  addMetadataHeaders(call.headers, options.metadata);
  RequestContext context = call.context(*this);
  S3C_ASSIGN_OR_RETURN(http::Response response, expectSuccess(send(call), context));
  auto upload_id = parseInitiateMultipartUpload(response.body);
  if (!upload_id) return malformedResponse(context, upload_id.error().message());
  return upload_id;
}

Result<store::PartInfo> S3ObjectStore::uploadPart(std::string_view key, std::string_view upload_id,
                                                  uint32_t part_number, ByteSpan body) {
  S3C_RETURN_IF_ERROR(checkKey(key));
  S3C_RETURN_IF_ERROR(validatePartNumber(part_number));
  std::string query = queryParam("partNumber", std::to_string(part_number)) + "&" +
                      queryParam("uploadId", upload_id);
  Call call{"PUT", "UploadPart", fullKey(key), query, {}, body};
  RequestContext context = call.context(*this);
  auto sent = expectSuccess(send(call), context);
  if (!sent && sent.error().httpStatus() >= 500 && capabilities().list_parts) {
    // moto answers 500 to a part of an aborted upload: a retry cannot help, so ask whether
    // the upload still exists and report NoSuchUpload if not.
    auto parts = listPartsUnchecked(key, upload_id);
    if (!parts && parts.error().kind() == ErrorKind::kNotFound) return std::move(parts).error();
  }
  S3C_ASSIGN_OR_RETURN(http::Response response, std::move(sent));
  const std::string* etag = response.header("etag");
  if (etag == nullptr || etag->empty()) return malformedResponse(context, "part without an ETag");
  return store::PartInfo{part_number, unquoteEtag(*etag), body.size()};
}

Result<store::PartInfo> S3ObjectStore::uploadPartCopyUnchecked(
    std::string_view key, std::string_view upload_id, uint32_t part_number,
    std::string_view source_key, store::ByteRange range, std::string_view source_etag) {
  std::string query = queryParam("partNumber", std::to_string(part_number)) + "&" +
                      queryParam("uploadId", upload_id);
  Call call{"PUT", "UploadPartCopy", fullKey(key), query, {}, {}};
  if (!range.length) {
    S3C_ASSIGN_OR_RETURN(store::ObjectInfo source, headFull(fullKey(source_key), source_key));
    if (range.offset >= source.size) {
      return Error(ErrorKind::kInvalidArgument,
                   "UploadPartCopy: range starts past the end of " + fullKey(source_key));
    }
    range.length = source.size - range.offset;
  }
  if (*range.length == 0) {
    return Error(ErrorKind::kInvalidArgument, "UploadPartCopy: empty range");
  }
  call.headers.emplace_back("x-amz-copy-source",
                            copySourceHeader(config_.bucket, fullKey(source_key)));
  call.headers.emplace_back("x-amz-copy-source-range", *rangeHeader(range));
  if (!source_etag.empty())
    call.headers.emplace_back("x-amz-copy-source-if-match", quoted(source_etag));
  RequestContext context = call.context(*this);
  S3C_ASSIGN_OR_RETURN(http::Response response, expectSuccess(send(call), context));
  auto parsed = parseCopyResult(response.body);
  if (!parsed) return malformedResponse(context, parsed.error().message());
  if (parsed->error) return mapS3Error(response.status, parsed->error, context);
  return store::PartInfo{part_number, parsed->etag, *range.length};
}

Result<store::PartInfo> S3ObjectStore::uploadPartCopy(std::string_view key,
                                                      std::string_view upload_id,
                                                      uint32_t part_number,
                                                      std::string_view source_key,
                                                      store::ByteRange range) {
  S3C_RETURN_IF_ERROR(checkKey(key));
  S3C_RETURN_IF_ERROR(checkKey(source_key));
  S3C_RETURN_IF_ERROR(validatePartNumber(part_number));
  if (!capabilities().upload_part_copy) {
    return Error(ErrorKind::kUnsupported,
                 "UploadPartCopy: " + config_.endpoint + " does not support UploadPartCopy");
  }
  return uploadPartCopyUnchecked(key, upload_id, part_number, source_key, range);
}

Result<store::ObjectInfo> S3ObjectStore::completeWithHeaders(
    std::string_view key, std::string_view upload_id, const std::vector<store::PartInfo>& parts,
    const http::Headers& conditions) {
  std::string xml = buildCompleteMultipartBody(parts);
  Call call{"POST",       "CompleteMultipartUpload",
            fullKey(key), queryParam("uploadId", upload_id),
            conditions,   asBytes(xml)};
  call.headers.emplace_back("Content-Type", "application/xml");
  RequestContext context = call.context(*this);
  S3C_ASSIGN_OR_RETURN(http::Response response, expectSuccess(send(call), context));
  auto parsed = parseCompleteMultipartUpload(response.body);
  if (!parsed) return malformedResponse(context, parsed.error().message());
  // "200 OK" and an <Error>: the completion failed after the server had started answering.
  if (parsed->error) return mapS3Error(response.status, parsed->error, context);
  if (parsed->etag.empty()) {
    // Ceph RGW 16.2 completes with an empty <ETag>: read it back.
    auto head = headFull(fullKey(key), key);
    if (!head) return head.error().withContext("after CompleteMultipartUpload without an ETag");
    return head;
  }
  store::ObjectInfo info;
  info.key = std::string(key);
  info.etag = parsed->etag;
  for (const auto& part : parts)
    info.size += part.size;
  auto now = config_.clock ? config_.clock() : std::chrono::system_clock::now();
  info.last_modified_unix =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  return info;
}

Result<store::ObjectInfo> S3ObjectStore::completeMultipart(
    std::string_view key, std::string_view upload_id, const std::vector<store::PartInfo>& parts,
    const store::WriteCondition& condition) {
  S3C_RETURN_IF_ERROR(checkKey(key));
  S3C_RETURN_IF_ERROR(checkWriteCondition(condition, conditionalWriteSupport().complete_conditions,
                                          "CompleteMultipartUpload", key));
  if (parts.empty()) {
    // S3 answers MalformedXML to an empty list whether or not the upload exists; ask first so
    // an unknown upload is still kNotFound.
    if (capabilities().list_parts) {
      S3C_RETURN_IF_ERROR(listPartsUnchecked(key, upload_id));
    }
    return Error(ErrorKind::kInvalidArgument, "CompleteMultipartUpload s3://" + config_.bucket +
                                                  "/" + fullKey(key) + ": no parts");
  }
  http::Headers conditions;
  addWriteConditionHeaders(conditions, condition);
  return completeWithHeaders(key, upload_id, parts, conditions);
}

Status S3ObjectStore::abortUnchecked(std::string_view key, std::string_view upload_id) {
  Call call{"DELETE", "AbortMultipartUpload", fullKey(key), queryParam("uploadId", upload_id), {},
            {}};
  RequestContext context = call.context(*this);
  S3C_RETURN_IF_ERROR(expectSuccess(send(call), context));
  return ok();
}

Status S3ObjectStore::abortMultipart(std::string_view key, std::string_view upload_id) {
  S3C_RETURN_IF_ERROR(checkKey(key));
  if (!capabilities().abort_multipart) {
    return Error(ErrorKind::kUnsupported, "AbortMultipartUpload: " + config_.endpoint +
                                              " does not support AbortMultipartUpload");
  }
  return abortUnchecked(key, upload_id);
}

Result<std::vector<store::MultipartUploadInfo>> S3ObjectStore::listUploadsUnchecked(
    std::string_view prefix) {
  std::vector<store::MultipartUploadInfo> out;
  std::string key_marker;
  std::string upload_id_marker;
  for (int page = 0; page < kMaxPages; ++page) {
    std::string query = queryParam("encoding-type", "url");
    if (!key_marker.empty()) query += "&" + queryParam("key-marker", key_marker);
    query += "&" + queryParam("prefix", fullKey(prefix));
    if (!upload_id_marker.empty()) query += "&" + queryParam("upload-id-marker", upload_id_marker);
    query += "&uploads=";
    Call call{"GET", "ListMultipartUploads", "", query, {}, {}};
    RequestContext context = call.context(*this);
    context.key = fullKey(prefix);
    S3C_ASSIGN_OR_RETURN(http::Response response, expectSuccess(send(call), context));
    auto parsed = parseListMultipartUploads(response.body);
    if (!parsed) return malformedResponse(context, parsed.error().message());
    for (auto& upload : parsed->uploads) {
      if (upload.key.compare(0, config_.prefix.size(), config_.prefix) != 0) {
        return malformedResponse(context, "upload key '" + upload.key + "' outside the prefix");
      }
      upload.key.erase(0, config_.prefix.size());
      out.push_back(std::move(upload));
    }
    if (!parsed->is_truncated) return out;
    if (parsed->next_key_marker == key_marker &&
        parsed->next_upload_id_marker == upload_id_marker) {
      return malformedResponse(context, "ListMultipartUploads repeats its markers");
    }
    key_marker = parsed->next_key_marker;
    upload_id_marker = parsed->next_upload_id_marker;
  }
  return Error(ErrorKind::kIo, "ListMultipartUploads: too many pages");
}

Result<std::vector<store::MultipartUploadInfo>> S3ObjectStore::listMultipartUploads(
    std::string_view prefix) {
  if (!capabilities().list_multipart_uploads) {
    return Error(ErrorKind::kUnsupported, "ListMultipartUploads: " + config_.endpoint +
                                              " does not support ListMultipartUploads");
  }
  return listUploadsUnchecked(prefix);
}

Result<std::vector<store::PartInfo>> S3ObjectStore::listPartsUnchecked(std::string_view key,
                                                                       std::string_view upload_id) {
  std::vector<store::PartInfo> out;
  uint32_t marker = 0;
  for (int page = 0; page < kMaxPages; ++page) {
    std::string query;
    if (marker != 0) query = queryParam("part-number-marker", std::to_string(marker)) + "&";
    query += queryParam("uploadId", upload_id);
    Call call{"GET", "ListParts", fullKey(key), query, {}, {}};
    RequestContext context = call.context(*this);
    S3C_ASSIGN_OR_RETURN(http::Response response, expectSuccess(send(call), context));
    auto parsed = parseListParts(response.body);
    if (!parsed) return malformedResponse(context, parsed.error().message());
    for (auto& part : parsed->parts)
      out.push_back(std::move(part));
    if (!parsed->is_truncated) return out;
    if (parsed->next_part_number_marker <= marker) {
      return malformedResponse(context, "ListParts does not advance its marker");
    }
    marker = parsed->next_part_number_marker;
  }
  return Error(ErrorKind::kIo, "ListParts: too many pages");
}

Result<std::vector<store::PartInfo>> S3ObjectStore::listParts(std::string_view key,
                                                              std::string_view upload_id) {
  S3C_RETURN_IF_ERROR(checkKey(key));
  if (!capabilities().list_parts) {
    return Error(ErrorKind::kUnsupported,
                 "ListParts: " + config_.endpoint + " does not support ListParts");
  }
  return listPartsUnchecked(key, upload_id);
}

// --- Capability probe ---------------------------------------------------------------------

namespace {
void reportMissing(const std::string& server, const char* feature, const char* fallback) {
  log::warn("S3 server {} lacks {}; falling back to {}", server, feature, fallback);
}
bool isPrecondition(const Result<store::ObjectInfo>& result) {
  return !result && result.error().kind() == ErrorKind::kPreconditionFailed;
}
}  // namespace

Result<store::Capabilities> S3ObjectStore::probeCapabilities() {
  std::lock_guard probe_lock(probe_mutex_);
  {
    std::lock_guard lock(mutex_);
    if (probed_) return capabilities_;
  }
  store::Capabilities caps;
  ConditionalWriteSupport conditional;
  const std::string base = ".s3c-probe-" + randomSuffix() + "/";
  const std::string object = base + "object";
  const std::string other = base + "other";
  const std::string target = base + "upload";
  const Bytes body = toBytes("s3cryptfs capability probe");
  log::debug("probing the S3 features of {} under {}", describe(), base);

  S3C_ASSIGN_OR_RETURN(store::ObjectInfo first, putWithHeaders(object, body, {}, {}));

  // If-None-Match: * on an existing key must be refused; a server that ignores it overwrites.
  auto none_match = putWithHeaders(object, body, {}, http::Headers{{"If-None-Match", "*"}});
  caps.conditional_put_if_none_match = isPrecondition(none_match);
  store::ObjectInfo current = none_match ? *none_match : first;

  // If-Match with a wrong ETag must be refused; then find the form of the right one it wants.
  auto wrong = putWithHeaders(object, body, {},
                              http::Headers{{"If-Match", "\"00000000000000000000000000000000\""}});
  caps.conditional_put_if_match = false;
  if (isPrecondition(wrong)) {
    auto with_quotes =
        putWithHeaders(object, body, {}, http::Headers{{"If-Match", quoted(current.etag)}});
    if (with_quotes) {
      caps.conditional_put_if_match = true;
      current = *with_quotes;
    } else {
      auto bare = putWithHeaders(object, body, {}, http::Headers{{"If-Match", current.etag}});
      if (bare) {
        caps.conditional_put_if_match = true;
        conditional.if_match_quoted = false;
        current = *bare;
        log::info(
            "S3 server {} matches If-Match only against an unquoted ETag; sending it "
            "unquoted",
            config_.endpoint);
      }
    }
  } else if (wrong) {
    current = *wrong;
  }

  // Copy onto itself with replaced metadata (how attributes change without a re-upload).
  store::CopyOptions replace;
  replace.replace_metadata = store::Metadata{{"probe", "1"}};
  auto self_copy = copyWithHeaders(object, object, replace, current, {});
  caps.copy_onto_itself = false;
  if (self_copy) {
    auto after = headFull(fullKey(object), object);
    caps.copy_onto_itself = after && after->metadata == *replace.replace_metadata;
    if (after) current = *after;
  }

  // Conditions on the copy destination.
  conditional.copy_destination_conditions = false;
  if (caps.conditional_put_if_none_match && caps.conditional_put_if_match) {
    if (putWithHeaders(other, body, {}, {})) {
      auto guarded =
          copyWithHeaders(object, other, {}, current, http::Headers{{"If-None-Match", "*"}});
      conditional.copy_destination_conditions = isPrecondition(guarded);
    }
  }

  // Multipart: ListMultipartUploads, ListParts, UploadPartCopy, Abort on one scratch upload.
  caps.list_multipart_uploads = caps.list_parts = caps.upload_part_copy = false;
  caps.abort_multipart = false;
  conditional.complete_conditions = false;
  auto upload = createMultipart(target, {});
  if (upload) {
    auto uploads = listUploadsUnchecked(base);
    caps.list_multipart_uploads =
        uploads && std::any_of(uploads->begin(), uploads->end(),
                               [&](const auto& u) { return u.upload_id == *upload; });
    auto parts = listPartsUnchecked(target, *upload);
    caps.list_parts = parts.has_value();
    auto part_copy =
        uploadPartCopyUnchecked(target, *upload, 1, object, store::ByteRange{0, body.size() / 2});
    caps.upload_part_copy = part_copy.has_value();
    if (caps.upload_part_copy && caps.list_parts) {
      auto listed = listPartsUnchecked(target, *upload);
      caps.upload_part_copy =
          listed && listed->size() == 1 && listed->front().size == body.size() / 2;
    }
    caps.abort_multipart = abortUnchecked(target, *upload).has_value();
    if (caps.abort_multipart && caps.list_parts) {
      // A server that answers 204 but keeps the upload has no real abort.
      auto gone = listPartsUnchecked(target, *upload);
      caps.abort_multipart = !gone && gone.error().kind() == ErrorKind::kNotFound;
    }
  } else {
    log::warn("S3 server {}: CreateMultipartUpload failed during the probe: {}", config_.endpoint,
              upload.error().describe());
  }

  // Conditions on CompleteMultipartUpload: complete onto the existing object with
  // If-None-Match: * must be refused. Only tried where an upload can be cleaned up.
  if (caps.conditional_put_if_none_match && caps.abort_multipart) {
    auto guarded_upload = createMultipart(object, {});
    if (guarded_upload) {
      auto part = uploadPart(object, *guarded_upload, 1, body);
      if (part) {
        auto done = completeWithHeaders(object, *guarded_upload, {*part},
                                        http::Headers{{"If-None-Match", "*"}});
        conditional.complete_conditions = isPrecondition(done);
        if (!done) (void)abortUnchecked(object, *guarded_upload);
      } else {
        (void)abortUnchecked(object, *guarded_upload);
      }
    }
  }

  (void)removeOne(fullKey(object));
  (void)removeOne(fullKey(other));

  const std::string& server = config_.endpoint;
  if (!caps.conditional_put_if_none_match) {
    reportMissing(server, "PUT If-None-Match: *",
                  "refusing create-only writes (kUnsupported); callers use unconditional "
                  "writes and detect conflicts after the fact");
  }
  if (!caps.conditional_put_if_match) {
    reportMissing(server, "PUT If-Match",
                  "refusing compare-and-swap writes (kUnsupported); callers use "
                  "unconditional writes");
  }
  if (!caps.copy_onto_itself) {
    reportMissing(server, "copy onto itself", "rewriting the object to change its metadata");
  }
  if (!conditional.copy_destination_conditions) {
    reportMissing(server, "conditions on CopyObject's destination",
                  "refusing conditional copies (kUnsupported)");
  }
  if (!caps.list_multipart_uploads) {
    reportMissing(
        server, "ListMultipartUploads",
        "not listing stale uploads (kUnsupported); they stay until the server drops them");
  }
  if (!caps.list_parts) reportMissing(server, "ListParts", "the part list kept by the caller");
  if (!caps.upload_part_copy) {
    reportMissing(server, "UploadPartCopy", "uploading unchanged parts again from the client");
  }
  if (!caps.abort_multipart) {
    reportMissing(server, "AbortMultipartUpload", "leaving abandoned uploads on the server");
  }
  if (!conditional.complete_conditions) {
    reportMissing(server, "conditions on CompleteMultipartUpload",
                  "refusing conditional completions (kUnsupported)");
  }

  std::lock_guard lock(mutex_);
  capabilities_ = caps;
  conditional_ = conditional;
  probed_ = true;
  return caps;
}

}  // namespace s3cryptfs::s3
