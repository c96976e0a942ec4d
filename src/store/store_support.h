#pragma once

// Helpers shared by the store implementations in this folder (not a public header): key and
// argument validation, ETags, ranges, and the S3 listing rules over keys in sorted order.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "s3cryptfs/store/object_store.h"

namespace s3cryptfs::store::support {

inline constexpr size_t kMaxKeyBytes = 1024;
inline constexpr size_t kMaxMetadataBytes = 2048;
inline constexpr uint32_t kMaxPartNumber = 10000;
inline constexpr uint32_t kMaxListKeys = 1000;

Status validateKey(std::string_view key);
Status validateMetadata(const Metadata& metadata);
Status validatePartNumber(uint32_t part_number);

// A fresh 128-bit random value in hex: ETags, upload ids, temp file names.
std::string randomHex128();
// ETags arrive quoted or not (Ceph wants them unquoted); compare without quotes.
std::string unquoteEtag(std::string_view etag);
int64_t nowUnix();

// The slice [begin, end) of an object of `size` bytes, or kInvalidArgument for a range that
// starts at or past the end (S3 answers 416 InvalidRange) or has length 0.
struct Slice {
  uint64_t begin = 0;
  uint64_t end = 0;
};
Result<Slice> resolveRange(const std::optional<ByteRange>& range, uint64_t size,
                           std::string_view key);

// Validates the part list of CompleteMultipartUpload against what was uploaded: ascending part
// numbers, known parts, matching ETags, non-last parts of at least min_part_size bytes.
struct UploadedPart {
  uint32_t part_number = 0;
  std::string etag;
  uint64_t size = 0;
};
Status validateCompletion(const std::vector<PartInfo>& requested,
                          const std::vector<UploadedPart>& uploaded, uint64_t min_part_size);

Error preconditionFailed(std::string_view key, std::string_view why);
Error notFound(std::string_view key);
Error noSuchUpload(std::string_view upload_id);

// Builds one page of a listing from entries fed in ascending key order. Applies the prefix,
// the delimiter (collapsing keys into common prefixes), the continuation token and max_keys.
// The continuation token is the hex of the last entry returned (object key or common prefix),
// so it survives any byte in a key.
class PageBuilder {
 public:
  static Result<PageBuilder> create(const ListOptions& options);

  // Feeds an object; returns false once the page is full (stop feeding).
  bool addObject(const ObjectInfo& info);
  // Feeds a common prefix found without listing its keys (DirObjectStore skips whole folders).
  bool addCommonPrefix(const std::string& common_prefix);
  // The first key worth feeding: everything before it is skipped anyway.
  const std::string& startAfter() const { return start_after_; }
  const std::string& prefix() const { return prefix_; }
  const std::string& delimiter() const { return delimiter_; }
  ListPage finish() &&;

 private:
  PageBuilder() = default;
  bool addEntry(const std::string& entry, bool is_prefix, const ObjectInfo* info);

  std::string prefix_;
  std::string delimiter_;
  std::string start_after_;
  uint32_t max_keys_ = kMaxListKeys;
  uint32_t count_ = 0;
  bool truncated_ = false;
  std::string last_entry_;
  ListPage page_;
};

}  // namespace s3cryptfs::store::support
