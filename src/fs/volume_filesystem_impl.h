#pragma once

// The Filesystem over a volume, shared by the files that implement it: lookups.cpp (probing the
// store, attributes), namespace_ops.cpp (creating, removing and renaming nodes), open_files.cpp
// (the data path), directories.cpp, xattrs.cpp, recovery.cpp (the staging journal) and
// volume_filesystem.cpp (the factory). One class, split by concern.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <future>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "s3cryptfs/cache/block_cache.h"
#include "s3cryptfs/core/log.h"
#include "s3cryptfs/crypto/random.h"
#include "s3cryptfs/fs/volume_filesystem.h"

#include "background_tasks.h"
#include "errno_mapping_store.h"
#include "inflight_chunks.h"
#include "nodes.h"
#include "parallel.h"
#include "uploader.h"

namespace s3cryptfs::fs {

inline constexpr int kXattrCreate = 1;
inline constexpr int kXattrReplace = 2;
// Readahead grows by doubling on sequential reads up to this many bytes.
inline constexpr uint64_t kMaxReadaheadBytes = uint64_t{8} << 20;
// Chunks per ranged GET when several ranges are fetched in parallel.
inline constexpr uint64_t kChunksPerFetch = 16;
inline constexpr uint32_t kFetchConcurrency = 4;
// Background readahead: threads, and windows queued beyond those running (more are dropped).
inline constexpr size_t kReadaheadThreads = 2;
inline constexpr size_t kReadaheadQueue = 4;
// How long a reader waits for a chunk another reader is fetching before fetching it itself.
inline constexpr std::chrono::milliseconds kInflightWait{30000};
// Reads this close to where the last one ended still count as sequential.
inline constexpr uint64_t kSequentialSlack = uint64_t{512} << 10;
// Parallel HEADs of a readdirplus page and its lookahead (bounded further by the HTTP client's
// connection pool, s3.max_connections).
inline constexpr uint32_t kHeadConcurrency = 32;
// readdirplus fetches the attributes of this many entries ahead of the kernel at a time, so
// the HEADs run as one wide parallel batch instead of one narrow batch per 4 KiB reply.
inline constexpr size_t kAttrLookahead = 512;
// Foreign keys remembered so each is logged once; beyond this they are no longer logged.
inline constexpr size_t kMaxLoggedForeignKeys = 10000;
// A directory's marker is rewritten for a change of its entries at most once per this interval;
// the changes in between are written by the next change after it or by syncAll.
inline constexpr std::chrono::milliseconds kDirectoryTimesInterval{1000};

inline int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline Timespec toTimespec(int64_t ns) {
  int64_t sec = ns / 1000000000;
  int64_t nsec = ns % 1000000000;
  if (nsec < 0) {
    nsec += 1000000000;
    --sec;
  }
  return {sec, nsec};
}

inline int64_t toNs(const Timespec& t) {
  return t.sec * 1000000000 + t.nsec;
}

inline Error errnoError(ErrorKind kind, int err, std::string message) {
  return Error(kind, err, std::move(message));
}

inline std::string childPath(const std::string& parent, std::string_view name) {
  return parent == "/" ? "/" + std::string(name) : parent + "/" + std::string(name);
}

// One path component as the kernel hands it over; the codec checks the rest (reserved names).
inline Status checkName(std::string_view name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string_view::npos ||
      name.find('\0') != std::string_view::npos) {
    return Error(ErrorKind::kInvalidArgument, "invalid file name");
  }
  if (name.size() > format::kMaxNameBytes) return Error(ErrorKind::kNameTooLong, "name too long");
  return ok();
}

inline bool isLostRace(const Error& error) {
  return error.kind() == ErrorKind::kPreconditionFailed;
}

// An open file whose object another writer replaced (our version went to a conflict name).
inline Error lostWhileOpenError() {
  return errnoError(ErrorKind::kPreconditionFailed, EIO,
                    "the file was replaced by another writer while open");
}

class VolumeFilesystem final : public Filesystem {
 public:
  VolumeFilesystem(std::shared_ptr<volume::Volume> volume, FilesystemOptions options)
      : volume_(std::move(volume)),
        options_(std::move(options)),
        mapped_store_(volume_->store()),
        store_(mapped_store_),
        objects_(volume_->objects()),
        layout_(objects_.layout()),
        caps_(store_.capabilities()),
        cache_(options_.cache_bytes),
        uploader_(store_, options_.part_bytes, options_.upload_concurrency) {
    auto root = std::make_shared<Node>();
    root->ino = kRootInode;
    root->parent = kRootInode;
    root->attrs = defaultDirAttributes();
    root->implicit_dir = true;
    root->lookups = 1;
    nodes_[kRootInode] = root;
  }

  Status recoverJournals();
  Result<store::ObjectInfo> resumeUpload(const JournalRecord& record, const UploadSource& source,
                                         const format::Attributes& attrs,
                                         const MultipartProgress& progress);
  void dropTornChunks(const JournalRecord& record, const format::FileCipher& cipher,
                      const StagingFile& staging, std::set<uint64_t>& dirty);

  // ---- Filesystem ----
  Result<Entry> lookup(InodeId parent, std::string_view name) override;
  void forget(InodeId ino, uint64_t count) override;
  Result<Attr> getattr(InodeId ino) override;
  Result<Attr> setattr(InodeId ino, const SetAttrRequest& request, const Caller& caller) override;
  Result<Entry> mkdir(InodeId parent, std::string_view name, uint32_t mode,
                      const Caller& caller) override;
  Result<Entry> mknod(InodeId parent, std::string_view name, uint32_t mode,
                      const Caller& caller) override;
  Result<Entry> symlink(InodeId parent, std::string_view name, std::string_view target,
                        const Caller& caller) override;
  Result<std::string> readlink(InodeId ino) override;
  Status unlink(InodeId parent, std::string_view name) override;
  Status rmdir(InodeId parent, std::string_view name) override;
  Status rename(InodeId parent, std::string_view name, InodeId new_parent,
                std::string_view new_name, unsigned flags) override;
  Result<Entry> link(InodeId ino, InodeId new_parent, std::string_view new_name) override;
  Result<Created> create(InodeId parent, std::string_view name, uint32_t mode, int flags,
                         const Caller& caller) override;
  Result<HandleId> open(InodeId ino, int flags) override;
  bool keepKernelCache(HandleId handle) override;
  Result<size_t> read(HandleId handle, uint64_t offset, MutableByteSpan out) override;
  Result<size_t> write(HandleId handle, uint64_t offset, ByteSpan data) override;
  Status flush(HandleId handle) override;
  Status fsync(HandleId handle, bool datasync) override;
  Status release(HandleId handle) override;
  Result<HandleId> opendir(InodeId ino) override;
  Result<std::vector<DirEntry>> readdir(HandleId handle, uint64_t cookie, size_t max_entries,
                                        bool plus) override;
  Status releasedir(HandleId handle) override;
  Result<StatFs> statfs() override;
  Result<Bytes> getxattr(InodeId ino, std::string_view name) override;
  Status setxattr(InodeId ino, std::string_view name, ByteSpan value, int flags) override;
  Result<std::vector<std::string>> listxattr(InodeId ino) override;
  Status removexattr(InodeId ino, std::string_view name) override;
  Status syncAll() override;

 private:
  using NodePtr = std::shared_ptr<Node>;
  using FilePtr = std::shared_ptr<OpenFile>;

  struct Handle {
    NodePtr node;
    int flags = 0;
  };
  struct DirHandle {
    NodePtr node;
    bool listed = false;
    std::vector<DirEntry> entries;  // ".", "..", then the children in key order
    std::vector<uint8_t> objects;   // per entry: 1 if the listing showed it as an object
    // Per entry: the version the listing showed (ETag, Last-Modified); empty for prefixes.
    std::vector<std::pair<std::string, int64_t>> versions;
    Clock::time_point listed_at{};  // attributes fetched since are fresh for this listing
    size_t attrs_until = 0;         // readdirplus fetched attributes of entries below this
    std::mutex mutex;
  };
  // What the store says about one path.
  struct Probe {
    bool found = false;
    format::Attributes attrs;
    std::string etag;
    int64_t last_modified = 0;
    bool implicit_dir = false;
    std::string sidecar_key;
  };

  // ---- table helpers (table_mutex_ held where the name says Locked) ----
  format::Attributes defaultDirAttributes() const {
    format::Attributes a;
    a.kind = format::NodeKind::kDirectory;
    a.mode = S_IFDIR | 0755;
    a.uid = options_.default_uid;
    a.gid = options_.default_gid;
    a.atime_ns = a.mtime_ns = a.ctime_ns = start_ns_;
    return a;
  }
  Result<NodePtr> nodeOf(InodeId ino) {
    std::lock_guard lock(table_mutex_);
    auto found = nodes_.find(ino);
    if (found == nodes_.end()) {
      return errnoError(ErrorKind::kNotFound, ESTALE, "unknown inode " + std::to_string(ino));
    }
    return found->second;
  }
  std::string pathLocked(const Node& node) const {
    if (node.ino == kRootInode) return "/";
    std::vector<const Node*> chain;
    const Node* at = &node;
    while (at->ino != kRootInode) {
      chain.push_back(at);
      auto parent = nodes_.find(at->parent);
      if (parent == nodes_.end()) break;
      at = parent->second.get();
    }
    std::string path;
    for (auto it = chain.rbegin(); it != chain.rend(); ++it)
      path += "/" + (*it)->name;
    return path;
  }
  std::string pathOf(const Node& node) {
    std::lock_guard lock(table_mutex_);
    return pathLocked(node);
  }
  NodePtr childLocked(InodeId parent, std::string_view name) {
    auto found = children_.find({parent, std::string(name)});
    if (found == children_.end()) return nullptr;
    auto node = nodes_.find(found->second);
    return node == nodes_.end() ? nullptr : node->second;
  }
  // Inserts or refreshes the node for (parent, name) from a probe.
  // Attributes read from the store replace the cached ones, except a directory's mtime and
  // ctime not written to its marker yet (directory_times.cpp): those are newer.
  static void takeAttrsLocked(Node& node, const format::Attributes& attrs) {
    int64_t mtime = node.attrs.mtime_ns;
    int64_t ctime = node.attrs.ctime_ns;
    node.attrs = attrs;
    if (node.times_dirty) {
      node.attrs.mtime_ns = std::max(node.attrs.mtime_ns, mtime);
      node.attrs.ctime_ns = std::max(node.attrs.ctime_ns, ctime);
    }
  }
  NodePtr installLocked(InodeId parent, std::string_view name, const Probe& probe) {
    NodePtr node = childLocked(parent, name);
    if (node != nullptr && node->attrs_known && node->attrs.kind != probe.attrs.kind) {
      // The name now holds another kind of node: the old inode is gone.
      detachLocked(*node);
      node = nullptr;
    }
    if (node == nullptr) {
      node = std::make_shared<Node>();
      node->ino = next_ino_++;
      node->parent = parent;
      node->name = std::string(name);
      node->generation = 0;
      nodes_[node->ino] = node;
      children_[{parent, node->name}] = node->ino;
      if (auto p = nodes_.find(parent); p != nodes_.end()) ++p->second->children;
    }
    negative_.erase({parent, std::string(name)});
    if (node->file == nullptr) {
      takeAttrsLocked(*node, probe.attrs);
      node->etag = probe.etag;
      node->last_modified = probe.last_modified;
      node->implicit_dir = probe.implicit_dir;
      node->sidecar_key = probe.sidecar_key;
    }
    node->attrs_known = true;
    node->fetched = Clock::now();
    return node;
  }
  // The name no longer refers to this node (unlink, rename over it, found changed).
  void detachLocked(Node& node) {
    auto key = std::make_pair(node.parent, node.name);
    if (auto found = children_.find(key); found != children_.end() && found->second == node.ino) {
      children_.erase(found);
    }
    node.unlinked = true;
    maybeEraseLocked(node.ino);
  }
  void maybeEraseLocked(InodeId ino) {
    while (ino != kRootInode) {
      auto found = nodes_.find(ino);
      if (found == nodes_.end()) return;
      Node& node = *found->second;
      if (node.lookups > 0 || node.open_handles > 0 || node.children > 0 || node.file) return;
      auto key = std::make_pair(node.parent, node.name);
      if (auto child = children_.find(key); child != children_.end() && child->second == ino) {
        children_.erase(child);
      }
      InodeId parent = node.parent;
      nodes_.erase(found);
      auto p = nodes_.find(parent);
      if (p == nodes_.end()) return;
      --p->second->children;
      ino = parent;
    }
  }
  Entry entryLocked(Node& node) {
    ++node.lookups;
    return Entry{toAttr(node), node.generation};
  }
  Attr toAttr(const Node& node) const {
    Attr attr;
    attr.ino = node.ino;
    attr.mode = node.attrs.mode;
    attr.nlink = node.isDir() ? 2 : 1;
    attr.uid = node.attrs.uid;
    attr.gid = node.attrs.gid;
    attr.size = node.isDir() ? 4096 : node.attrs.size;
    attr.blocks = (attr.size + 511) / 512;
    attr.atime = toTimespec(node.attrs.atime_ns);
    attr.mtime = toTimespec(node.attrs.mtime_ns);
    attr.ctime = toTimespec(node.attrs.ctime_ns);
    return attr;
  }
  bool freshLocked(const Node& node) const {
    if (node.file != nullptr) return true;  // open: our state is authoritative
    return node.attrs_known && Clock::now() - node.fetched < options_.metadata_ttl;
  }

  // ---- store helpers (no table lock held) ----
  Result<Probe> probe(const std::string& path);
  Result<Probe> probeObject(const std::string& key, const store::ObjectInfo& info);
  Result<Probe> probeMarker(const std::string& key, const store::ObjectInfo& info);
  Probe foundProbe(const std::string& key, const store::ObjectInfo& info,
                   format::Attributes attrs) const;
  // What a HEAD of an object (or of a directory marker) says: nothing for a missing key or a
  // foreign object, the error for any other failure.
  Result<std::optional<Probe>> probeHead(const std::string& key,
                                         const Result<store::ObjectInfo>& head, bool marker);
  // Re-reads a node's attributes when stale (or always with force, e.g. after a lost race).
  Status refreshNode(const NodePtr& node, bool force = false);
  // Takes a probe's answer into the node: kNotFound (and detached) when the name is gone or
  // now holds another kind of node.
  Status applyProbeLocked(Node& node, const Probe& probed, bool force);
  // The attributes of a name a listing showed, as an object or as a prefix: one HEAD.
  Result<Probe> probeListed(const std::string& path, bool listed_object);
  Result<NodePtr> lookupChild(InodeId parent, std::string_view name);
  Result<NodePtr> directoryNode(InodeId ino);
  Status persistAttributes(const NodePtr& node);
  // An entry of directory `dir` was added, removed or renamed: its mtime and ctime become now
  // (batched writes of its marker, directory_times.cpp). Namespace mutex held exclusively.
  void touchDirectory(InodeId dir);
  // Writes the marker of every directory whose times are not persisted yet. Namespace mutex
  // held exclusively.
  Status persistDirectoryTimes();
  Result<store::ObjectInfo> rewriteMetadata(const std::string& key, const store::Metadata& metadata,
                                            const std::string& etag);
  void logForeign(const std::string& key, const Error& error);
  Status putNew(const std::string& key, ByteSpan body, const store::Metadata& metadata);
  // Writes a new content object (If-None-Match). cipher_out receives its cipher, so a file
  // opened right away need not read its header back.
  Result<NodePtr> createFileObject(InodeId parent, std::string_view name, uint32_t mode,
                                   const Caller& caller, format::NodeKind kind,
                                   std::string_view target,
                                   std::optional<format::FileCipher>* cipher_out = nullptr);
  Result<Probe> listProbe(const std::string& path);
  // The first `count` entries (objects and common prefixes) directly below a directory.
  Result<store::ListPage> firstEntries(const std::string& path, uint32_t count);

  // ---- open files ----
  Result<FilePtr> attachFile(const NodePtr& node);
  void detachFile(const NodePtr& node, bool keep_staged = false);
  // Reads the header of the open file's object (once), together with its first
  // `prefetch_chunks` chunks when a read at the start is coming (one GET instead of two).
  Status ensureCipher(OpenFile& file, const NodePtr& node, uint64_t prefetch_chunks = 0);
  // One attempt of ensureCipher: false when the object turned out to be a newer version than
  // the cached attributes said (they are refreshed; the caller tries once more).
  Result<bool> readHeader(OpenFile& file, const NodePtr& node, uint64_t prefetch_chunks,
                          bool retried);
  // What a fetch needs of an open file, copied so the fetch can run without its mutex.
  struct RemoteView {
    std::shared_ptr<const format::FileCipher> cipher;
    std::string etag;
    uint64_t size = 0;
    std::set<uint64_t> skip;  // staged chunks in the fetched window: not fetched
  };
  RemoteView viewOf(const OpenFile& file, uint64_t first, uint64_t count) const {
    RemoteView view{file.cipher, file.remote_etag, file.remote_size, {}};
    for (auto it = file.dirty.lower_bound(first); it != file.dirty.end() && *it < first + count;
         ++it) {
      view.skip.insert(*it);
    }
    return view;
  }
  static std::string cacheKey(const format::FileCipher& cipher, const std::string& etag,
                              uint64_t index) {
    return toHex(cipher.header().file_id) + "/" + etag + "/" + std::to_string(index);
  }
  std::string cacheKey(const OpenFile& file, uint64_t index) const {
    return cacheKey(*file.cipher, file.remote_etag, index);
  }
  Status fetchChunks(const RemoteView& view, const std::string& key, uint64_t first, uint64_t count,
                     uint64_t required);
  // fetchChunks in two steps, so readahead can claim its chunks on the reader's thread and
  // fetch them on a background one. A plan's claims are released by runFetch.
  struct FetchPlan {
    std::vector<format::ChunkSpan> runs;  // claimed chunks, as ranges to GET
    std::vector<std::string> claimed;     // their cache keys
    std::vector<std::string> awaited;     // required chunks another reader is fetching
  };
  FetchPlan planFetch(const RemoteView& view, uint64_t first, uint64_t count, uint64_t required);
  // Failures of chunks at or past required_end are not reported.
  Status runFetch(const RemoteView& view, const std::string& key, const FetchPlan& plan,
                  uint64_t required_end);
  Result<std::shared_ptr<const Bytes>> chunkPlain(OpenFile& file, const std::string& key,
                                                  uint64_t index);
  // Fetches clean, uncached chunks [first, first + count) into the cache; failures of chunks
  // at or past first + required (readahead) are not reported.
  Status fetchRemote(OpenFile& file, const std::string& key, uint64_t first, uint64_t count,
                     uint64_t required);
  Status stageChunk(OpenFile& file, uint64_t index, ByteSpan plain);
  Status rewriteChunks(OpenFile& file, const std::string& key, uint64_t new_size, uint64_t first,
                       uint64_t last, uint64_t patch_offset, ByteSpan patch);
  Result<std::string> keyOf(const NodePtr& node) {
    std::string path = pathOf(*node);
    return objects_.objectKey(path);
  }
  Status resizeLocked(OpenFile& file, const NodePtr& node, uint64_t new_size);
  Status journalLocked(OpenFile& file, const NodePtr& node);
  Status uploadLocked(OpenFile& file, const NodePtr& node);
  Status saveConflict(const NodePtr& node, const std::string& key, const format::FileCipher& cipher,
                      const UploadSource& source, std::optional<Bytes> body);
  Status materializeLocked(OpenFile& file, const NodePtr& node);
  // ---- streaming multipart uploads (part_stream.cpp) ----
  // After a write of chunks [first, last]: sends the parts it made final, starting the upload
  // once the file has outgrown one part; waits only while upload_concurrency parts are in flight.
  Status streamPartsLocked(OpenFile& file, const NodePtr& node, uint64_t first, uint64_t last);
  Status startStreamLocked(OpenFile& file, const NodePtr& node, uint64_t chunks_per_part);
  // Records the parts whose upload ended (all, with wait): journaled, then staging released.
  Status collectPartsLocked(OpenFile& file, const NodePtr& node, bool wait);
  // Whether chunks [first, last] lie in parts sent or in flight: a read or write of them first
  // completes the upload (their staging space is gone, and the object is the only copy).
  bool touchesSentPartsLocked(const OpenFile& file, uint64_t first, uint64_t last) const;
  // Bytes per part of the file's upload: the stream's, or what a file of `size` would get.
  uint64_t partBytesFor(const OpenFile& file, uint64_t size) const {
    uint64_t chunks = file.stream ? file.stream->progress.chunks_per_part
                                  : uploader_.chunksPerPart(layout_, size);
    return chunks * layout_.chunkSize();
  }
  // Whether the stream's part size is too small for new_size (more than 10 000 parts).
  bool outgrowsStreamLocked(const OpenFile& file, uint64_t new_size) const;
  // Aborts the upload: its data is not wanted any more (truncated to 0, unlinked).
  void dropStreamLocked(OpenFile& file);
  Result<store::ObjectInfo> finishStreamLocked(OpenFile& file, const NodePtr& node,
                                               const UploadSource& source,
                                               const format::Attributes& attrs,
                                               store::WriteCondition condition, UploadStats& stats);
  // Copies the object now at `key` (another writer's) to a conflict name (`aside`, "" when it
  // is gone); returns the condition under which ours may replace exactly that version.
  Result<store::WriteCondition> keepWinnerAside(const std::string& key, std::string& aside);
  Result<std::string> conflictKeyFor(const std::string& path);
  // The condition that makes a write replace exactly the version `base_etag` ("" for none).
  store::WriteCondition replaceCondition(const std::string& base_etag) const {
    store::WriteCondition condition;
    if (!base_etag.empty() && caps_.conditional_put_if_match) {
      condition.if_match = base_etag;
    } else if (base_etag.empty() && caps_.conditional_put_if_none_match) {
      condition.if_none_match = true;
    }
    return condition;
  }
  Status flushNode(const NodePtr& node);
  // The open file of a handle whose access mode is not `refused` (else EBADF).
  Result<std::pair<Handle, FilePtr>> openFileOf(HandleId handle, int refused, const char* refusal) {
    S3C_ASSIGN_OR_RETURN(Handle h, handleOf(handle));
    if ((h.flags & O_ACCMODE) == refused) {
      return errnoError(ErrorKind::kInvalidArgument, EBADF, refusal);
    }
    std::lock_guard lock(table_mutex_);
    if (h.node->file == nullptr) {
      return errnoError(ErrorKind::kInvalidArgument, EBADF, "file not open");
    }
    FilePtr file = h.node->file;
    return std::make_pair(std::move(h), std::move(file));
  }
  // A server-side copy of the object at from_key to to_key with its attribute block re-sealed
  // for to_key (a block is bound to its key), if from_key is still the version a HEAD saw.
  // Returns what that HEAD saw.
  Result<store::ObjectInfo> copyResealed(const std::string& from_key, const std::string& to_key);
  // After a failed upload: syncs the node's staged chunks, its journal and the staging folder to
  // the local disk (durability.cpp).
  Status keepStagedDurably(const NodePtr& node);
  Result<Handle> handleOf(HandleId handle) {
    std::lock_guard lock(table_mutex_);
    auto found = handles_.find(handle);
    if (found == handles_.end()) {
      return errnoError(ErrorKind::kInvalidArgument, EBADF, "unknown file handle");
    }
    return found->second;
  }
  void setSizeAttrs(const NodePtr& node, uint64_t size, bool touch) {
    std::lock_guard lock(table_mutex_);
    node->attrs.size = size;
    if (touch) node->attrs.mtime_ns = node->attrs.ctime_ns = nowNs();
  }

  // ---- namespace ----
  Status removeObjectOf(const NodePtr& node, const std::string& path);
  Status moveFile(const NodePtr& node, const std::string& from, const std::string& to);
  Status moveTree(const std::string& from, const std::string& to);
  Status moveObject(const std::string& from_key, const std::string& to_key);
  Result<bool> directoryIsEmpty(const std::string& path);
  Status listDirectory(DirHandle& dir);
  // readdirplus: makes the attributes of entries [from, to) of the listing fresh, and those of
  // a lookahead window after them (kAttrLookahead), with parallel HEADs.
  Status fetchListedAttributes(DirHandle& dir, size_t from, size_t to);
  bool listingRevalidatesLocked(const Node& node, const store::ObjectInfo& listed) const;
  // The node of a listed name (created, attributes unknown, when the table has none).
  NodePtr listedChildLocked(Node& dir, const std::string& name, uint32_t type) {
    NodePtr node = childLocked(dir.ino, name);
    if (node != nullptr) return node;
    node = std::make_shared<Node>();
    node->ino = next_ino_++;
    node->parent = dir.ino;
    node->name = name;
    if (type == S_IFDIR) {
      node->attrs = defaultDirAttributes();
      node->implicit_dir = true;
    }
    nodes_[node->ino] = node;
    children_[{dir.ino, name}] = node->ino;
    ++dir.children;
    return node;
  }

  std::shared_ptr<volume::Volume> volume_;
  const FilesystemOptions options_;
  ErrnoMappingStore mapped_store_;
  store::ObjectStore& store_;
  const volume::VolumeObjects& objects_;
  const format::ChunkLayout layout_;
  const store::Capabilities caps_;
  cache::BlockCache cache_;
  Uploader uploader_;
  const int64_t start_ns_ = nowNs();

  // Lock order: namespace_mutex_ → DirHandle::mutex → OpenFile::mutex → table_mutex_
  // (docs/ARCHITECTURE.md). Namespace changes hold the
  // namespace mutex exclusively across their store calls (they are serialised); lookups,
  // listings and uploads hold it shared. The table mutex is never held across a store call.
  std::shared_mutex namespace_mutex_;
  std::mutex table_mutex_;
  std::unordered_map<InodeId, NodePtr> nodes_;
  std::map<std::pair<InodeId, std::string>, InodeId> children_;
  std::map<std::pair<InodeId, std::string>, Clock::time_point> negative_;
  std::unordered_map<HandleId, Handle> handles_;
  std::unordered_map<HandleId, std::shared_ptr<DirHandle>> dir_handles_;
  InodeId next_ino_ = kRootInode + 1;
  HandleId next_handle_ = 1;

  std::mutex foreign_mutex_;
  std::unordered_set<std::string> logged_foreign_;

  InflightChunks inflight_;
  // Last: destroyed first, so no readahead runs once the rest is gone.
  BackgroundTasks readahead_{kReadaheadThreads, kReadaheadQueue};
};

}  // namespace s3cryptfs::fs
