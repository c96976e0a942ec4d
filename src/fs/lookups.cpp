#include "volume_filesystem_impl.h"

namespace s3cryptfs::fs {

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
  return foundProbe(key, info, std::move(attrs).value());
}

VolumeFilesystem::Probe VolumeFilesystem::foundProbe(const std::string& key,
                                                     const store::ObjectInfo& info,
                                                     format::Attributes attrs) const {
  Probe probe;
  probe.found = true;
  probe.attrs = std::move(attrs);
  probe.etag = info.etag;
  probe.last_modified = info.last_modified_unix;
  probe.sidecar_key = objects_.sidecarKeyOf(key, info.metadata);
  return probe;
}

Result<std::optional<VolumeFilesystem::Probe>> VolumeFilesystem::probeHead(
    const std::string& key, const Result<store::ObjectInfo>& head, bool marker) {
  if (!head) {
    if (head.error().kind() == ErrorKind::kNotFound) return std::optional<Probe>();
    return head.error();
  }
  S3C_ASSIGN_OR_RETURN(Probe probed, marker ? probeMarker(key, *head) : probeObject(key, *head));
  if (!probed.found) return std::optional<Probe>();
  return std::optional<Probe>(std::move(probed));
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
  return foundProbe(key, info, std::move(attrs).value());
}

Result<store::ListPage> VolumeFilesystem::firstEntries(const std::string& path, uint32_t count) {
  S3C_ASSIGN_OR_RETURN(std::string prefix, objects_.listingPrefix(path));
  store::ListOptions options;
  options.prefix = prefix;
  options.delimiter = "/";
  options.max_keys = count;
  return store_.list(options);
}

Result<VolumeFilesystem::Probe> VolumeFilesystem::listProbe(const std::string& path) {
  S3C_ASSIGN_OR_RETURN(store::ListPage page, firstEntries(path, 1));
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
    S3C_ASSIGN_OR_RETURN(std::optional<Probe> probed, probeHead(marker, store_.head(marker), true));
    if (probed) return *probed;
    Probe root;
    root.found = true;
    root.attrs = defaultDirAttributes();
    root.implicit_dir = true;
    return root;
  }
  S3C_ASSIGN_OR_RETURN(std::string key, objects_.objectKey(path));
  // The object and the directory below the name are asked for at once (one round trip for a
  // miss, the common case before a create); the marker is read only when the directory exists.
  auto below = std::async(std::launch::async, [this, &path] { return listProbe(path); });
  auto head = store_.head(key);
  auto listed = below.get();
  S3C_ASSIGN_OR_RETURN(std::optional<Probe> object, probeHead(key, head, false));
  if (object) return *object;
  if (!listed) return listed.error();
  if (!listed->found) return listed;
  S3C_ASSIGN_OR_RETURN(std::string marker, objects_.directoryMarkerKey(path));
  S3C_ASSIGN_OR_RETURN(std::optional<Probe> probed, probeHead(marker, store_.head(marker), true));
  if (probed) return *probed;
  return listed;  // a directory without a marker
}

Status VolumeFilesystem::refreshNode(const NodePtr& node, bool force) {
  std::string path;
  bool known_file = false;
  {
    std::lock_guard lock(table_mutex_);
    if ((!force && freshLocked(*node)) || node->unlinked) return ok();
    path = pathLocked(*node);
    known_file = node->attrs_known && !node->isDir() && node->ino != kRootInode;
  }
  // A known file is most likely still one: one HEAD (the full probe only if it is gone).
  S3C_ASSIGN_OR_RETURN(Probe probed, known_file ? probeListed(path, true) : probe(path));
  std::lock_guard lock(table_mutex_);
  return applyProbeLocked(*node, probed, force);
}

Status VolumeFilesystem::applyProbeLocked(Node& node, const Probe& probed, bool force) {
  if (!probed.found) {
    if (node.ino != kRootInode) detachLocked(node);
    return Error(ErrorKind::kNotFound, "no longer exists");
  }
  if (node.attrs_known && probed.attrs.kind != node.attrs.kind) {
    detachLocked(node);
    return errnoError(ErrorKind::kNotFound, ESTALE, "replaced by another kind of node");
  }
  if (node.file == nullptr || force) {
    takeAttrsLocked(node, probed.attrs);
    node.etag = probed.etag;
    node.last_modified = probed.last_modified;
    node.implicit_dir = probed.implicit_dir;
    node.sidecar_key = probed.sidecar_key;
  }
  node.attrs_known = true;
  node.fetched = Clock::now();
  return ok();
}

Result<VolumeFilesystem::Probe> VolumeFilesystem::probeListed(const std::string& path,
                                                              bool listed_object) {
  // The listing already said what the name is, so one HEAD says the rest: of the content
  // object for a listed object, of the marker for a listed prefix (none: a directory without a
  // marker). Whatever disagrees with the listing (changed since) gets the full probe.
  if (listed_object) {
    S3C_ASSIGN_OR_RETURN(std::string key, objects_.objectKey(path));
    auto head = store_.head(key);
    if (head) {
      S3C_ASSIGN_OR_RETURN(Probe probed, probeObject(key, *head));
      if (probed.found) return probed;
    } else if (head.error().kind() != ErrorKind::kNotFound) {
      return head.error();
    }
    return probe(path);
  }
  S3C_ASSIGN_OR_RETURN(std::string marker, objects_.directoryMarkerKey(path));
  auto head = store_.head(marker);
  if (head) return probeMarker(marker, *head);
  if (head.error().kind() != ErrorKind::kNotFound) return head.error();
  Probe implicit;
  implicit.found = true;
  implicit.implicit_dir = true;
  implicit.attrs = defaultDirAttributes();
  return implicit;
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
  bool known_file = false;
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
    known_file = known != nullptr && known->attrs_known && !known->isDir();
  }
  S3C_ASSIGN_OR_RETURN(Probe probed, known_file ? probeListed(path, true) : probe(path));
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
  std::string old_sidecar;
  FilePtr file;
  {
    std::lock_guard lock(table_mutex_);
    path = pathLocked(*node);
    attrs = node->attrs;
    etag = node->etag;
    old_sidecar = node->sidecar_key;
    file = node->file;
  }
  if (attrs.kind == format::NodeKind::kDirectory) {
    S3C_ASSIGN_OR_RETURN(std::string marker, objects_.directoryMarkerKey(path));
    S3C_ASSIGN_OR_RETURN(store::Metadata metadata,
                         ErrnoMappingStore::map(objects_.sealToMetadata(marker, attrs)));
    S3C_ASSIGN_OR_RETURN(store::ObjectInfo info, store_.put(marker, {}, {metadata, {}}));
    std::string now_sidecar = objects_.sidecarKeyOf(marker, metadata);
    if (!old_sidecar.empty() && old_sidecar != now_sidecar) (void)store_.remove(old_sidecar);
    std::lock_guard lock(table_mutex_);
    node->etag = info.etag;
    node->implicit_dir = false;
    node->sidecar_key = now_sidecar;
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
  std::string now_sidecar = objects_.sidecarKeyOf(key, metadata);
  if (!old_sidecar.empty() && old_sidecar != now_sidecar) (void)store_.remove(old_sidecar);
  if (file != nullptr) {
    std::lock_guard file_lock(file->mutex);
    file->remote_etag = info->etag;
  }
  std::lock_guard lock(table_mutex_);
  node->etag = info->etag;
  node->sidecar_key = now_sidecar;
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

}  // namespace s3cryptfs::fs
