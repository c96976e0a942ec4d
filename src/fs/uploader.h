#pragma once

#include <cstdint>
#include <set>
#include <string>

#include "s3cryptfs/core/result.h"
#include "s3cryptfs/format/chunk_codec.h"
#include "s3cryptfs/store/object_store.h"

#include "staging_file.h"

namespace s3cryptfs::fs {

// The bytes of a new version of one object: its header (cipher), its plaintext size, the sealed
// chunks staged locally (`dirty`), and every other chunk unchanged in `base` (the version it
// replaces, same file id, so those chunks are byte-identical and need not be read back).
struct UploadSource {
  const format::FileCipher* cipher = nullptr;
  uint64_t size = 0;
  const std::set<uint64_t>* dirty = nullptr;
  const StagingFile* staging = nullptr;  // null when dirty is empty
  std::string base_key;
  std::string base_etag;  // ranged reads of the base check it: a changed base is a lost race
};

struct UploadTarget {
  std::string key;
  store::Metadata metadata;
  store::WriteCondition condition;
};

// Uploads one object: a single PUT up to part_bytes, above it a multipart upload of whole-chunk
// parts, parts uploaded by up to `concurrency` threads, unchanged parts copied server-side where
// the store can. A lost race is kPreconditionFailed (the caller keeps its data); the memory used
// is at most concurrency × part_bytes.
class Uploader {
 public:
  Uploader(store::ObjectStore& store, uint64_t part_bytes, uint32_t concurrency)
      : store_(store), part_bytes_(part_bytes), concurrency_(concurrency) {}

  Result<store::ObjectInfo> upload(const UploadSource& source, const UploadTarget& target) const;
  // The whole object in memory (small files; also what a conflict copy is made from).
  Result<Bytes> assemble(const UploadSource& source) const;
  static constexpr uint64_t kMaxParts = 10000;
  // Whole chunks per part for an object of `size` plaintext bytes.
  uint64_t chunksPerPart(const format::ChunkLayout& layout, uint64_t size) const;
  // Whether every chunk is staged (the base is not needed at all).
  static bool allStaged(const UploadSource& source);

 private:
  // Appends chunks [first, first + count) to out, from staging or from the base.
  Status appendChunks(const UploadSource& source, uint64_t first, uint64_t count, Bytes& out) const;
  Result<store::ObjectInfo> uploadMultipart(const UploadSource& source, const UploadTarget& target,
                                            uint64_t chunks_per_part) const;

  store::ObjectStore& store_;
  uint64_t part_bytes_;
  uint32_t concurrency_;
};

}  // namespace s3cryptfs::fs
