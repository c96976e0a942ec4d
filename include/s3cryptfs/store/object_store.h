#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "s3cryptfs/core/bytes.h"
#include "s3cryptfs/core/result.h"

namespace s3cryptfs::store {

// User metadata (S3 x-amz-meta-*). Keys are lower-case ASCII without the prefix; values are
// printable ASCII (callers base64 anything else). S3 limits the total to 2 KiB.
using Metadata = std::map<std::string, std::string>;

struct ObjectInfo {
  std::string key;
  uint64_t size = 0;
  std::string etag;  // without quotes
  int64_t last_modified_unix = 0;
  Metadata metadata;  // filled by head/get/put; listings leave it empty
};

// Bytes [offset, offset + length). length == nullopt means to the end of the object.
struct ByteRange {
  uint64_t offset = 0;
  std::optional<uint64_t> length;
};

struct GetResult {
  ObjectInfo info;  // info.size is the whole object's size, not the range's
  Bytes body;
};

// Conditions on the object currently stored under the key being written.
struct WriteCondition {
  std::optional<std::string> if_match;  // write only if the current ETag is this one
  bool if_none_match = false;           // write only if no object exists (If-None-Match: *)
};

struct PutOptions {
  Metadata metadata;
  WriteCondition condition;
};

struct CopyOptions {
  // nullopt: copy the source's metadata; a value: replace it (x-amz-metadata-directive REPLACE).
  std::optional<Metadata> replace_metadata;
  std::optional<std::string> source_if_match;  // copy only if the source's ETag is this one
  WriteCondition condition;                    // on the destination, where supported
};

struct ListOptions {
  std::string prefix;
  std::string delimiter;           // empty: flat listing
  std::string continuation_token;  // from the previous page's next_continuation_token
  uint32_t max_keys = 1000;
};

struct ListPage {
  std::vector<ObjectInfo> objects;           // in key order
  std::vector<std::string> common_prefixes;  // with delimiter only
  std::string next_continuation_token;       // empty when this is the last page
};

struct PartInfo {
  uint32_t part_number = 0;  // 1..10000
  std::string etag;
  uint64_t size = 0;
};

struct MultipartUploadInfo {
  std::string key;
  std::string upload_id;
  int64_t initiated_unix = 0;
};

struct DeleteFailure {
  std::string key;
  Error error;
};

// What a backend can do. Callers check before relying on a feature, fall back where it is
// missing, and log the fallback once.
struct Capabilities {
  bool conditional_put_if_none_match = true;
  bool conditional_put_if_match = true;
  bool upload_part_copy = true;
  bool list_parts = true;
  bool abort_multipart = true;
  bool copy_onto_itself = true;
  bool list_multipart_uploads = true;  // s3rver answers NotImplemented to GET ?uploads
};

// An S3-shaped object store. Every method is safe to call from many threads at once.
// Errors: a missing key is kNotFound, a failed condition kPreconditionFailed, network and
// 5xx trouble kTransient/kThrottled (retryable), a refused credential kPermissionDenied.
class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  virtual Result<GetResult> get(std::string_view key, std::optional<ByteRange> range) = 0;
  virtual Result<ObjectInfo> head(std::string_view key) = 0;
  virtual Result<ObjectInfo> put(std::string_view key, ByteSpan body,
                                 const PutOptions& options) = 0;
  // Deleting a missing key succeeds, as in S3.
  virtual Status remove(std::string_view key) = 0;
  // Batch delete; returns the keys that could not be deleted.
  virtual Result<std::vector<DeleteFailure>> removeMany(const std::vector<std::string>& keys) = 0;
  virtual Result<ListPage> list(const ListOptions& options) = 0;
  virtual Result<ObjectInfo> copy(std::string_view source_key, std::string_view dest_key,
                                  const CopyOptions& options) = 0;

  virtual Result<std::string> createMultipart(std::string_view key, const PutOptions& options) = 0;
  virtual Result<PartInfo> uploadPart(std::string_view key, std::string_view upload_id,
                                      uint32_t part_number, ByteSpan body) = 0;
  // Server-side copy of source bytes [range] into a part. kUnsupported where the backend lacks it.
  virtual Result<PartInfo> uploadPartCopy(std::string_view key, std::string_view upload_id,
                                          uint32_t part_number, std::string_view source_key,
                                          ByteRange range) = 0;
  virtual Result<ObjectInfo> completeMultipart(std::string_view key, std::string_view upload_id,
                                               const std::vector<PartInfo>& parts,
                                               const WriteCondition& condition) = 0;
  virtual Status abortMultipart(std::string_view key, std::string_view upload_id) = 0;
  virtual Result<std::vector<MultipartUploadInfo>> listMultipartUploads(
      std::string_view prefix) = 0;

  virtual Capabilities capabilities() const = 0;
  // "dir:///path" or "s3://bucket/prefix at http://host:port", for log lines.
  virtual std::string describe() const = 0;
};

// Lists every page of a prefix; a convenience over list().
Result<ListPage> listAll(ObjectStore& store, ListOptions options);

}  // namespace s3cryptfs::store
