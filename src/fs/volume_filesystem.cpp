#include "s3cryptfs/fs/volume_filesystem.h"

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

#include "errno_mapping_store.h"
#include "nodes.h"
#include "parallel.h"
#include "uploader.h"

namespace s3cryptfs::fs {

namespace {

constexpr int kXattrCreate = 1;
constexpr int kXattrReplace = 2;
// Readahead grows by doubling on sequential reads up to this many bytes.
constexpr uint64_t kMaxReadaheadBytes = uint64_t{8} << 20;
// Chunks per ranged GET when several ranges are fetched in parallel.
constexpr uint64_t kChunksPerFetch = 16;
constexpr uint32_t kFetchConcurrency = 4;
// Parallel HEADs of a readdirplus page.
constexpr uint32_t kHeadConcurrency = 16;
// Foreign keys remembered so each is logged once; beyond this they are no longer logged.
constexpr size_t kMaxLoggedForeignKeys = 10000;

int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Timespec toTimespec(int64_t ns) {
  int64_t sec = ns / 1000000000;
  int64_t nsec = ns % 1000000000;
  if (nsec < 0) {
    nsec += 1000000000;
    --sec;
  }
  return {sec, nsec};
}

int64_t toNs(const Timespec& t) {
  return t.sec * 1000000000 + t.nsec;
}

Error errnoError(ErrorKind kind, int err, std::string message) {
  return Error(kind, err, std::move(message));
}

std::string childPath(const std::string& parent, std::string_view name) {
  return parent == "/" ? "/" + std::string(name) : parent + "/" + std::string(name);
}

// One path component as the kernel hands it over; the codec checks the rest (reserved names).
Status checkName(std::string_view name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string_view::npos ||
      name.find('\0') != std::string_view::npos) {
    return Error(ErrorKind::kInvalidArgument, "invalid file name");
  }
  if (name.size() > format::kMaxNameBytes) return Error(ErrorKind::kNameTooLong, "name too long");
  return ok();
}

bool isLostRace(const Error& error) {
  return error.kind() == ErrorKind::kPreconditionFailed;
}

}  // namespace

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
    std::mutex mutex;
  };
  // What the store says about one path.
  struct Probe {
    bool found = false;
    format::Attributes attrs;
    std::string etag;
    bool implicit_dir = false;
    bool sidecar = false;
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
      node->attrs = probe.attrs;
      node->etag = probe.etag;
      node->implicit_dir = probe.implicit_dir;
      node->sidecar = probe.sidecar;
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
  // Re-reads a node's attributes when stale (or always with force, e.g. after a lost race).
  Status refreshNode(const NodePtr& node, bool force = false);
  Result<NodePtr> lookupChild(InodeId parent, std::string_view name);
  Result<NodePtr> directoryNode(InodeId ino);
  Status persistAttributes(const NodePtr& node);
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
  Status flushNode(const NodePtr& node);
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
};

// ===================================================================== probing the store

void VolumeFilesystem::logForeign(const std::string& key, const Error& error) {
  std::lock_guard lock(foreign_mutex_);
  if (logged_foreign_.size() >= kMaxLoggedForeignKeys) return;
  if (logged_foreign_.insert(key).second) {
    log::warn("skipping object {} in {}: not an s3cryptfs object of this volume ({})", key,
              store_.describe(), error.message());
  }
}

Result<VolumeFilesystem::Probe> VolumeFilesystem::probeObject(const std::string& key,
                                                              const store::ObjectInfo& info) {
  auto attrs = ErrnoMappingStore::map(objects_.openFromMetadata(key, info.metadata));
  if (!attrs) {
    if (attrs.error().kind() == ErrorKind::kNotFound) {
      logForeign(key, attrs.error());
      return Probe{};
    }
    log::error("object {}: attribute block does not open: {}", key, attrs.error().describe());
    return attrs.error().withContext("object " + key);
  }
  auto plain = layout_.plainSize(info.size);
  if (!plain || *plain != attrs->size) {
    log::error("object {}: its size does not match its attribute block", key);
    return Error(ErrorKind::kCorrupt, "object " + key + ": size does not match its attributes");
  }
  Probe probe;
  probe.found = true;
  probe.attrs = std::move(attrs).value();
  probe.etag = info.etag;
  probe.sidecar = volume::VolumeObjects::usesSidecar(info.metadata);
  return probe;
}

Result<VolumeFilesystem::Probe> VolumeFilesystem::probeMarker(const std::string& key,
                                                              const store::ObjectInfo& info) {
  auto attrs = ErrnoMappingStore::map(objects_.openFromMetadata(key, info.metadata));
  if (!attrs) {
    log::error("directory marker {}: attribute block does not open: {}", key,
               attrs.error().describe());
    return attrs.error().withContext("directory marker " + key);
  }
  if (attrs->kind != format::NodeKind::kDirectory) {
    return Error(ErrorKind::kCorrupt, "directory marker " + key + " describes no directory");
  }
  Probe probe;
  probe.found = true;
  probe.attrs = std::move(attrs).value();
  probe.etag = info.etag;
  probe.sidecar = volume::VolumeObjects::usesSidecar(info.metadata);
  return probe;
}

Result<VolumeFilesystem::Probe> VolumeFilesystem::listProbe(const std::string& path) {
  S3C_ASSIGN_OR_RETURN(std::string prefix, objects_.listingPrefix(path));
  store::ListOptions options;
  options.prefix = prefix;
  options.delimiter = "/";
  options.max_keys = 1;
  S3C_ASSIGN_OR_RETURN(store::ListPage page, store_.list(options));
  Probe probe;
  if (page.objects.empty() && page.common_prefixes.empty()) return probe;
  probe.found = true;
  probe.implicit_dir = true;
  probe.attrs = defaultDirAttributes();
  return probe;
}

Result<VolumeFilesystem::Probe> VolumeFilesystem::probe(const std::string& path) {
  if (path == "/") {
    S3C_ASSIGN_OR_RETURN(std::string marker, objects_.directoryMarkerKey("/"));
    auto head = store_.head(marker);
    Probe root;
    root.found = true;
    root.attrs = defaultDirAttributes();
    root.implicit_dir = true;
    if (head) {
      S3C_ASSIGN_OR_RETURN(Probe probed, probeMarker(marker, *head));
      if (probed.found) return probed;
    } else if (head.error().kind() != ErrorKind::kNotFound) {
      return head.error();
    }
    return root;
  }
  S3C_ASSIGN_OR_RETURN(std::string key, objects_.objectKey(path));
  // The object and the directory below the name are asked for at once (one round trip for a
  // miss, the common case before a create); the marker is read only when the directory exists.
  auto below = std::async(std::launch::async, [this, &path] { return listProbe(path); });
  auto head = store_.head(key);
  auto listed = below.get();
  if (head) {
    S3C_ASSIGN_OR_RETURN(Probe probed, probeObject(key, *head));
    if (probed.found) return probed;
  } else if (head.error().kind() != ErrorKind::kNotFound) {
    return head.error();
  }
  if (!listed) return listed.error();
  if (!listed->found) return listed;
  S3C_ASSIGN_OR_RETURN(std::string marker, objects_.directoryMarkerKey(path));
  auto marker_head = store_.head(marker);
  if (marker_head) {
    S3C_ASSIGN_OR_RETURN(Probe probed, probeMarker(marker, *marker_head));
    if (probed.found) return probed;
  } else if (marker_head.error().kind() != ErrorKind::kNotFound) {
    return marker_head.error();
  }
  return listed;  // a directory without a marker
}

Status VolumeFilesystem::refreshNode(const NodePtr& node, bool force) {
  std::string path;
  {
    std::lock_guard lock(table_mutex_);
    if ((!force && freshLocked(*node)) || node->unlinked) return ok();
    path = pathLocked(*node);
  }
  S3C_ASSIGN_OR_RETURN(Probe probed, probe(path));
  std::lock_guard lock(table_mutex_);
  if (!probed.found) {
    if (node->ino != kRootInode) detachLocked(*node);
    return Error(ErrorKind::kNotFound, "no longer exists");
  }
  if (node->attrs_known && probed.attrs.kind != node->attrs.kind) {
    detachLocked(*node);
    return errnoError(ErrorKind::kNotFound, ESTALE, "replaced by another kind of node");
  }
  if (node->file == nullptr || force) {
    node->attrs = probed.attrs;
    node->etag = probed.etag;
    node->implicit_dir = probed.implicit_dir;
    node->sidecar = probed.sidecar;
  }
  node->attrs_known = true;
  node->fetched = Clock::now();
  return ok();
}

Result<VolumeFilesystem::NodePtr> VolumeFilesystem::directoryNode(InodeId ino) {
  S3C_ASSIGN_OR_RETURN(NodePtr node, nodeOf(ino));
  S3C_RETURN_IF_ERROR(refreshNode(node));
  std::lock_guard lock(table_mutex_);
  if (!node->isDir()) return Error(ErrorKind::kNotDirectory, "not a directory");
  return node;
}

Result<VolumeFilesystem::NodePtr> VolumeFilesystem::lookupChild(InodeId parent,
                                                                std::string_view name) {
  S3C_RETURN_IF_ERROR(checkName(name));
  S3C_ASSIGN_OR_RETURN(NodePtr dir, directoryNode(parent));
  std::string path;
  {
    std::lock_guard lock(table_mutex_);
    NodePtr known = childLocked(parent, name);
    if (known != nullptr && freshLocked(*known)) return known;
    auto negative = negative_.find({parent, std::string(name)});
    if (known == nullptr && negative != negative_.end() &&
        Clock::now() - negative->second < options_.negative_ttl) {
      return Error(ErrorKind::kNotFound, "no such entry");
    }
    path = childPath(pathLocked(*dir), name);
  }
  S3C_ASSIGN_OR_RETURN(Probe probed, probe(path));
  std::lock_guard lock(table_mutex_);
  if (!probed.found) {
    if (NodePtr known = childLocked(parent, name); known != nullptr && known->file == nullptr) {
      detachLocked(*known);
    } else if (known != nullptr) {
      return known;  // open here; our view wins until it is closed
    }
    if (options_.negative_ttl.count() > 0) negative_[{parent, std::string(name)}] = Clock::now();
    return Error(ErrorKind::kNotFound, "no such entry");
  }
  return installLocked(parent, name, probed);
}

// ===================================================================== attributes

Result<Entry> VolumeFilesystem::lookup(InodeId parent, std::string_view name) {
  std::shared_lock ns(namespace_mutex_);
  S3C_ASSIGN_OR_RETURN(NodePtr node, lookupChild(parent, name));
  std::lock_guard lock(table_mutex_);
  return entryLocked(*node);
}

void VolumeFilesystem::forget(InodeId ino, uint64_t count) {
  std::lock_guard lock(table_mutex_);
  auto found = nodes_.find(ino);
  if (found == nodes_.end() || ino == kRootInode) return;
  Node& node = *found->second;
  node.lookups = count >= node.lookups ? 0 : node.lookups - count;
  maybeEraseLocked(ino);
}

Result<Attr> VolumeFilesystem::getattr(InodeId ino) {
  std::shared_lock ns(namespace_mutex_);
  S3C_ASSIGN_OR_RETURN(NodePtr node, nodeOf(ino));
  S3C_RETURN_IF_ERROR(refreshNode(node));
  std::lock_guard lock(table_mutex_);
  return toAttr(*node);
}

Result<store::ObjectInfo> VolumeFilesystem::rewriteMetadata(const std::string& key,
                                                            const store::Metadata& metadata,
                                                            const std::string& etag) {
  if (caps_.copy_onto_itself) {
    store::CopyOptions copy;
    copy.replace_metadata = metadata;
    copy.source_if_match = etag;
    auto copied = store_.copy(key, key, copy);
    if (copied || copied.error().kind() != ErrorKind::kUnsupported) return copied;
  }
  // No copy onto itself: read the body and put it back with the new metadata.
  S3C_ASSIGN_OR_RETURN(store::GetResult got, store_.get(key, std::nullopt));
  if (got.info.etag != etag) {
    return Error(ErrorKind::kPreconditionFailed, "object " + key + " changed meanwhile");
  }
  store::PutOptions put{metadata, {}};
  if (caps_.conditional_put_if_match) put.condition.if_match = etag;
  return store_.put(key, got.body, put);
}

// Writes node->attrs to the store. The namespace mutex is held (exclusively) by the caller.
Status VolumeFilesystem::persistAttributes(const NodePtr& node) {
  std::string path;
  format::Attributes attrs;
  std::string etag;
  bool sidecar = false;
  FilePtr file;
  {
    std::lock_guard lock(table_mutex_);
    path = pathLocked(*node);
    attrs = node->attrs;
    etag = node->etag;
    sidecar = node->sidecar;
    file = node->file;
  }
  if (attrs.kind == format::NodeKind::kDirectory) {
    S3C_ASSIGN_OR_RETURN(std::string marker, objects_.directoryMarkerKey(path));
    S3C_ASSIGN_OR_RETURN(store::Metadata metadata,
                         ErrnoMappingStore::map(objects_.sealToMetadata(marker, attrs)));
    S3C_ASSIGN_OR_RETURN(store::ObjectInfo info, store_.put(marker, {}, {metadata, {}}));
    bool now_sidecar = volume::VolumeObjects::usesSidecar(metadata);
    if (sidecar && !now_sidecar) (void)store_.remove(objects_.sidecarKey(marker));
    std::lock_guard lock(table_mutex_);
    node->etag = info.etag;
    node->implicit_dir = false;
    node->sidecar = now_sidecar;
    node->fetched = Clock::now();
    return ok();
  }
  if (file != nullptr) {
    std::lock_guard file_lock(file->mutex);
    if (file->unlinked) return ok();
    if (!file->dirty.empty()) return journalLocked(*file, node);  // uploaded with the data
    etag = file->remote_etag;
  }
  S3C_ASSIGN_OR_RETURN(std::string key, objects_.objectKey(path));
  S3C_ASSIGN_OR_RETURN(store::Metadata metadata,
                       ErrnoMappingStore::map(objects_.sealToMetadata(key, attrs)));
  auto info = rewriteMetadata(key, metadata, etag);
  if (!info) {
    if (isLostRace(info.error())) {
      log::warn("inode {}: object {} was changed by another writer; attribute change dropped",
                node->ino, key);
      std::lock_guard lock(table_mutex_);
      node->attrs_known = false;
    }
    return info.error();
  }
  bool now_sidecar = volume::VolumeObjects::usesSidecar(metadata);
  if (sidecar && !now_sidecar) (void)store_.remove(objects_.sidecarKey(key));
  if (file != nullptr) {
    std::lock_guard file_lock(file->mutex);
    file->remote_etag = info->etag;
  }
  std::lock_guard lock(table_mutex_);
  node->etag = info->etag;
  node->sidecar = now_sidecar;
  node->fetched = Clock::now();
  return ok();
}

Result<Attr> VolumeFilesystem::setattr(InodeId ino, const SetAttrRequest& request,
                                       const Caller& /*caller*/) {
  std::unique_lock ns(namespace_mutex_);
  S3C_ASSIGN_OR_RETURN(NodePtr node, nodeOf(ino));
  S3C_RETURN_IF_ERROR(refreshNode(node));
  if (request.size) {
    bool is_file = false;
    {
      std::lock_guard lock(table_mutex_);
      is_file = node->attrs.kind == format::NodeKind::kFile && S_ISREG(node->attrs.mode);
      if (node->isDir()) return Error(ErrorKind::kIsDirectory, "cannot truncate a directory");
    }
    if (!is_file) return Error(ErrorKind::kInvalidArgument, "can only truncate regular files");
    S3C_ASSIGN_OR_RETURN(FilePtr file, attachFile(node));
    Status resized = [&]() -> Status {
      std::lock_guard file_lock(file->mutex);
      S3C_RETURN_IF_ERROR(resizeLocked(*file, node, *request.size));
      setSizeAttrs(node, file->size, true);
      return journalLocked(*file, node);
    }();
    // A truncate of a file nobody has open is uploaded now; an open file's at its close.
    Status uploaded = ok();
    if (resized) {
      bool only_us = false;
      {
        std::lock_guard lock(table_mutex_);
        only_us = node->open_handles == 1;  // our own attach above
      }
      if (only_us) uploaded = flushNode(node);
    }
    bool keep = false;
    {
      std::lock_guard file_lock(file->mutex);
      keep = !file->unlinked && !file->dirty.empty();
    }
    detachFile(node, keep);
    S3C_RETURN_IF_ERROR(resized);
    S3C_RETURN_IF_ERROR(uploaded);
  }
  bool changed = false;
  {
    std::lock_guard lock(table_mutex_);
    format::Attributes& a = node->attrs;
    int64_t now = nowNs();
    if (request.mode) {
      a.mode = (a.mode & S_IFMT) | (*request.mode & 07777);
      changed = true;
    }
    if (request.uid) {
      a.uid = *request.uid;
      changed = true;
    }
    if (request.gid) {
      a.gid = *request.gid;
      changed = true;
    }
    if (request.atime_now) {
      a.atime_ns = now;
      changed = true;
    } else if (request.atime) {
      a.atime_ns = toNs(*request.atime);
      changed = true;
    }
    if (request.mtime_now) {
      a.mtime_ns = now;
      changed = true;
    } else if (request.mtime) {
      a.mtime_ns = toNs(*request.mtime);
      changed = true;
    }
    if (changed || request.size) a.ctime_ns = now;
  }
  if (changed) S3C_RETURN_IF_ERROR(persistAttributes(node));
  std::lock_guard lock(table_mutex_);
  return toAttr(*node);
}

// ===================================================================== creating nodes

Status VolumeFilesystem::putNew(const std::string& key, ByteSpan body,
                                const store::Metadata& metadata) {
  store::PutOptions put{metadata, {}};
  if (caps_.conditional_put_if_none_match) {
    put.condition.if_none_match = true;
  } else if (store_.head(key)) {
    return Error(ErrorKind::kAlreadyExists, "exists");
  }
  auto written = store_.put(key, body, put);
  if (!written) {
    if (isLostRace(written.error())) return Error(ErrorKind::kAlreadyExists, "exists");
    return written.error();
  }
  return ok();
}

Result<Entry> VolumeFilesystem::mkdir(InodeId parent, std::string_view name, uint32_t mode,
                                      const Caller& caller) {
  std::unique_lock ns(namespace_mutex_);
  auto existing = lookupChild(parent, name);
  if (existing) return Error(ErrorKind::kAlreadyExists, "exists");
  if (existing.error().kind() != ErrorKind::kNotFound || existing.error().errnoValue() != ENOENT) {
    return existing.error();
  }
  S3C_ASSIGN_OR_RETURN(NodePtr dir, nodeOf(parent));
  std::string path = childPath(pathOf(*dir), name);
  S3C_ASSIGN_OR_RETURN(std::string marker, objects_.directoryMarkerKey(path));
  S3C_RETURN_IF_ERROR(objects_.objectKey(path));  // name checks (length, characters)
  Probe made;
  made.found = true;
  made.attrs.kind = format::NodeKind::kDirectory;
  made.attrs.mode = S_IFDIR | (mode & 07777 & ~caller.umask);
  made.attrs.uid = caller.uid;
  made.attrs.gid = caller.gid;
  made.attrs.atime_ns = made.attrs.mtime_ns = made.attrs.ctime_ns = nowNs();
  S3C_ASSIGN_OR_RETURN(store::Metadata metadata,
                       ErrnoMappingStore::map(objects_.sealToMetadata(marker, made.attrs)));
  S3C_RETURN_IF_ERROR(putNew(marker, {}, metadata));
  std::lock_guard lock(table_mutex_);
  NodePtr node = installLocked(parent, name, made);
  return entryLocked(*node);
}

Result<VolumeFilesystem::NodePtr> VolumeFilesystem::createFileObject(
    InodeId parent, std::string_view name, uint32_t mode, const Caller& caller,
    format::NodeKind kind, std::string_view target, std::optional<format::FileCipher>* cipher_out) {
  S3C_ASSIGN_OR_RETURN(NodePtr dir, nodeOf(parent));
  std::string path = childPath(pathOf(*dir), name);
  S3C_ASSIGN_OR_RETURN(std::string key, objects_.objectKey(path));
  S3C_ASSIGN_OR_RETURN(format::FileCipher cipher, objects_.newFileCipher());
  S3C_ASSIGN_OR_RETURN(Bytes body, format::sealObjectWith(cipher, asBytes(target)));
  Probe made;
  made.found = true;
  made.attrs.kind = kind;
  made.attrs.mode = mode;
  made.attrs.uid = caller.uid;
  made.attrs.gid = caller.gid;
  made.attrs.atime_ns = made.attrs.mtime_ns = made.attrs.ctime_ns = nowNs();
  made.attrs.size = target.size();
  made.attrs.content_key_version = cipher.header().key_version;
  made.attrs.file_id = cipher.header().file_id;
  if (kind == format::NodeKind::kSymlink) made.attrs.symlink_target = std::string(target);
  S3C_ASSIGN_OR_RETURN(store::Metadata metadata,
                       ErrnoMappingStore::map(objects_.sealToMetadata(key, made.attrs)));
  store::PutOptions put{metadata, {}};
  if (caps_.conditional_put_if_none_match) put.condition.if_none_match = true;
  auto written = store_.put(key, body, put);
  if (!written) {
    if (isLostRace(written.error())) return Error(ErrorKind::kAlreadyExists, "exists");
    return written.error();
  }
  made.etag = written->etag;
  made.sidecar = volume::VolumeObjects::usesSidecar(metadata);
  if (cipher_out != nullptr) *cipher_out = std::move(cipher);
  std::lock_guard lock(table_mutex_);
  return installLocked(parent, name, made);
}

Result<Entry> VolumeFilesystem::mknod(InodeId parent, std::string_view name, uint32_t mode,
                                      const Caller& caller) {
  if (!S_ISFIFO(mode) && !S_ISREG(mode)) {
    return Error(ErrorKind::kUnsupported, "only FIFOs and regular files can be made with mknod");
  }
  std::unique_lock ns(namespace_mutex_);
  auto existing = lookupChild(parent, name);
  if (existing) return Error(ErrorKind::kAlreadyExists, "exists");
  if (existing.error().errnoValue() != ENOENT) return existing.error();
  uint32_t bits = (mode & S_IFMT) | (mode & 07777 & ~caller.umask);
  S3C_ASSIGN_OR_RETURN(NodePtr node,
                       createFileObject(parent, name, bits, caller, format::NodeKind::kFile, ""));
  std::lock_guard lock(table_mutex_);
  return entryLocked(*node);
}

Result<Entry> VolumeFilesystem::symlink(InodeId parent, std::string_view name,
                                        std::string_view target, const Caller& caller) {
  if (target.empty() || target.size() > format::kMaxSymlinkTargetBytes) {
    return errnoError(ErrorKind::kNameTooLong, target.empty() ? ENOENT : ENAMETOOLONG,
                      "symlink target must be 1..4095 bytes");
  }
  std::unique_lock ns(namespace_mutex_);
  auto existing = lookupChild(parent, name);
  if (existing) return Error(ErrorKind::kAlreadyExists, "exists");
  if (existing.error().errnoValue() != ENOENT) return existing.error();
  S3C_ASSIGN_OR_RETURN(NodePtr node, createFileObject(parent, name, S_IFLNK | 0777, caller,
                                                      format::NodeKind::kSymlink, target));
  std::lock_guard lock(table_mutex_);
  return entryLocked(*node);
}

Result<std::string> VolumeFilesystem::readlink(InodeId ino) {
  std::shared_lock ns(namespace_mutex_);
  S3C_ASSIGN_OR_RETURN(NodePtr node, nodeOf(ino));
  S3C_RETURN_IF_ERROR(refreshNode(node));
  std::lock_guard lock(table_mutex_);
  if (node->attrs.kind != format::NodeKind::kSymlink) {
    return Error(ErrorKind::kInvalidArgument, "not a symlink");
  }
  return node->attrs.symlink_target;
}

Result<Entry> VolumeFilesystem::link(InodeId, InodeId, std::string_view) {
  return errnoError(ErrorKind::kUnsupported, EPERM, "hard links are not supported");
}

Result<Filesystem::Created> VolumeFilesystem::create(InodeId parent, std::string_view name,
                                                     uint32_t mode, int flags,
                                                     const Caller& caller) {
  NodePtr node;
  std::optional<format::FileCipher> fresh_cipher;
  std::string fresh_etag;
  {
    std::unique_lock ns(namespace_mutex_);
    auto existing = lookupChild(parent, name);
    if (existing) {
      if ((flags & O_EXCL) != 0) return Error(ErrorKind::kAlreadyExists, "exists");
      node = *existing;
    } else {
      if (existing.error().errnoValue() != ENOENT) return existing.error();
      uint32_t bits = S_IFREG | (mode & 07777 & ~caller.umask);
      auto made =
          createFileObject(parent, name, bits, caller, format::NodeKind::kFile, "", &fresh_cipher);
      if (!made) {
        if (made.error().kind() != ErrorKind::kAlreadyExists || (flags & O_EXCL) != 0) {
          return made.error();
        }
        {
          std::lock_guard lock(table_mutex_);
          negative_.erase({parent, std::string(name)});
        }
        S3C_ASSIGN_OR_RETURN(node, lookupChild(parent, name));  // created meanwhile
      } else {
        node = *made;
      }
    }
    std::lock_guard lock(table_mutex_);
    ++node->lookups;
    fresh_etag = node->etag;
  }
  auto handle = open(node->ino, flags);
  if (!handle) {
    forget(node->ino, 1);
    return handle.error();
  }
  if (fresh_cipher) {
    FilePtr file;
    {
      std::lock_guard lock(table_mutex_);
      file = node->file;
    }
    if (file != nullptr) {
      std::lock_guard file_lock(file->mutex);
      if (!file->cipher && file->dirty.empty() && file->remote_etag == fresh_etag) {
        file->cipher = std::make_shared<const format::FileCipher>(std::move(*fresh_cipher));
      }
    }
  }
  std::lock_guard lock(table_mutex_);
  return Created{Entry{toAttr(*node), node->generation}, *handle};
}

// ===================================================================== open files

Result<VolumeFilesystem::FilePtr> VolumeFilesystem::attachFile(const NodePtr& node) {
  {
    std::lock_guard lock(table_mutex_);
    if (node->file != nullptr) {
      ++node->open_handles;
      return node->file;
    }
    node->attrs_known = node->attrs_known && Clock::now() - node->fetched < options_.metadata_ttl;
  }
  // Close-to-open: an open sees the newest version (one HEAD unless the TTL says it is fresh).
  S3C_RETURN_IF_ERROR(refreshNode(node));
  std::lock_guard lock(table_mutex_);
  if (node->file != nullptr) {
    ++node->open_handles;
    return node->file;
  }
  auto file = std::make_shared<OpenFile>();
  file->remote_etag = node->etag;
  file->remote_size = node->attrs.size;
  file->size = node->attrs.size;
  node->file = file;
  ++node->open_handles;
  return file;
}

void VolumeFilesystem::detachFile(const NodePtr& node, bool keep_staged) {
  std::lock_guard lock(table_mutex_);
  if (node->open_handles > 0) --node->open_handles;
  if (node->open_handles == 0) {
    // Data whose upload failed stays attached ("parked"): the next open continues from it and
    // the next flush or syncAll retries, rather than showing the old version until a remount.
    if (keep_staged) return;
    node->file = nullptr;
    node->fetched = Clock::now();
    maybeEraseLocked(node->ino);
  }
}

Result<HandleId> VolumeFilesystem::open(InodeId ino, int flags) {
  std::shared_lock ns(namespace_mutex_);
  S3C_ASSIGN_OR_RETURN(NodePtr node, nodeOf(ino));
  S3C_RETURN_IF_ERROR(refreshNode(node));
  {
    std::lock_guard lock(table_mutex_);
    if (node->isDir()) return Error(ErrorKind::kIsDirectory, "is a directory");
    if (node->attrs.kind == format::NodeKind::kSymlink) {
      return errnoError(ErrorKind::kInvalidArgument, ELOOP, "is a symlink");
    }
  }
  S3C_ASSIGN_OR_RETURN(FilePtr file, attachFile(node));
  if ((flags & O_TRUNC) != 0 && (flags & O_ACCMODE) != O_RDONLY) {
    std::lock_guard file_lock(file->mutex);
    if (file->size != 0 || file->dirty.empty()) {
      Status truncated = resizeLocked(*file, node, 0);
      if (truncated) truncated = journalLocked(*file, node);
      if (!truncated) {
        detachFile(node);
        return truncated.error();
      }
      setSizeAttrs(node, 0, true);
    }
  }
  std::lock_guard lock(table_mutex_);
  HandleId id = next_handle_++;
  handles_[id] = Handle{node, flags};
  return id;
}

Status VolumeFilesystem::ensureCipher(OpenFile& file, const NodePtr& node,
                                      uint64_t prefetch_chunks) {
  if (file.cipher) return ok();
  S3C_ASSIGN_OR_RETURN(bool read, readHeader(file, node, prefetch_chunks, false));
  if (read) return ok();
  S3C_RETURN_IF_ERROR(readHeader(file, node, prefetch_chunks, true));
  return ok();
}

Result<bool> VolumeFilesystem::readHeader(OpenFile& file, const NodePtr& node,
                                          uint64_t prefetch_chunks, bool retried) {
  std::string path;
  format::Attributes attrs;
  {
    std::lock_guard lock(table_mutex_);
    path = pathLocked(*node);
    attrs = node->attrs;
  }
  attrs.size = file.remote_size;  // the header belongs to the remote version
  S3C_ASSIGN_OR_RETURN(std::string key, objects_.objectKey(path));
  uint64_t chunks = std::min(prefetch_chunks, layout_.chunkCount(file.remote_size));
  uint64_t length = chunks == 0 ? format::kObjectHeaderSize
                                : layout_.cipherRange({0, chunks}, file.remote_size).end();
  auto got = store_.get(key, store::ByteRange{0, length});
  if (!got) return got.error().withContext("reading the header of " + key);
  if (got->info.etag != file.remote_etag) {
    if (!file.dirty.empty() || retried) {
      return Error(ErrorKind::kPreconditionFailed,
                   "object " + key + " was replaced by another writer while open");
    }
    // Another writer replaced it since our attributes were cached (within the TTL): nothing
    // of the old version was read yet, so this open simply takes the new one (close-to-open).
    S3C_RETURN_IF_ERROR(refreshNode(node, true));
    std::lock_guard lock(table_mutex_);
    file.remote_etag = node->etag;
    file.remote_size = node->attrs.size;
    file.size = node->attrs.size;
    return false;
  }
  auto cipher = objects_.cipherForHeader(got->body);
  if (!cipher) {
    log::error("object {}: header does not open: {}", key, cipher.error().describe());
    return cipher.error().withContext("object " + key);
  }
  if (auto bound = format::checkContentBinding(attrs, cipher->header(), got->info.size); !bound) {
    log::error("object {}: content does not belong to its attributes: {}", key,
               bound.error().describe());
    return bound.error().withContext("object " + key);
  }
  file.cipher = std::make_shared<const format::FileCipher>(std::move(cipher).value());
  if (chunks > 0 && got->body.size() == length) {
    ByteSpan fetched(got->body.data() + format::kObjectHeaderSize,
                     got->body.size() - format::kObjectHeaderSize);
    uint64_t at = 0;
    for (uint64_t i = 0; i < chunks; ++i) {
      uint64_t sealed = layout_.chunkPlainSize(i, file.remote_size) + format::kChunkOverhead;
      bool final = i == layout_.lastChunkIndex(file.remote_size);
      auto opened = file.cipher->openChunk(i, final, fetched.subspan(at, sealed));
      if (!opened) break;  // the read that follows fetches it again and reports it
      cache_.insert(cacheKey(file, i), std::make_shared<const Bytes>(std::move(opened).value()));
      at += sealed;
    }
  }
  return true;
}

Status VolumeFilesystem::fetchRemote(OpenFile& file, const std::string& key, uint64_t first,
                                     uint64_t count, uint64_t required) {
  return fetchChunks(viewOf(file, first, count), key, first, count, required);
}

Status VolumeFilesystem::fetchChunks(const RemoteView& view, const std::string& key, uint64_t first,
                                     uint64_t count, uint64_t required) {
  // Clean chunks below the remote size that are not cached, fetched as runs of at most
  // kChunksPerFetch chunks, several runs in parallel.
  uint64_t remote_chunks = layout_.chunkCount(view.size);
  uint64_t end = std::min(first + count, remote_chunks);
  std::vector<format::ChunkSpan> runs;
  for (uint64_t i = first; i < end;) {
    if (view.skip.contains(i) || cache_.find(cacheKey(*view.cipher, view.etag, i)) != nullptr) {
      ++i;
      continue;
    }
    uint64_t j = i;
    while (j < end && j - i < kChunksPerFetch && !view.skip.contains(j))
      ++j;
    runs.push_back({i, j - i});
    i = j;
  }
  if (runs.empty()) return ok();
  // Per run: the index of the chunk that failed, and why.
  std::vector<std::optional<std::pair<uint64_t, Error>>> errors(runs.size());
  parallelFor(runs.size(), kFetchConcurrency, [&](size_t r) {
    format::ChunkSpan run = runs[r];
    format::ByteRange range = layout_.cipherRange(run, view.size);
    auto got = store_.get(key, store::ByteRange{range.offset, range.length});
    if (!got) {
      errors[r] = {run.first, got.error().withContext("reading " + key)};
      return;
    }
    if (got->info.etag != view.etag) {
      errors[r] = {run.first,
                   Error(ErrorKind::kPreconditionFailed,
                         "object " + key + " was replaced by another writer while open")};
      return;
    }
    // Chunks are opened one by one so a damaged chunk fails only itself.
    uint64_t at = 0;
    for (uint64_t i = run.first; i < run.first + run.count; ++i) {
      uint64_t plain = layout_.chunkPlainSize(i, view.size);
      uint64_t sealed = plain + format::kChunkOverhead;
      if (at + sealed > got->body.size()) {
        errors[r] = {i, Error(ErrorKind::kCorrupt, "object " + key + " is shorter than its size")};
        return;
      }
      bool final = layout_.cipherSize(view.size) == layout_.chunkCipherOffset(i) + sealed;
      auto opened = view.cipher->openChunk(i, final, ByteSpan(got->body.data() + at, sealed));
      at += sealed;
      if (!opened) {
        log::error("object {}: {}", key, opened.error().message());
        errors[r] = {i, opened.error().withContext("object " + key)};
        return;  // the chunks before it are cached
      }
      cache_.insert(cacheKey(*view.cipher, view.etag, i),
                    std::make_shared<const Bytes>(std::move(opened).value()));
    }
  });
  for (auto& error : errors) {
    if (error && error->first < first + required) return error->second;
  }
  return ok();
}

Result<std::shared_ptr<const Bytes>> VolumeFilesystem::chunkPlain(OpenFile& file,
                                                                  const std::string& key,
                                                                  uint64_t index) {
  uint64_t length = layout_.chunkPlainSize(index, file.size);
  if (file.dirty.contains(index)) {
    Bytes sealed(length + format::kChunkOverhead);
    S3C_RETURN_IF_ERROR(file.staging->read(layout_.chunkCipherOffset(index), sealed));
    bool final = index == layout_.lastChunkIndex(file.size);
    auto opened = file.cipher->openChunk(index, final, sealed);
    if (!opened) {
      log::error("staging file {}: {}", file.staging->dataPath(), opened.error().message());
      return opened.error();
    }
    return std::make_shared<const Bytes>(std::move(opened).value());
  }
  if (length == 0 && (index > 0 || file.size == 0) &&
      index >= layout_.chunkCount(file.remote_size)) {
    return std::make_shared<const Bytes>();
  }
  if (auto cached = cache_.find(cacheKey(file, index))) return cached;
  S3C_RETURN_IF_ERROR(fetchRemote(file, key, index, 1, 1));
  if (auto cached = cache_.find(cacheKey(file, index))) return cached;
  // Fetched but already evicted (a tiny cache): fetch once more into a private buffer.
  format::ByteRange range = layout_.cipherRange({index, 1}, file.remote_size);
  S3C_ASSIGN_OR_RETURN(store::GetResult got,
                       store_.get(key, store::ByteRange{range.offset, range.length}));
  S3C_ASSIGN_OR_RETURN(Bytes plain, file.cipher->openChunkRange(
                                        index, got.body, layout_.cipherSize(file.remote_size)));
  return std::make_shared<const Bytes>(std::move(plain));
}

Status VolumeFilesystem::stageChunk(OpenFile& file, uint64_t index, ByteSpan plain) {
  if (file.staging == nullptr) {
    S3C_ASSIGN_OR_RETURN(file.staging, StagingFile::create(options_.staging_dir));
  }
  bool final = index == layout_.lastChunkIndex(file.size);
  S3C_ASSIGN_OR_RETURN(Bytes sealed, file.cipher->sealChunk(index, final, plain));
  S3C_RETURN_IF_ERROR(file.staging->write(layout_.chunkCipherOffset(index), sealed));
  file.dirty.insert(index);
  return ok();
}

// Rewrites chunks [first, last] for a file that is becoming new_size bytes long, applying
// `patch` at plaintext offset patch_offset. Each chunk is read (unless the patch covers it),
// resized to its length under new_size (zeros past the old end), patched and sealed once.
Status VolumeFilesystem::rewriteChunks(OpenFile& file, const std::string& key, uint64_t new_size,
                                       uint64_t first, uint64_t last, uint64_t patch_offset,
                                       ByteSpan patch) {
  const uint64_t old_size = file.size;
  if (file.remote_size > 0 || !file.dirty.empty()) {
    // Prefetch the clean chunks this write needs in one go (parallel ranged GETs).
    bool any_clean = false;
    for (uint64_t i = first; i <= last && !any_clean; ++i) {
      any_clean = !file.dirty.contains(i) && i < layout_.chunkCount(file.remote_size);
    }
    if (any_clean) {
      S3C_RETURN_IF_ERROR(fetchRemote(file, key, first, last - first + 1, last - first + 1));
    }
  }
  for (uint64_t i = first; i <= last; ++i) {
    uint64_t chunk_start = layout_.chunkPlainOffset(i);
    uint64_t new_length = layout_.chunkPlainSize(i, new_size);
    uint64_t patch_from = std::max(chunk_start, patch_offset);
    uint64_t patch_to = std::min(chunk_start + new_length, patch_offset + patch.size());
    bool covered = patch_from == chunk_start && patch_to == chunk_start + new_length;
    Bytes plain;
    if (!covered && chunk_start < old_size) {
      S3C_ASSIGN_OR_RETURN(auto current, chunkPlain(file, key, i));
      plain = *current;
    }
    plain.resize(new_length, 0);
    if (patch_from < patch_to) {
      std::memcpy(plain.data() + (patch_from - chunk_start),
                  patch.data() + (patch_from - patch_offset), patch_to - patch_from);
    }
    uint64_t saved = file.size;
    file.size = new_size;  // stageChunk seals the final flag for the new size
    Status staged = stageChunk(file, i, plain);
    file.size = saved;
    S3C_RETURN_IF_ERROR(staged);
  }
  return ok();
}

Status VolumeFilesystem::resizeLocked(OpenFile& file, const NodePtr& node, uint64_t new_size) {
  if (new_size == 0) {
    // A rewrite from scratch gets a new file id, which resets its nonce budget (FORMAT §4.3).
    S3C_ASSIGN_OR_RETURN(format::FileCipher cipher, objects_.newFileCipher());
    file.cipher = std::make_shared<const format::FileCipher>(std::move(cipher));
    file.dirty.clear();
    file.size = 0;
    return stageChunk(file, 0, {});
  }
  S3C_RETURN_IF_ERROR(ensureCipher(file, node));
  S3C_ASSIGN_OR_RETURN(std::string key, keyOf(node));
  if (new_size == file.size) return ok();
  uint64_t new_last = layout_.lastChunkIndex(new_size);
  if (new_size < file.size) {
    // Chunks past the new end are dropped; the new last chunk is cut and sealed as final.
    for (auto it = file.dirty.upper_bound(new_last); it != file.dirty.end();) {
      it = file.dirty.erase(it);
    }
    S3C_RETURN_IF_ERROR(rewriteChunks(file, key, new_size, new_last, new_last, 0, {}));
  } else {
    uint64_t old_last = layout_.lastChunkIndex(file.size);
    S3C_RETURN_IF_ERROR(rewriteChunks(file, key, new_size, old_last, new_last, 0, {}));
  }
  file.size = new_size;
  return ok();
}

Status VolumeFilesystem::journalLocked(OpenFile& file, const NodePtr& node) {
  if (file.staging == nullptr || file.unlinked || file.dirty.empty()) return ok();
  JournalRecord record;
  format::Attributes attrs;
  {
    std::lock_guard lock(table_mutex_);
    record.key = objects_.objectKey(pathLocked(*node)).value_or(std::string());
    attrs = node->attrs;
  }
  if (record.key.empty()) return Error(ErrorKind::kInternal, "file without an object key");
  attrs.size = file.size;
  attrs.content_key_version = file.cipher->header().key_version;
  attrs.file_id = file.cipher->header().file_id;
  record.base_etag = file.remote_etag;
  record.size = file.size;
  ByteSpan header = file.cipher->headerBytes();
  record.header.assign(header.begin(), header.end());
  const format::VolumeKeys* newest = objects_.keyRing().newest();
  S3C_ASSIGN_OR_RETURN(
      record.attributes_text,
      format::sealAttributesText(*newest, volume_->descriptor().cipher, record.key, attrs));
  record.chunks.assign(file.dirty.begin(), file.dirty.end());
  return file.staging->writeJournal(record);
}

Result<size_t> VolumeFilesystem::read(HandleId handle, uint64_t offset, MutableByteSpan out) {
  S3C_ASSIGN_OR_RETURN(Handle h, handleOf(handle));
  if ((h.flags & O_ACCMODE) == O_WRONLY) {
    return errnoError(ErrorKind::kInvalidArgument, EBADF, "not open for reading");
  }
  FilePtr file;
  {
    std::lock_guard lock(table_mutex_);
    file = h.node->file;
  }
  if (file == nullptr) return errnoError(ErrorKind::kInvalidArgument, EBADF, "file not open");
  // Three steps so that readers of one file fetch in parallel: decide what to fetch (locked),
  // fetch and open it into the cache (unlocked), copy out (locked; whatever changed meanwhile,
  // a write or an upload, is then read from staging or fetched again).
  std::string key;
  RemoteView view;
  format::ChunkSpan span;
  uint64_t window = 0;
  {
    std::lock_guard file_lock(file->mutex);
    if (offset >= file->size || out.empty()) return size_t{0};
    uint64_t length = std::min<uint64_t>(out.size(), file->size - offset);
    span = layout_.chunksFor(offset, length);
    S3C_RETURN_IF_ERROR(
        ensureCipher(*file, h.node, span.first == 0 ? std::max<uint64_t>(span.count, 4) : 0));
    S3C_ASSIGN_OR_RETURN(key, keyOf(h.node));
    // Readahead: sequential reads double the window up to kMaxReadaheadBytes. It is fetched
    // in batches (when less than half a window is left ahead), so each fetch is big enough to
    // run as several parallel ranges instead of a trickle of two-chunk GETs.
    window = span.count;
    uint64_t span_end = span.first + span.count;
    if (offset == file->next_sequential && offset != 0) {
      uint64_t max_chunks = std::max<uint64_t>(1, kMaxReadaheadBytes / layout_.chunkSize());
      file->readahead_chunks =
          std::min(max_chunks, std::max<uint64_t>(4, file->readahead_chunks * 2));
      if (span_end + file->readahead_chunks / 2 >= file->prefetched_until) {
        window = span.count + file->readahead_chunks;
        file->prefetched_until = span.first + window;
      }
    } else {
      file->readahead_chunks = 0;
      file->prefetched_until = 0;
    }
    file->next_sequential = offset + length;
    view = viewOf(*file, span.first, window);
  }
  S3C_RETURN_IF_ERROR(fetchChunks(view, key, span.first, window, span.count));
  std::lock_guard file_lock(file->mutex);
  if (offset >= file->size) return size_t{0};  // truncated meanwhile
  S3C_ASSIGN_OR_RETURN(key, keyOf(h.node));    // renamed meanwhile
  uint64_t length = std::min<uint64_t>(out.size(), file->size - offset);
  size_t done = 0;
  for (const format::ChunkRef& ref : layout_.split(offset, length)) {
    S3C_ASSIGN_OR_RETURN(auto plain, chunkPlain(*file, key, ref.index));
    if (plain->size() < ref.offset_in_chunk + ref.length) {
      return Error(ErrorKind::kCorrupt, "object " + key + ": chunk " + std::to_string(ref.index) +
                                            " is shorter than the file size says");
    }
    std::memcpy(out.data() + done, plain->data() + ref.offset_in_chunk, ref.length);
    done += ref.length;
  }
  return done;
}

Result<size_t> VolumeFilesystem::write(HandleId handle, uint64_t offset, ByteSpan data) {
  S3C_ASSIGN_OR_RETURN(Handle h, handleOf(handle));
  if ((h.flags & O_ACCMODE) == O_RDONLY) {
    return errnoError(ErrorKind::kInvalidArgument, EBADF, "not open for writing");
  }
  FilePtr file;
  {
    std::lock_guard lock(table_mutex_);
    file = h.node->file;
  }
  if (file == nullptr) return errnoError(ErrorKind::kInvalidArgument, EBADF, "file not open");
  std::lock_guard file_lock(file->mutex);
  if ((h.flags & O_APPEND) != 0) offset = file->size;
  if (data.empty()) return size_t{0};
  S3C_RETURN_IF_ERROR(ensureCipher(*file, h.node));
  S3C_ASSIGN_OR_RETURN(std::string key, keyOf(h.node));
  uint64_t end = offset + data.size();
  uint64_t new_size = std::max(file->size, end);
  uint64_t first = layout_.chunkIndexOf(offset);
  uint64_t last = layout_.chunkIndexOf(end - 1);
  // Growing the file also rewrites the old last chunk (no longer final, padded) and any gap.
  if (new_size > file->size) first = std::min(first, layout_.lastChunkIndex(file->size));
  size_t dirty_before = file->dirty.size();
  S3C_RETURN_IF_ERROR(rewriteChunks(*file, key, new_size, first, last, offset, data));
  bool grew = new_size != file->size;
  file->size = new_size;
  setSizeAttrs(h.node, new_size, true);
  if (grew || file->dirty.size() != dirty_before) S3C_RETURN_IF_ERROR(journalLocked(*file, h.node));
  return data.size();
}

Status VolumeFilesystem::saveConflict(const NodePtr& node, const std::string& key,
                                      const format::FileCipher& cipher, const UploadSource& source,
                                      std::optional<Bytes> body) {
  std::string path;
  format::Attributes attrs;
  {
    std::lock_guard lock(table_mutex_);
    attrs = node->attrs;
    path = pathLocked(*node);
  }
  attrs.size = source.size;
  attrs.content_key_version = cipher.header().key_version;
  attrs.file_id = cipher.header().file_id;
  S3C_ASSIGN_OR_RETURN(Bytes suffix, crypto::randomBytes(3));
  std::string conflict_path =
      path + ".conflict-" + std::to_string(nowNs() / 1000000000) + "-" + toHex(suffix);
  S3C_ASSIGN_OR_RETURN(std::string conflict_key, objects_.objectKey(conflict_path));
  S3C_ASSIGN_OR_RETURN(store::Metadata metadata,
                       ErrnoMappingStore::map(objects_.sealToMetadata(conflict_key, attrs)));
  if (body) {
    S3C_RETURN_IF_ERROR(putNew(conflict_key, *body, metadata));
  } else if (Uploader::allStaged(source)) {
    UploadTarget target{conflict_key, metadata, {}};
    target.condition.if_none_match = caps_.conditional_put_if_none_match;
    S3C_RETURN_IF_ERROR(uploader_.upload(source, target));
  } else {
    log::error(
        "inode {}: object {} was replaced by another writer and our unchanged parts "
        "went with it; our changes stay in staging file {}",
        node->ino, key, source.staging ? source.staging->dataPath() : "-");
    return Error(ErrorKind::kPreconditionFailed,
                 "lost a race with another writer; the changes stay staged");
  }
  log::warn("inode {}: object {} was replaced by another writer; our version is kept as {}",
            node->ino, key, conflict_key);
  return ok();
}

Status VolumeFilesystem::uploadLocked(OpenFile& file, const NodePtr& node) {
  if (file.unlinked || file.dirty.empty()) return ok();
  format::Attributes attrs;
  {
    std::lock_guard lock(table_mutex_);
    attrs = node->attrs;
  }
  S3C_ASSIGN_OR_RETURN(std::string key, keyOf(node));
  attrs.size = file.size;
  attrs.content_key_version = file.cipher->header().key_version;
  attrs.file_id = file.cipher->header().file_id;
  S3C_ASSIGN_OR_RETURN(store::Metadata metadata,
                       ErrnoMappingStore::map(objects_.sealToMetadata(key, attrs)));
  UploadSource source;
  source.cipher = file.cipher.get();
  source.size = file.size;
  source.dirty = &file.dirty;
  source.staging = file.staging.get();
  source.base_key = key;
  source.base_etag = file.remote_etag;
  UploadTarget target{key, metadata, {}};
  if (!file.remote_etag.empty() && caps_.conditional_put_if_match) {
    target.condition.if_match = file.remote_etag;
  } else if (file.remote_etag.empty() && caps_.conditional_put_if_none_match) {
    target.condition.if_none_match = true;
  }
  Result<store::ObjectInfo> uploaded = Error(ErrorKind::kInternal, "not uploaded");
  std::optional<Bytes> body;
  if (layout_.partCount(file.size, uploader_.chunksPerPart(layout_, file.size)) <= 1) {
    auto assembled = uploader_.assemble(source);
    if (assembled) {
      body = std::move(assembled).value();
      uploaded = store_.put(key, *body, store::PutOptions{metadata, target.condition});
    } else {
      uploaded = assembled.error();
    }
  } else {
    uploaded = uploader_.upload(source, target);
  }
  if (!uploaded) {
    bool lost = isLostRace(uploaded.error()) ||
                (uploaded.error().kind() == ErrorKind::kNotFound && target.condition.if_match);
    if (!lost) return uploaded.error().withContext("uploading " + key);
    S3C_RETURN_IF_ERROR(saveConflict(node, key, *file.cipher, source, std::move(body)));
    // Ours is safe under the conflict name; from now on this file shows the winner's version.
    file.staging->discard();
    file.staging.reset();
    file.dirty.clear();
    file.cipher.reset();
    std::lock_guard lock(table_mutex_);
    node->attrs_known = false;
    node->fetched = {};
    file.remote_etag.clear();
    return ok();
  }
  file.staging->discard();
  file.staging.reset();
  file.dirty.clear();
  file.remote_etag = uploaded->etag;
  file.remote_size = file.size;
  std::lock_guard lock(table_mutex_);
  node->etag = uploaded->etag;
  node->attrs.size = file.size;
  node->attrs.content_key_version = attrs.content_key_version;
  node->attrs.file_id = attrs.file_id;
  node->sidecar = volume::VolumeObjects::usesSidecar(metadata);
  node->fetched = Clock::now();
  return ok();
}

Status VolumeFilesystem::flushNode(const NodePtr& node) {
  FilePtr file;
  {
    std::lock_guard lock(table_mutex_);
    file = node->file;
  }
  if (file == nullptr) return ok();
  std::lock_guard file_lock(file->mutex);
  Status uploaded = uploadLocked(*file, node);
  if (!uploaded) {
    log::error("inode {}: upload failed, data kept in staging: {}", node->ino,
               uploaded.error().describe());
  }
  // After a lost race the open file follows the winner's version.
  if (uploaded && !file->cipher) {
    auto refreshed = refreshNode(node, true);
    std::lock_guard lock(table_mutex_);
    if (refreshed) {
      file->remote_etag = node->etag;
      file->remote_size = node->attrs.size;
      file->size = node->attrs.size;
    }
  }
  if (uploaded) {
    // A parked file (closed while its upload failed) is done now.
    std::lock_guard lock(table_mutex_);
    if (node->open_handles == 0 && node->file == file) {
      node->file = nullptr;
      node->fetched = Clock::now();
      maybeEraseLocked(node->ino);
    }
  }
  return uploaded;
}

Status VolumeFilesystem::flush(HandleId handle) {
  S3C_ASSIGN_OR_RETURN(Handle h, handleOf(handle));
  std::shared_lock ns(namespace_mutex_);
  return flushNode(h.node);
}

Status VolumeFilesystem::fsync(HandleId handle, bool /*datasync*/) {
  return flush(handle);
}

Status VolumeFilesystem::release(HandleId handle) {
  S3C_ASSIGN_OR_RETURN(Handle h, handleOf(handle));
  Status uploaded = ok();
  {
    std::shared_lock ns(namespace_mutex_);
    uploaded = flushNode(h.node);
    FilePtr file;
    bool last = false;
    bool keep = false;
    {
      std::lock_guard lock(table_mutex_);
      handles_.erase(handle);
      file = h.node->file;
      last = h.node->open_handles == 1 && file != nullptr;
    }
    if (last) {
      // Last handle: an unlinked file's staged copy goes with it.
      std::lock_guard file_lock(file->mutex);
      if (file->unlinked && file->staging) {
        file->staging->discard();
        file->staging.reset();
        file->dirty.clear();
      }
      keep = !file->dirty.empty();
    }
    detachFile(h.node, keep);
  }
  return uploaded;
}

// ===================================================================== namespace changes

Status VolumeFilesystem::materializeLocked(OpenFile& file, const NodePtr& node) {
  // Copy every clean chunk's ciphertext into staging (same file id: still valid), so open
  // handles can read an unlinked file after its object is gone.
  S3C_RETURN_IF_ERROR(ensureCipher(file, node));
  S3C_ASSIGN_OR_RETURN(std::string key, keyOf(node));
  uint64_t count = layout_.chunkCount(file.size);
  if (file.staging == nullptr) {
    S3C_ASSIGN_OR_RETURN(file.staging, StagingFile::create(options_.staging_dir));
  }
  for (uint64_t i = 0; i < count;) {
    if (file.dirty.contains(i)) {
      ++i;
      continue;
    }
    // Runs of at most one part's worth of chunks: memory stays bounded for big files.
    uint64_t j = i;
    uint64_t max_run = uploader_.chunksPerPart(layout_, file.size);
    while (j < count && j - i < max_run && !file.dirty.contains(j))
      ++j;
    format::ByteRange range = layout_.cipherRange({i, j - i}, file.size);
    S3C_ASSIGN_OR_RETURN(store::GetResult got,
                         store_.get(key, store::ByteRange{range.offset, range.length}));
    S3C_RETURN_IF_ERROR(file.staging->write(range.offset, got.body));
    for (uint64_t c = i; c < j; ++c)
      file.dirty.insert(c);
    i = j;
  }
  file.unlinked = true;
  file.staging->dropJournal();
  return ok();
}

Status VolumeFilesystem::removeObjectOf(const NodePtr& node, const std::string& path) {
  S3C_ASSIGN_OR_RETURN(std::string key, objects_.objectKey(path));
  bool sidecar = false;
  FilePtr file;
  {
    std::lock_guard lock(table_mutex_);
    sidecar = node->sidecar;
    file = node->file;
  }
  if (file != nullptr) {
    std::lock_guard file_lock(file->mutex);
    S3C_RETURN_IF_ERROR(materializeLocked(*file, node));
  }
  S3C_RETURN_IF_ERROR(store_.remove(key));
  if (sidecar) (void)store_.remove(objects_.sidecarKey(key));
  return ok();
}

Status VolumeFilesystem::unlink(InodeId parent, std::string_view name) {
  std::unique_lock ns(namespace_mutex_);
  S3C_ASSIGN_OR_RETURN(NodePtr node, lookupChild(parent, name));
  std::string path;
  {
    std::lock_guard lock(table_mutex_);
    if (node->isDir()) return errnoError(ErrorKind::kIsDirectory, EISDIR, "is a directory");
    path = pathLocked(*node);
  }
  S3C_RETURN_IF_ERROR(removeObjectOf(node, path));
  std::lock_guard lock(table_mutex_);
  detachLocked(*node);
  if (options_.negative_ttl.count() > 0) negative_[{parent, std::string(name)}] = Clock::now();
  return ok();
}

Result<bool> VolumeFilesystem::directoryIsEmpty(const std::string& path) {
  S3C_ASSIGN_OR_RETURN(std::string prefix, objects_.listingPrefix(path));
  S3C_ASSIGN_OR_RETURN(std::string marker, objects_.directoryMarkerKey(path));
  store::ListOptions options;
  options.prefix = prefix;
  options.delimiter = "/";
  options.max_keys = 2;
  S3C_ASSIGN_OR_RETURN(store::ListPage page, store_.list(options));
  if (!page.common_prefixes.empty()) return false;
  for (const auto& object : page.objects) {
    if (object.key != marker) return false;  // foreign objects count too: never deleted
  }
  return true;
}

Status VolumeFilesystem::rmdir(InodeId parent, std::string_view name) {
  std::unique_lock ns(namespace_mutex_);
  S3C_ASSIGN_OR_RETURN(NodePtr node, lookupChild(parent, name));
  std::string path;
  bool sidecar = false;
  {
    std::lock_guard lock(table_mutex_);
    if (!node->isDir()) return Error(ErrorKind::kNotDirectory, "not a directory");
    path = pathLocked(*node);
    sidecar = node->sidecar;
  }
  S3C_ASSIGN_OR_RETURN(bool empty, directoryIsEmpty(path));
  if (!empty) return Error(ErrorKind::kNotEmpty, "directory not empty");
  S3C_ASSIGN_OR_RETURN(std::string marker, objects_.directoryMarkerKey(path));
  S3C_RETURN_IF_ERROR(store_.remove(marker));
  if (sidecar) (void)store_.remove(objects_.sidecarKey(marker));
  std::lock_guard lock(table_mutex_);
  detachLocked(*node);
  if (options_.negative_ttl.count() > 0) negative_[{parent, std::string(name)}] = Clock::now();
  return ok();
}

// Moves one object (content or marker) to a new key: a server-side copy with its attribute
// block re-sealed for the new key (the block is bound to its key), then the old one deleted.
Status VolumeFilesystem::moveObject(const std::string& from_key, const std::string& to_key) {
  S3C_ASSIGN_OR_RETURN(store::ObjectInfo info, store_.head(from_key));
  S3C_ASSIGN_OR_RETURN(format::Attributes attrs,
                       ErrnoMappingStore::map(objects_.openFromMetadata(from_key, info.metadata)));
  S3C_ASSIGN_OR_RETURN(store::Metadata metadata,
                       ErrnoMappingStore::map(objects_.sealToMetadata(to_key, attrs)));
  store::CopyOptions copy;
  copy.replace_metadata = metadata;
  copy.source_if_match = info.etag;
  S3C_RETURN_IF_ERROR(store_.copy(from_key, to_key, copy));
  S3C_RETURN_IF_ERROR(store_.remove(from_key));
  if (volume::VolumeObjects::usesSidecar(info.metadata)) {
    (void)store_.remove(objects_.sidecarKey(from_key));
  }
  return ok();
}

Status VolumeFilesystem::moveTree(const std::string& from, const std::string& to) {
  S3C_ASSIGN_OR_RETURN(std::string from_marker, objects_.directoryMarkerKey(from));
  S3C_ASSIGN_OR_RETURN(std::string to_marker, objects_.directoryMarkerKey(to));
  // The marker first, so the new directory has its attributes before it has children.
  auto marker = store_.head(from_marker);
  if (marker) {
    S3C_RETURN_IF_ERROR(moveObject(from_marker, to_marker));
  } else if (marker.error().kind() != ErrorKind::kNotFound) {
    return marker.error();
  } else {
    // An implicit directory keeps existing at its new place only through a marker.
    format::Attributes attrs = defaultDirAttributes();
    S3C_ASSIGN_OR_RETURN(store::Metadata metadata,
                         ErrnoMappingStore::map(objects_.sealToMetadata(to_marker, attrs)));
    S3C_RETURN_IF_ERROR(store_.put(to_marker, {}, {metadata, {}}));
  }
  S3C_ASSIGN_OR_RETURN(std::string prefix, objects_.listingPrefix(from));
  store::ListOptions options;
  options.prefix = prefix;
  options.delimiter = "/";
  S3C_ASSIGN_OR_RETURN(store::ListPage page, store::listAll(store_, options));
  std::vector<std::pair<std::string, std::string>> moves;
  for (const auto& object : page.objects) {
    auto name = objects_.decodeChildName(from, object.key);
    if (!name) {
      if (name.error().kind() != ErrorKind::kNotFound) logForeign(object.key, name.error());
      continue;
    }
    S3C_ASSIGN_OR_RETURN(std::string to_key, objects_.objectKey(childPath(to, *name)));
    moves.emplace_back(object.key, to_key);
  }
  std::vector<std::optional<Error>> errors(moves.size());
  parallelFor(moves.size(), options_.upload_concurrency, [&](size_t i) {
    Status moved = moveObject(moves[i].first, moves[i].second);
    if (!moved) errors[i] = moved.error();
  });
  for (auto& error : errors) {
    if (error) return *error;
  }
  for (const std::string& child_prefix : page.common_prefixes) {
    auto name = objects_.decodeChildName(from, child_prefix);
    if (!name) {
      if (name.error().kind() != ErrorKind::kNotFound) logForeign(child_prefix, name.error());
      continue;
    }
    S3C_RETURN_IF_ERROR(moveTree(childPath(from, *name), childPath(to, *name)));
  }
  return ok();
}

Status VolumeFilesystem::rename(InodeId parent, std::string_view name, InodeId new_parent,
                                std::string_view new_name, unsigned flags) {
  if ((flags & kRenameExchange) != 0) {
    return Error(ErrorKind::kInvalidArgument, "RENAME_EXCHANGE is not supported");
  }
  if ((flags & ~kRenameNoReplace) != 0) {
    return Error(ErrorKind::kInvalidArgument, "unknown rename flags");
  }
  std::unique_lock ns(namespace_mutex_);
  S3C_ASSIGN_OR_RETURN(NodePtr node, lookupChild(parent, name));
  S3C_ASSIGN_OR_RETURN(NodePtr new_dir, directoryNode(new_parent));
  S3C_RETURN_IF_ERROR(objects_.names().encodeName("/", new_name));  // name checks
  auto target = lookupChild(new_parent, new_name);
  if (!target && target.error().errnoValue() != ENOENT) return target.error();
  std::string from;
  std::string to;
  bool is_dir = false;
  {
    std::lock_guard lock(table_mutex_);
    from = pathLocked(*node);
    to = childPath(pathLocked(*new_dir), new_name);
    is_dir = node->isDir();
  }
  if (target && *target == node) return ok();
  if (is_dir && (to == from || to.starts_with(from + "/"))) {
    return Error(ErrorKind::kInvalidArgument, "cannot move a directory into itself");
  }
  if (target) {
    if ((flags & kRenameNoReplace) != 0) return Error(ErrorKind::kAlreadyExists, "target exists");
    bool target_dir = false;
    {
      std::lock_guard lock(table_mutex_);
      target_dir = (*target)->isDir();
    }
    if (is_dir && !target_dir) return Error(ErrorKind::kNotDirectory, "target is not a directory");
    if (!is_dir && target_dir) return Error(ErrorKind::kIsDirectory, "target is a directory");
    if (target_dir) {
      S3C_ASSIGN_OR_RETURN(bool empty, directoryIsEmpty(to));
      if (!empty) return Error(ErrorKind::kNotEmpty, "target directory is not empty");
      S3C_ASSIGN_OR_RETURN(std::string marker, objects_.directoryMarkerKey(to));
      S3C_RETURN_IF_ERROR(store_.remove(marker));
    } else {
      FilePtr open_target;
      {
        std::lock_guard lock(table_mutex_);
        open_target = (*target)->file;
      }
      if (open_target != nullptr) {
        std::lock_guard file_lock(open_target->mutex);
        S3C_RETURN_IF_ERROR(materializeLocked(*open_target, *target));
      }
    }
  }
  if (is_dir) {
    // Everything below moves (names are bound to their parent path): upload open files first.
    std::vector<NodePtr> open_nodes;
    {
      std::lock_guard lock(table_mutex_);
      for (auto& [ino, n] : nodes_) {
        if (n->file != nullptr) open_nodes.push_back(n);
      }
    }
    for (auto& n : open_nodes)
      S3C_RETURN_IF_ERROR(flushNode(n));
    S3C_RETURN_IF_ERROR(moveTree(from, to));
  } else {
    S3C_RETURN_IF_ERROR(moveFile(node, from, to));
  }
  std::vector<NodePtr> moved_open;
  {
    std::lock_guard lock(table_mutex_);
    if (target) detachLocked(**target);
    auto old_key = std::make_pair(node->parent, node->name);
    if (auto found = children_.find(old_key);
        found != children_.end() && found->second == node->ino) {
      children_.erase(found);
    }
    if (node->parent != new_parent) {
      if (auto p = nodes_.find(node->parent); p != nodes_.end()) --p->second->children;
      ++new_dir->children;
      InodeId old_parent = node->parent;
      node->parent = new_parent;
      maybeEraseLocked(old_parent);
    }
    node->name = std::string(new_name);
    children_[{new_parent, node->name}] = node->ino;
    negative_.erase({new_parent, node->name});
    node->attrs.ctime_ns = nowNs();
    // ETags below a moved directory changed: cached attributes are refetched, open files
    // learn their new version.
    for (auto& [ino, n] : nodes_) {
      if (is_dir) n->fetched = {};
      if (is_dir && n->file != nullptr) moved_open.push_back(n);
    }
  }
  for (auto& n : moved_open) {
    auto key = keyOf(n);
    if (!key) continue;
    auto info = store_.head(*key);
    if (!info) continue;
    FilePtr file;
    {
      std::lock_guard lock(table_mutex_);
      file = n->file;
      n->etag = info->etag;
    }
    if (file != nullptr) {
      std::lock_guard file_lock(file->mutex);
      file->remote_etag = info->etag;
    }
  }
  return ok();
}

Status VolumeFilesystem::moveFile(const NodePtr& node, const std::string& from,
                                  const std::string& to) {
  FilePtr file;
  {
    std::lock_guard lock(table_mutex_);
    file = node->file;
  }
  std::unique_lock<std::mutex> file_lock;
  if (file != nullptr) {
    file_lock = std::unique_lock(file->mutex);
    S3C_RETURN_IF_ERROR(uploadLocked(*file, node));  // staged data goes under the old key first
  }
  S3C_ASSIGN_OR_RETURN(std::string from_key, objects_.objectKey(from));
  S3C_ASSIGN_OR_RETURN(std::string to_key, objects_.objectKey(to));
  S3C_RETURN_IF_ERROR(moveObject(from_key, to_key));
  auto info = store_.head(to_key);
  std::lock_guard lock(table_mutex_);
  if (info) {
    node->etag = info->etag;
    node->sidecar = volume::VolumeObjects::usesSidecar(info->metadata);
    if (file != nullptr) file->remote_etag = info->etag;
  } else {
    node->fetched = {};
  }
  return ok();
}

// ===================================================================== directories

Result<HandleId> VolumeFilesystem::opendir(InodeId ino) {
  std::shared_lock ns(namespace_mutex_);
  S3C_ASSIGN_OR_RETURN(NodePtr node, directoryNode(ino));
  auto dir = std::make_shared<DirHandle>();
  dir->node = node;
  std::lock_guard lock(table_mutex_);
  HandleId id = next_handle_++;
  dir_handles_[id] = dir;
  return id;
}

Status VolumeFilesystem::listDirectory(DirHandle& dir) {
  std::string path;
  InodeId parent_ino = kRootInode;
  {
    std::lock_guard lock(table_mutex_);
    path = pathLocked(*dir.node);
    parent_ino = dir.node->parent;
  }
  S3C_ASSIGN_OR_RETURN(std::string prefix, objects_.listingPrefix(path));
  store::ListOptions options;
  options.prefix = prefix;
  options.delimiter = "/";
  S3C_ASSIGN_OR_RETURN(store::ListPage page, store::listAll(store_, options));
  dir.entries.clear();
  dir.entries.push_back(DirEntry{".", dir.node->ino, S_IFDIR, 1, std::nullopt});
  dir.entries.push_back(DirEntry{"..", parent_ino, S_IFDIR, 2, std::nullopt});
  std::map<std::string, std::pair<uint32_t, uint64_t>> children;  // name → (type, cipher size)
  for (const auto& object : page.objects) {
    auto name = objects_.decodeChildName(path, object.key);
    if (!name) {
      if (name.error().kind() != ErrorKind::kNotFound) logForeign(object.key, name.error());
      continue;
    }
    children[*name] = {0, object.size};
  }
  for (const auto& child_prefix : page.common_prefixes) {
    auto name = objects_.decodeChildName(path, child_prefix);
    if (!name) {
      if (name.error().kind() != ErrorKind::kNotFound) logForeign(child_prefix, name.error());
      continue;
    }
    children.try_emplace(*name, std::pair<uint32_t, uint64_t>{S_IFDIR, 0});
  }
  if (objects_.names().mode() == format::NameMode::kPlaintext) {
    // Plaintext names authenticate nothing: an object is ours only if its attribute block
    // opens, so objects not seen before are checked (bounded parallel HEADs) before they are
    // shown. Encrypted names need no such check: a name that decrypts is ours.
    std::vector<std::string> unknown;
    {
      std::lock_guard lock(table_mutex_);
      for (const auto& [name, info] : children) {
        NodePtr known = childLocked(dir.node->ino, name);
        if (info.first == 0 && (known == nullptr || !known->attrs_known)) unknown.push_back(name);
      }
    }
    std::vector<bool> foreign(unknown.size(), false);
    parallelFor(unknown.size(), kHeadConcurrency, [&](size_t i) {
      auto key = objects_.objectKey(childPath(path, unknown[i]));
      if (!key) return;
      auto head = store_.head(*key);
      if (!head) return;  // vanished or unreachable: lookups decide
      auto probed = probeObject(*key, *head);
      foreign[i] = probed && !probed->found;
    });
    for (size_t i = 0; i < unknown.size(); ++i) {
      if (foreign[i]) children.erase(unknown[i]);
    }
  }
  std::lock_guard lock(table_mutex_);
  for (auto& [name, info] : children) {
    NodePtr node = listedChildLocked(*dir.node, name, info.first);
    uint32_t type = node->attrs_known ? (node->attrs.mode & S_IFMT) : info.first;
    dir.entries.push_back(DirEntry{name, node->ino, type, dir.entries.size() + 1, std::nullopt});
  }
  dir.listed = true;
  return ok();
}

Result<std::vector<DirEntry>> VolumeFilesystem::readdir(HandleId handle, uint64_t cookie,
                                                        size_t max_entries, bool plus) {
  std::shared_ptr<DirHandle> dir;
  {
    std::lock_guard lock(table_mutex_);
    auto found = dir_handles_.find(handle);
    if (found == dir_handles_.end()) {
      return errnoError(ErrorKind::kInvalidArgument, EBADF, "unknown directory handle");
    }
    dir = found->second;
  }
  std::shared_lock ns(namespace_mutex_);
  std::lock_guard dir_lock(dir->mutex);
  // A listing is taken at the start and kept for the handle, so cookies stay stable.
  if (!dir->listed || cookie == 0) S3C_RETURN_IF_ERROR(listDirectory(*dir));
  std::vector<DirEntry> out;
  for (uint64_t i = cookie; i < dir->entries.size() && out.size() < max_entries; ++i) {
    out.push_back(dir->entries[i]);
  }
  if (!plus) return out;
  // readdirplus: attributes of every entry, stale ones fetched with bounded parallel HEADs.
  std::vector<NodePtr> nodes(out.size());
  {
    std::lock_guard lock(table_mutex_);
    for (size_t i = 0; i < out.size(); ++i) {
      if (out[i].name == "." || out[i].name == "..") {
        auto found = nodes_.find(out[i].ino);
        if (found != nodes_.end()) nodes[i] = found->second;
        continue;
      }
      // By name, not by the listed inode: another listing's release may have dropped an
      // inode the kernel never looked up; the name gets a node again.
      nodes[i] = listedChildLocked(*dir->node, out[i].name, out[i].type);
      out[i].ino = nodes[i]->ino;
    }
  }
  std::vector<bool> failed(out.size(), false);
  parallelFor(out.size(), kHeadConcurrency, [&](size_t i) {
    if (nodes[i] == nullptr) {
      failed[i] = true;
      return;
    }
    if (!refreshNode(nodes[i])) failed[i] = true;
  });
  std::vector<DirEntry> filled;
  std::lock_guard lock(table_mutex_);
  for (size_t i = 0; i < out.size(); ++i) {
    if (failed[i]) continue;  // vanished or damaged since the listing: left out
    DirEntry entry = out[i];
    entry.type = nodes[i]->attrs.mode & S_IFMT;
    if (entry.name == "." || entry.name == "..") {
      entry.entry = Entry{toAttr(*nodes[i]), nodes[i]->generation};
    } else {
      entry.entry = entryLocked(*nodes[i]);
    }
    filled.push_back(std::move(entry));
  }
  return filled;
}

Status VolumeFilesystem::releasedir(HandleId handle) {
  std::shared_ptr<DirHandle> dir;
  {
    std::lock_guard lock(table_mutex_);
    auto found = dir_handles_.find(handle);
    if (found == dir_handles_.end()) return ok();
    dir = found->second;
    dir_handles_.erase(found);
  }
  // Inodes a listing made for names the kernel never looked up go with the listing, so memory
  // follows what the kernel holds, not every name ever listed.
  std::lock_guard dir_lock(dir->mutex);
  std::lock_guard lock(table_mutex_);
  for (size_t i = 2; i < dir->entries.size(); ++i)
    maybeEraseLocked(dir->entries[i].ino);
  return ok();
}

Result<StatFs> VolumeFilesystem::statfs() {
  // Object stores have no capacity to report: a large constant keeps df and installers happy.
  StatFs stats;
  stats.block_size = layout_.chunkSize();
  stats.blocks = (uint64_t{1} << 50) / stats.block_size;
  stats.blocks_free = stats.blocks;
  stats.files = uint64_t{1} << 32;
  stats.files_free = stats.files;
  stats.name_max = static_cast<uint32_t>(format::kMaxNameBytes);
  return stats;
}

// ===================================================================== extended attributes

Result<Bytes> VolumeFilesystem::getxattr(InodeId ino, std::string_view name) {
  std::shared_lock ns(namespace_mutex_);
  S3C_ASSIGN_OR_RETURN(NodePtr node, nodeOf(ino));
  S3C_RETURN_IF_ERROR(refreshNode(node));
  std::lock_guard lock(table_mutex_);
  auto found = node->attrs.xattrs.find(std::string(name));
  if (found == node->attrs.xattrs.end()) {
    return errnoError(ErrorKind::kNotFound, ENODATA, "no such extended attribute");
  }
  return found->second;
}

Status VolumeFilesystem::setxattr(InodeId ino, std::string_view name, ByteSpan value, int flags) {
  if (name.empty() || name.size() > format::kMaxXattrNameBytes) {
    return errnoError(ErrorKind::kInvalidArgument, ERANGE, "bad extended attribute name length");
  }
  if (value.size() > format::kMaxXattrValueBytes) {
    return errnoError(ErrorKind::kInvalidArgument, E2BIG, "extended attribute value too big");
  }
  if (name.starts_with("system.")) {
    return Error(ErrorKind::kUnsupported, "system.* attributes (ACLs) are not supported");
  }
  std::unique_lock ns(namespace_mutex_);
  S3C_ASSIGN_OR_RETURN(NodePtr node, nodeOf(ino));
  S3C_RETURN_IF_ERROR(refreshNode(node));
  format::Attributes saved;
  {
    std::lock_guard lock(table_mutex_);
    saved = node->attrs;
    bool exists = node->attrs.xattrs.contains(std::string(name));
    if ((flags & kXattrCreate) != 0 && exists) {
      return Error(ErrorKind::kAlreadyExists, "extended attribute exists");
    }
    if ((flags & kXattrReplace) != 0 && !exists) {
      return errnoError(ErrorKind::kNotFound, ENODATA, "no such extended attribute");
    }
    node->attrs.xattrs[std::string(name)] = Bytes(value.begin(), value.end());
    node->attrs.ctime_ns = nowNs();
  }
  Status persisted = persistAttributes(node);
  if (!persisted) {
    std::lock_guard lock(table_mutex_);
    node->attrs = saved;
  }
  return persisted;
}

Result<std::vector<std::string>> VolumeFilesystem::listxattr(InodeId ino) {
  std::shared_lock ns(namespace_mutex_);
  S3C_ASSIGN_OR_RETURN(NodePtr node, nodeOf(ino));
  S3C_RETURN_IF_ERROR(refreshNode(node));
  std::lock_guard lock(table_mutex_);
  std::vector<std::string> names;
  for (const auto& [name, value] : node->attrs.xattrs)
    names.push_back(name);
  return names;
}

Status VolumeFilesystem::removexattr(InodeId ino, std::string_view name) {
  std::unique_lock ns(namespace_mutex_);
  S3C_ASSIGN_OR_RETURN(NodePtr node, nodeOf(ino));
  S3C_RETURN_IF_ERROR(refreshNode(node));
  format::Attributes saved;
  {
    std::lock_guard lock(table_mutex_);
    saved = node->attrs;
    if (node->attrs.xattrs.erase(std::string(name)) == 0) {
      return errnoError(ErrorKind::kNotFound, ENODATA, "no such extended attribute");
    }
    node->attrs.ctime_ns = nowNs();
  }
  Status persisted = persistAttributes(node);
  if (!persisted) {
    std::lock_guard lock(table_mutex_);
    node->attrs = saved;
  }
  return persisted;
}

Status VolumeFilesystem::syncAll() {
  std::shared_lock ns(namespace_mutex_);
  std::vector<NodePtr> open_nodes;
  {
    std::lock_guard lock(table_mutex_);
    for (auto& [ino, node] : nodes_) {
      if (node->file != nullptr) open_nodes.push_back(node);
    }
  }
  Status first = ok();
  for (auto& node : open_nodes) {
    Status uploaded = flushNode(node);
    if (!uploaded && first) first = uploaded;
  }
  return first;
}

// ===================================================================== journal recovery

// A kill in the middle of a write(2) of a chunk can leave it half written. Each staged chunk is
// checked; a torn one is replaced by the base version's chunk where that one is valid at this
// position (the write that tore it never returned, so the old bytes are a correct outcome), and
// otherwise uploaded as it is, so only reads of that chunk fail (EIO), and logged.
void VolumeFilesystem::dropTornChunks(const JournalRecord& record, const format::FileCipher& cipher,
                                      const StagingFile& staging, std::set<uint64_t>& dirty) {
  std::optional<uint64_t> base_size;
  bool base_checked = false;
  const uint64_t last = layout_.lastChunkIndex(record.size);
  for (auto it = dirty.begin(); it != dirty.end();) {
    uint64_t i = *it;
    uint64_t length = layout_.chunkPlainSize(i, record.size);
    Bytes sealed(length + format::kChunkOverhead);
    bool intact = staging.read(layout_.chunkCipherOffset(i), sealed) &&
                  cipher.openChunk(i, i == last, sealed).has_value();
    if (intact) {
      ++it;
      continue;
    }
    if (!base_checked && !record.base_etag.empty()) {
      base_checked = true;
      auto head = store_.head(record.key);
      // Its chunks are valid here only under the same file id (not after a truncation to 0).
      auto attrs = head ? objects_.openFromMetadata(record.key, head->metadata)
                        : Result<format::Attributes>(head.error());
      if (head && head->etag == record.base_etag && attrs &&
          attrs->file_id == cipher.header().file_id) {
        auto plain = layout_.plainSize(head->size);
        if (plain) base_size = *plain;
      }
    }
    bool base_has_it = base_size && i < layout_.chunkCount(*base_size) &&
                       layout_.chunkPlainSize(i, *base_size) == length &&
                       (i == layout_.lastChunkIndex(*base_size)) == (i == last);
    log::error("object {}: staged chunk {} was torn by the crash; {}", record.key, i,
               base_has_it ? "the previous version of the chunk is kept"
                           : "it is uploaded as it is and will read as an error");
    it = base_has_it ? dirty.erase(it) : std::next(it);
  }
}

Status VolumeFilesystem::recoverJournals() {
  if (options_.staging_dir.empty()) return ok();
  for (const std::string& journal : StagingFile::listJournals(options_.staging_dir)) {
    auto staging = StagingFile::adopt(journal);
    if (!staging) {
      log::error("staging journal {}: {}", journal, staging.error().describe());
      continue;
    }
    auto record = (*staging)->readJournal();
    if (!record) {
      log::error("staging journal {} is damaged and was left in place: {}", journal,
                 record.error().describe());
      continue;
    }
    auto cipher = objects_.cipherForHeader(record->header);
    auto attrs =
        format::openAttributesText(objects_.keyRing(), record->key, record->attributes_text);
    if (!cipher || !attrs) {
      log::error("staging journal {} does not belong to this volume; left in place", journal);
      continue;
    }
    std::set<uint64_t> dirty(record->chunks.begin(), record->chunks.end());
    dropTornChunks(*record, *cipher, **staging, dirty);
    UploadSource source;
    source.cipher = &*cipher;
    source.size = record->size;
    source.dirty = &dirty;
    source.staging = staging->get();
    source.base_key = record->key;
    source.base_etag = record->base_etag;
    auto metadata = ErrnoMappingStore::map(objects_.sealToMetadata(record->key, *attrs));
    if (!metadata) {
      log::error("staging journal {}: {}", journal, metadata.error().describe());
      continue;
    }
    UploadTarget target{record->key, *metadata, {}};
    if (!record->base_etag.empty() && caps_.conditional_put_if_match) {
      target.condition.if_match = record->base_etag;
    } else if (record->base_etag.empty() && caps_.conditional_put_if_none_match) {
      target.condition.if_none_match = true;
    }
    auto uploaded = uploader_.upload(source, target);
    if (uploaded) {
      log::info("recovered unflushed writes of object {} from the staging journal", record->key);
      (*staging)->discard();
      continue;
    }
    bool lost = isLostRace(uploaded.error()) || uploaded.error().kind() == ErrorKind::kNotFound;
    if (!lost) {
      log::error("object {}: recovery upload failed, kept for the next mount: {}", record->key,
                 uploaded.error().describe());
      continue;
    }
    // The object changed (or went) since: keep ours next to it under a conflict name.
    auto path = objects_.pathOfKey(record->key);
    auto suffix = crypto::randomBytes(3);
    if (!path || !suffix || !Uploader::allStaged(source)) {
      log::error(
          "object {} changed since the crash and the staged changes cannot be "
          "completed; staging journal {} left in place",
          record->key, journal);
      continue;
    }
    std::string conflict_path =
        *path + ".conflict-" + std::to_string(nowNs() / 1000000000) + "-" + toHex(*suffix);
    auto conflict_key = objects_.objectKey(conflict_path);
    if (!conflict_key) continue;
    auto conflict_metadata = ErrnoMappingStore::map(objects_.sealToMetadata(*conflict_key, *attrs));
    if (!conflict_metadata) continue;
    UploadTarget conflict{*conflict_key, *conflict_metadata, {}};
    conflict.condition.if_none_match = caps_.conditional_put_if_none_match;
    auto saved = uploader_.upload(source, conflict);
    if (!saved) {
      log::error("object {}: conflict copy failed, kept for the next mount: {}", record->key,
                 saved.error().describe());
      continue;
    }
    log::warn("object {} changed since the crash; the recovered version is kept as {}", record->key,
              *conflict_key);
    (*staging)->discard();
  }
  return ok();
}

Result<std::unique_ptr<Filesystem>> openVolumeFilesystem(std::shared_ptr<volume::Volume> volume,
                                                         const FilesystemOptions& options) {
  if (volume == nullptr) return Error(ErrorKind::kInvalidArgument, "no volume");
  if (options.upload_concurrency == 0 || options.part_bytes == 0) {
    return Error(ErrorKind::kInvalidArgument, "upload concurrency and part size must be > 0");
  }
  if (!options.staging_dir.empty() && ::access(options.staging_dir.c_str(), W_OK) != 0) {
    return Error(ErrorKind::kInvalidArgument,
                 "staging folder " + options.staging_dir + " does not exist or is not writable");
  }
  auto fs = std::make_unique<VolumeFilesystem>(std::move(volume), options);
  S3C_RETURN_IF_ERROR(fs->recoverJournals());
  return std::unique_ptr<Filesystem>(std::move(fs));
}

}  // namespace s3cryptfs::fs
