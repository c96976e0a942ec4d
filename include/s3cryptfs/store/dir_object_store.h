#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "s3cryptfs/store/object_store.h"

namespace s3cryptfs::store {

struct DirStoreOptions {
  // S3 refuses non-last multipart parts below 5 MiB; the same rule keeps the stores alike.
  uint64_t min_part_size = uint64_t{5} * 1024 * 1024;
  // fsync files and directories before a write is acknowledged. Off only in throwaway tests.
  bool durable = true;
  // Temp files older than this, not locked by a live writer, are crash leftovers.
  std::chrono::seconds stale_temp_age{60};
};

// The local-directory store behind dir:///path, with the semantics of S3. Several instances,
// in this process or in other processes, may use the same folder at once.
//
// On-disk layout (docs/STORES.md has the full description):
//   ROOT/.s3c-store/tmp/       temp files of writes in progress (and crash leftovers)
//   ROOT/.s3c-store/uploads/ID multipart uploads: "info" and "part-NNNNN"
//   ROOT/.s3c-store/locks/NN   64 lock files; a key's writes flock the one its hash picks
//   ROOT/<mapped key>          one file per object: a header (ETag, user metadata) then the body
//
// Key mapping: a key is split at '/'. Each component is escaped ('%', bytes below 0x20 and
// 0x7f become %XX), then cut into pieces of at most 240 bytes (never inside an escape). Every
// piece but the last becomes a folder named "l<piece>"; the last becomes "f<piece>" (a file:
// the last component of the key) or "d<piece>" (a folder: a component followed by '/'). The tag
// letter keeps ".", "..", empty components, a key and the same key plus "/..." apart, and no
// mapped name can ever be ".s3c-store". Names without a known tag are ignored.
//
// Every write goes to a temp file in .s3c-store/tmp (same filesystem), is fsynced, and is
// renamed over the object file while holding the key's lock; conditions (If-Match,
// If-None-Match) are checked under that lock, so they are race-free across threads and
// processes. Metadata lives in the object file's header, so it changes atomically with the body.
class DirObjectStore final : public ObjectStore {
 public:
  // Creates ROOT and the reserved folder if missing, and cleans stale temp files.
  static Result<std::unique_ptr<DirObjectStore>> open(const std::string& root,
                                                      DirStoreOptions options = {});
  ~DirObjectStore() override;
  DirObjectStore(const DirObjectStore&) = delete;
  DirObjectStore& operator=(const DirObjectStore&) = delete;
  DirObjectStore(DirObjectStore&&) = delete;
  DirObjectStore& operator=(DirObjectStore&&) = delete;

  // The object file of `key`, relative to the root ("da/fb" for "a/b").
  static Result<std::string> relativePathOf(std::string_view key);
  // The name of the reserved folder under the root.
  static constexpr std::string_view kReservedDir = ".s3c-store";

  // Removes crash leftovers from the temp folder; returns how many entries were removed.
  size_t cleanStaleTemporaries();
  const std::string& root() const { return root_; }

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
  Capabilities capabilities() const override { return Capabilities{}; }
  std::string describe() const override { return "dir://" + root_; }

  static constexpr size_t kLockStripes = 64;

 private:
  class Impl;
  DirObjectStore(std::string root, DirStoreOptions options);

  std::string root_;
  DirStoreOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace s3cryptfs::store
