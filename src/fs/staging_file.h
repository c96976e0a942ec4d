#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "s3cryptfs/core/bytes.h"
#include "s3cryptfs/core/result.h"
#include "s3cryptfs/store/object_store.h"

namespace s3cryptfs::fs {

// What a killed daemon needs to finish an upload (docs/FORMAT.md §10): the object's key, the
// version it replaces, its plaintext size, its header, its sealed attribute block and which
// chunks the staging file holds. Everything in it is ciphertext or already visible in the
// bucket (object keys, ETags, sizes).
struct JournalRecord {
  std::string key;
  std::string base_etag;  // empty: the object did not exist
  uint64_t size = 0;
  Bytes header;
  std::string attributes_text;  // sealed for `key` (base64)
  std::vector<uint64_t> chunks;
  // A multipart upload started before the file was complete ("" for none): its part size in
  // chunks, the tag of the sidecar its metadata points at, and the parts already sent (the
  // staging space of their chunks may have been released).
  std::string upload_id;
  uint64_t chunks_per_part = 0;
  std::string sidecar_tag;
  std::vector<store::PartInfo> parts;
};

std::string encodeJournal(const JournalRecord& record);
Result<JournalRecord> decodeJournal(std::string_view text);

// One file's staging area under the staging folder: NAME.data holds sealed chunks at their
// cipher offsets in the future object (ciphertext only), NAME.journal the record above,
// rewritten in place on each change (see writeJournal).
class StagingFile {
 public:
  static Result<std::unique_ptr<StagingFile>> create(const std::string& dir);
  // An existing pair left by an earlier run; `journal_path` ends in ".journal".
  static Result<std::unique_ptr<StagingFile>> adopt(const std::string& journal_path);
  ~StagingFile();
  StagingFile(const StagingFile&) = delete;
  StagingFile& operator=(const StagingFile&) = delete;

  Status write(uint64_t offset, ByteSpan bytes);
  // Allocates [offset, offset + length) without changing what is stored there, so that a full
  // staging folder fails here (kNoSpace) before any staged chunk is overwritten: a pwrite that
  // runs out of space half way would tear the chunk it replaces.
  Status reserve(uint64_t offset, uint64_t length);
  Status read(uint64_t offset, MutableByteSpan out) const;
  // Gives [offset, offset + length) back to the filesystem (a hole; the size stays): the chunks
  // there were uploaded and are no longer needed locally.
  Status release(uint64_t offset, uint64_t length);
  Status writeJournal(const JournalRecord& record);
  Result<JournalRecord> readJournal() const;
  // Forgets the journal (the staged data must not be uploaded any more: the file was unlinked).
  void dropJournal();
  // Deletes both files (after a successful upload, or for an unlinked file).
  void discard();

  const std::string& dataPath() const { return data_path_; }
  const std::string& journalPath() const { return journal_path_; }

  // The ".journal" files in dir, oldest name first.
  static std::vector<std::string> listJournals(const std::string& dir);

 private:
  StagingFile(std::string base, int fd);
  std::string data_path_;
  std::string journal_path_;
  int fd_ = -1;
  int journal_fd_ = -1;
  uint64_t journal_size_ = 0;
};

}  // namespace s3cryptfs::fs
