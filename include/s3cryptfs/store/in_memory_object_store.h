#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "s3cryptfs/store/object_store.h"

namespace s3cryptfs::store {

struct InMemoryStoreOptions {
  // S3 refuses non-last multipart parts below 5 MiB; tests of the layers above may lower it.
  uint64_t min_part_size = uint64_t{5} * 1024 * 1024;
  // What capabilities() reports. A capability turned off makes the operation fail with
  // kUnsupported, as the S3 store does on a server lacking it: tests of fallbacks use this.
  Capabilities capabilities;
};

// A working fake with the semantics of S3 (and of DirObjectStore), kept in memory. For unit
// tests of the layers above: fast, deterministic, thread-safe.
class InMemoryObjectStore final : public ObjectStore {
 public:
  InMemoryObjectStore() : InMemoryObjectStore(InMemoryStoreOptions{}) {}
  explicit InMemoryObjectStore(InMemoryStoreOptions options);

  Result<GetResult> get(std::string_view key, std::optional<ByteRange> range) override;
  Result<ObjectInfo> head(std::string_view key) override;
  Result<ObjectInfo> put(std::string_view key, ByteSpan body, const PutOptions& options) override;
  Status remove(std::string_view key) override;
  Result<std::vector<DeleteFailure>> removeMany(const std::vector<std::string>& keys) override;
  Result<ListPage> list(const ListOptions& options) override;
  Result<ObjectInfo> copy(std::string_view source_key, std::string_view dest_key,
                          const CopyOptions& options) override;
  Result<std::string> createMultipart(std::string_view key, const PutOptions& options) override;
  Result<PartInfo> uploadPart(std::string_view key, std::string_view upload_id,
                              uint32_t part_number, ByteSpan body) override;
  Result<PartInfo> uploadPartCopy(std::string_view key, std::string_view upload_id,
                                  uint32_t part_number, std::string_view source_key,
                                  ByteRange range) override;
  Result<ObjectInfo> completeMultipart(std::string_view key, std::string_view upload_id,
                                       const std::vector<PartInfo>& parts,
                                       const WriteCondition& condition) override;
  Status abortMultipart(std::string_view key, std::string_view upload_id) override;
  Result<std::vector<MultipartUploadInfo>> listMultipartUploads(std::string_view prefix) override;
  Capabilities capabilities() const override { return options_.capabilities; }
  std::string describe() const override { return "mem://"; }

  // Test helpers: number of stored objects and of the bytes in their bodies.
  size_t objectCount() const;
  uint64_t totalBytes() const;

 private:
  struct Object {
    std::shared_ptr<const Bytes> body;  // shared so copies and gets do not duplicate bytes
    Metadata metadata;
    std::string etag;
    int64_t last_modified_unix = 0;
  };
  struct Part {
    std::shared_ptr<const Bytes> body;
    std::string etag;
  };
  struct Upload {
    std::string key;
    Metadata metadata;
    int64_t initiated_unix = 0;
    std::map<uint32_t, Part> parts;
  };

  Status checkCondition(const std::string& key, const WriteCondition& condition) const;
  Status checkSupported(const WriteCondition& condition) const;
  ObjectInfo storeLocked(const std::string& key, std::shared_ptr<const Bytes> body,
                         Metadata metadata, std::string etag);
  static ObjectInfo infoOf(const std::string& key, const Object& object);
  Result<PartInfo> storePart(std::string_view key, std::string_view upload_id, uint32_t part_number,
                             Bytes body);

  const InMemoryStoreOptions options_;
  mutable std::mutex mutex_;
  std::map<std::string, Object, std::less<>> objects_;
  std::map<std::string, Upload, std::less<>> uploads_;
};

}  // namespace s3cryptfs::store
