#pragma once

#include <cstdint>
#include <map>
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

// A multipart upload under way: its id, its part size in chunks, and the parts uploaded so far
// (a long sequential write uploads parts while the file is still written; FORMAT.md §10
// journals this, so a killed daemon's successor can finish it).
struct MultipartProgress {
  std::string upload_id;
  uint64_t chunks_per_part = 0;
  std::map<uint32_t, store::PartInfo> parts;
};

// What one upload cost: parts sent from here, their bytes, and parts copied server-side.
struct UploadStats {
  uint64_t parts_sent = 0;
  uint64_t bytes_sent = 0;
  uint64_t parts_copied = 0;
};

// Uploads one object: a single PUT up to part_bytes, above it a multipart upload of whole-chunk
// parts, parts uploaded by up to `concurrency` threads, unchanged parts copied server-side where
// the store can. A lost race is kPreconditionFailed (the caller keeps its data); the memory used
// is at most concurrency × part_bytes.
class Uploader {
 public:
  Uploader(store::ObjectStore& store, uint64_t part_bytes, uint32_t concurrency)
      : store_(store), part_bytes_(part_bytes), concurrency_(concurrency) {}

  Result<store::ObjectInfo> upload(const UploadSource& source, const UploadTarget& target,
                                   UploadStats* stats = nullptr) const;
  // The whole object in memory (small files; also what a conflict copy is made from).
  Result<Bytes> assemble(const UploadSource& source) const;
  static constexpr uint64_t kMaxParts = 10000;
  // Whole chunks per part for an object of `size` plaintext bytes.
  uint64_t chunksPerPart(const format::ChunkLayout& layout, uint64_t size) const;
  uint64_t partBytes() const { return part_bytes_; }
  uint32_t concurrency() const { return concurrency_; }
  // Whether every chunk is staged (the base is not needed at all).
  static bool allStaged(const UploadSource& source);

  // ---- an upload started before the object is complete ----
  Result<std::string> begin(const std::string& key, const store::Metadata& metadata) const;
  // Uploads part `part` of the upload in `progress` from `source` (its chunks are all staged or
  // unchanged in the base). Thread-safe; `progress` is only read.
  Result<store::PartInfo> sendPart(const UploadSource& source, const std::string& key,
                                   const std::string& upload_id, uint64_t chunks_per_part,
                                   uint64_t part, UploadStats* stats = nullptr) const;
  // Uploads every part not in progress.parts (in parallel) and completes, conditional on
  // target.condition. Does not abort on failure: the caller decides (the parts already sent may
  // be the only copy of data whose staging space was released).
  Result<store::ObjectInfo> finish(const UploadSource& source, const UploadTarget& target,
                                   const MultipartProgress& progress,
                                   UploadStats* stats = nullptr) const;
  void abort(const std::string& key, const std::string& upload_id) const {
    (void)store_.abortMultipart(key, upload_id);
  }

 private:
  // Appends chunks [first, first + count) to out, from staging or from the base.
  Status appendChunks(const UploadSource& source, uint64_t first, uint64_t count, Bytes& out) const;
  Result<store::ObjectInfo> complete(const UploadTarget& target, const std::string& upload_id,
                                     const std::vector<store::PartInfo>& parts) const;

  store::ObjectStore& store_;
  uint64_t part_bytes_;
  uint32_t concurrency_;
};

}  // namespace s3cryptfs::fs
