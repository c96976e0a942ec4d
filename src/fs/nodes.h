#pragma once

#include <chrono>
#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "s3cryptfs/format/attributes.h"
#include "s3cryptfs/format/chunk_codec.h"
#include "s3cryptfs/fs/types.h"

#include "staging_file.h"
#include "uploader.h"

namespace s3cryptfs::fs {

using Clock = std::chrono::steady_clock;

struct OpenFile;

// One inode. Every field is guarded by the filesystem's table mutex, except `file`'s own
// contents (its mutex). A rename changes parent/name, never the inode number.
struct Node {
  InodeId ino = 0;
  InodeId parent = 0;
  std::string name;
  format::Attributes attrs;
  bool attrs_known = false;   // false for nodes seen only in a listing
  bool implicit_dir = false;  // a directory without a marker object
  std::string sidecar_key;    // the sidecar object holding the attribute block, "" for none
  // A directory whose mtime/ctime changed (an entry added, removed or renamed) but whose marker
  // does not have them yet (see directory_times.cpp), and when its marker was last written.
  bool times_dirty = false;
  Clock::time_point times_persisted{};
  std::string etag;  // of the content object, or of the marker
  // The version whose pages the kernel may hold from earlier opens (see keepKernelCache).
  std::string kernel_etag;
  // Last-Modified (Unix seconds) of the version `etag` names, as a listing (or else a HEAD)
  // showed it; 0 if unknown. A listing showing the same ETag and Last-Modified revalidates the
  // cached attributes.
  int64_t last_modified = 0;
  Clock::time_point fetched{};
  uint64_t generation = 0;
  uint64_t lookups = 0;   // kernel references (lookup, create, readdirplus) not yet forgotten
  uint64_t children = 0;  // nodes whose parent is this one: they need our path
  uint32_t open_handles = 0;
  bool unlinked = false;
  std::shared_ptr<OpenFile> file;  // while handles are open

  bool isDir() const { return attrs.kind == format::NodeKind::kDirectory; }
};

// The data state of an open regular file, shared by its handles. Invariant: every chunk below
// the current size that is not in `dirty` is byte-identical in the remote version `remote_etag`
// (same file id, same position, same final flag), so an upload needs only the dirty chunks plus
// server-side copies or ranged reads of the rest.
// A multipart upload started while its file is still being written (part_stream.cpp): parts
// whose chunks are all staged and no longer the end of the file are sent in the background, at
// most upload_concurrency at once, and their staging space is released once the journal
// records them. The object's metadata points at a sidecar of this version (`sidecar_tag`),
// written with the final attributes just before the upload completes (FORMAT.md §6.3).
struct PartStream {
  std::string key;
  std::string sidecar_tag;
  MultipartProgress progress;  // parts sent and journaled; their staging space is released
  UploadStats sent;            // what those parts cost
  std::map<uint64_t, std::future<Result<store::PartInfo>>> in_flight;
};

struct OpenFile {
  std::mutex mutex;  // lock order: namespace → open file → table
  // Shared so a read can fetch and open chunks without holding the mutex.
  std::shared_ptr<const format::FileCipher> cipher;
  std::string remote_etag;   // the version staged data replaces
  uint64_t remote_size = 0;  // its plaintext size
  uint64_t size = 0;         // current plaintext size (authoritative while open)
  std::set<uint64_t> dirty;  // chunks sealed in the staging file
  std::unique_ptr<StagingFile> staging;
  bool unlinked = false;  // content kept in staging for open handles only
  // Declared after `staging`: destroyed first, so no part upload outlives the staging file.
  std::unique_ptr<PartStream> stream;
  // Sequential-read detection for readahead.
  uint64_t next_sequential = 0;
  uint64_t readahead_chunks = 0;
  uint64_t prefetched_until = 0;  // readahead has fetched chunks below this
};

}  // namespace s3cryptfs::fs
