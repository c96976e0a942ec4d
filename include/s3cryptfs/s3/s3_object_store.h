#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "s3cryptfs/core/result.h"
#include "s3cryptfs/http/http_client.h"
#include "s3cryptfs/http/sigv4.h"
#include "s3cryptfs/s3/s3_protocol.h"
#include "s3cryptfs/store/object_store.h"

namespace s3cryptfs::s3 {

// What the SigV4 signature covers of a request body.
enum class PayloadSigning : uint8_t {
  kSha256,    // the body's real SHA-256 (default: the server verifies the bytes it received)
  kUnsigned,  // UNSIGNED-PAYLOAD: saves hashing the body; only sensible over TLS
};

struct S3Config {
  std::string endpoint;  // "http://127.0.0.1:7480" or "https://s3.eu-west-1.amazonaws.com"
  std::string region = "us-east-1";
  std::string bucket;
  // Every key of the store lives under this prefix ("vol1/"; empty: the whole bucket); listings
  // strip it. A non-empty prefix without a trailing '/' is used as is.
  std::string prefix;
  AddressingStyle addressing = AddressingStyle::kPath;
  http::Credentials credentials;
  PayloadSigning payload_signing = PayloadSigning::kSha256;
  // CopyObject copies at most 5 GiB; a bigger source is copied as a multipart upload of
  // UploadPartCopy ranges. Lower only for tests (to reach that path with small objects) or for
  // a server with a lower limit.
  uint64_t max_single_copy_bytes = uint64_t{5} << 30;
  // The part size of such a copy; raised where 10 000 parts would not cover the source.
  uint64_t copy_part_bytes = uint64_t{512} << 20;
  // The signing clock; empty: the system clock. Tests pin it.
  std::function<std::chrono::system_clock::time_point()> clock;
};

// How the probe found the server's conditional writes to behave (beyond Capabilities).
struct ConditionalWriteSupport {
  // PUT If-Match: false when the server matches only an unquoted ETag (Ceph RGW 16.2).
  bool if_match_quoted = true;
  // CompleteMultipartUpload honours If-None-Match / If-Match.
  bool complete_conditions = true;
  // CopyObject honours If-None-Match / If-Match on the destination.
  bool copy_destination_conditions = true;
};

// store::ObjectStore over the S3 REST API (path-style or virtual-hosted), signed with SigV4.
// Safe from many threads as long as the HttpClient is. Until probeCapabilities() has run,
// capabilities() reports everything supported (AWS S3's behaviour).
class S3ObjectStore final : public store::ObjectStore {
 public:
  // Checks the configuration (endpoint form, bucket, region); does no I/O.
  static Result<std::unique_ptr<S3ObjectStore>> create(S3Config config,
                                                       std::shared_ptr<http::HttpClient> client);

  // Finds out, on scratch keys under the prefix (removed afterwards), which optional features
  // the server really has: conditional PUT (If-None-Match: *, If-Match, and the ETag form
  // If-Match wants), UploadPartCopy, ListParts, AbortMultipartUpload, ListMultipartUploads,
  // copy onto itself, and conditions on CompleteMultipartUpload and CopyObject. Caches the
  // result (later calls return it) and logs each missing feature once with its fallback.
  // Fails only when the server cannot do the basics (PUT/GET/DELETE of the scratch key).
  Result<store::Capabilities> probeCapabilities();
  // Sets the capabilities without probing (a configuration that knows its server, or tests).
  void setCapabilities(const store::Capabilities& capabilities,
                       const ConditionalWriteSupport& conditional);
  ConditionalWriteSupport conditionalWriteSupport() const;

  Result<store::GetResult> get(std::string_view key,
                               std::optional<store::ByteRange> range) override;
  Result<store::ObjectInfo> head(std::string_view key) override;
  Result<store::ObjectInfo> put(std::string_view key, ByteSpan body,
                                const store::PutOptions& options) override;
  Status remove(std::string_view key) override;
  Result<std::vector<store::DeleteFailure>> removeMany(
      const std::vector<std::string>& keys) override;
  Result<store::ListPage> list(const store::ListOptions& options) override;
  Result<store::ObjectInfo> copy(std::string_view source_key, std::string_view dest_key,
                                 const store::CopyOptions& options) override;

  Result<std::string> createMultipart(std::string_view key,
                                      const store::PutOptions& options) override;
  Result<store::PartInfo> uploadPart(std::string_view key, std::string_view upload_id,
                                     uint32_t part_number, ByteSpan body) override;
  Result<store::PartInfo> uploadPartCopy(std::string_view key, std::string_view upload_id,
                                         uint32_t part_number, std::string_view source_key,
                                         store::ByteRange range) override;
  Result<store::ObjectInfo> completeMultipart(std::string_view key, std::string_view upload_id,
                                              const std::vector<store::PartInfo>& parts,
                                              const store::WriteCondition& condition) override;
  Status abortMultipart(std::string_view key, std::string_view upload_id) override;
  Result<std::vector<store::MultipartUploadInfo>> listMultipartUploads(
      std::string_view prefix) override;
  // ListParts of an upload (used by the probe and to resume uploads); kUnsupported where the
  // server lacks it.
  Result<std::vector<store::PartInfo>> listParts(std::string_view key, std::string_view upload_id);

  store::Capabilities capabilities() const override;
  std::string describe() const override;

  const S3Config& config() const { return config_; }

 private:
  struct Call;  // one request being built: see s3_object_store.cpp

  S3ObjectStore(S3Config config, Endpoint endpoint, std::shared_ptr<http::HttpClient> client);

  std::string fullKey(std::string_view key) const;
  Status checkKey(std::string_view key) const;
  Result<http::Response> send(Call& call);
  Result<store::ObjectInfo> headFull(const std::string& full_key, std::string_view key);
  // Refuses a condition the server would ignore (kUnsupported), never drops it.
  Status checkWriteCondition(const store::WriteCondition& condition, bool server_honours,
                             std::string_view what, std::string_view key) const;
  void addWriteConditionHeaders(http::Headers& headers,
                                const store::WriteCondition& condition) const;
  Status removeOne(const std::string& full_key);
  // The operations without capability checks: the probe uses them to find the capabilities.
  Result<store::ObjectInfo> putWithHeaders(std::string_view key, ByteSpan body,
                                           const store::Metadata& metadata,
                                           http::Headers conditions);
  Result<store::ObjectInfo> copyWithHeaders(std::string_view source_key, std::string_view dest_key,
                                            const store::CopyOptions& options,
                                            const store::ObjectInfo& source,
                                            const http::Headers& dest_conditions);
  // source_etag, when not empty, pins the source (x-amz-copy-source-if-match).
  Result<store::PartInfo> uploadPartCopyUnchecked(std::string_view key, std::string_view upload_id,
                                                  uint32_t part_number, std::string_view source_key,
                                                  store::ByteRange range,
                                                  std::string_view source_etag = {});
  // copy() of a source over max_single_copy_bytes, where the server has UploadPartCopy:
  // CreateMultipartUpload, UploadPartCopy of
  // each range pinned to the source's ETag, CompleteMultipartUpload (s3_multipart_copy.cpp).
  Result<store::ObjectInfo> copyInParts(std::string_view source_key, std::string_view dest_key,
                                        const store::CopyOptions& options,
                                        const store::ObjectInfo& source);
  Result<store::ObjectInfo> completeWithHeaders(std::string_view key, std::string_view upload_id,
                                                const std::vector<store::PartInfo>& parts,
                                                const http::Headers& conditions);
  Status abortUnchecked(std::string_view key, std::string_view upload_id);
  Result<std::vector<store::MultipartUploadInfo>> listUploadsUnchecked(std::string_view prefix);
  Result<std::vector<store::PartInfo>> listPartsUnchecked(std::string_view key,
                                                          std::string_view upload_id);

  const S3Config config_;
  const Endpoint endpoint_;
  const std::shared_ptr<http::HttpClient> client_;

  std::mutex probe_mutex_;  // one probe at a time
  mutable std::mutex mutex_;
  store::Capabilities capabilities_;
  ConditionalWriteSupport conditional_;
  bool probed_ = false;
};

}  // namespace s3cryptfs::s3
