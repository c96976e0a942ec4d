#include "volume_filesystem_impl.h"

namespace s3cryptfs::fs {

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
  touchDirectory(parent);
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
  made.sidecar_key = objects_.sidecarKeyOf(key, metadata);
  if (cipher_out != nullptr) *cipher_out = std::move(cipher);
  touchDirectory(parent);
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

// ===================================================================== namespace changes

Status VolumeFilesystem::materializeLocked(OpenFile& file, const NodePtr& node) {
  // Copy every clean chunk's ciphertext into staging (same file id: still valid), so open
  // handles can read an unlinked file after its object is gone. Parts already streamed are
  // in no staging any more: the upload completes first, and they are read back below.
  if (file.stream) S3C_RETURN_IF_ERROR(uploadLocked(file, node));
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
  std::string sidecar;
  FilePtr file;
  {
    std::lock_guard lock(table_mutex_);
    sidecar = node->sidecar_key;
    file = node->file;
  }
  if (file != nullptr) {
    std::lock_guard file_lock(file->mutex);
    S3C_RETURN_IF_ERROR(materializeLocked(*file, node));
  }
  S3C_RETURN_IF_ERROR(store_.remove(key));
  if (!sidecar.empty()) (void)store_.remove(sidecar);
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
  touchDirectory(parent);
  std::lock_guard lock(table_mutex_);
  detachLocked(*node);
  if (options_.negative_ttl.count() > 0) negative_[{parent, std::string(name)}] = Clock::now();
  return ok();
}

Result<bool> VolumeFilesystem::directoryIsEmpty(const std::string& path) {
  S3C_ASSIGN_OR_RETURN(std::string marker, objects_.directoryMarkerKey(path));
  S3C_ASSIGN_OR_RETURN(store::ListPage page, firstEntries(path, 2));
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
  std::string sidecar;
  {
    std::lock_guard lock(table_mutex_);
    if (!node->isDir()) return Error(ErrorKind::kNotDirectory, "not a directory");
    path = pathLocked(*node);
    sidecar = node->sidecar_key;
  }
  S3C_ASSIGN_OR_RETURN(bool empty, directoryIsEmpty(path));
  if (!empty) return Error(ErrorKind::kNotEmpty, "directory not empty");
  S3C_ASSIGN_OR_RETURN(std::string marker, objects_.directoryMarkerKey(path));
  S3C_RETURN_IF_ERROR(store_.remove(marker));
  if (!sidecar.empty()) (void)store_.remove(sidecar);
  touchDirectory(parent);
  std::lock_guard lock(table_mutex_);
  detachLocked(*node);
  if (options_.negative_ttl.count() > 0) negative_[{parent, std::string(name)}] = Clock::now();
  return ok();
}

// Moves one object (content or marker) to a new key: a server-side copy with its attribute
// block re-sealed for the new key (the block is bound to its key), then the old one deleted.
Result<store::ObjectInfo> VolumeFilesystem::copyResealed(const std::string& from_key,
                                                         const std::string& to_key) {
  S3C_ASSIGN_OR_RETURN(store::ObjectInfo info, store_.head(from_key));
  S3C_ASSIGN_OR_RETURN(format::Attributes attrs,
                       ErrnoMappingStore::map(objects_.openFromMetadata(from_key, info.metadata)));
  S3C_ASSIGN_OR_RETURN(store::Metadata metadata,
                       ErrnoMappingStore::map(objects_.sealToMetadata(to_key, attrs)));
  store::CopyOptions copy;
  copy.replace_metadata = metadata;
  copy.source_if_match = info.etag;
  S3C_RETURN_IF_ERROR(store_.copy(from_key, to_key, copy));
  return info;
}

Status VolumeFilesystem::moveObject(const std::string& from_key, const std::string& to_key) {
  S3C_ASSIGN_OR_RETURN(store::ObjectInfo info, copyResealed(from_key, to_key));
  S3C_RETURN_IF_ERROR(store_.remove(from_key));
  std::string sidecar = objects_.sidecarKeyOf(from_key, info.metadata);
  if (!sidecar.empty()) (void)store_.remove(sidecar);
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
  touchDirectory(parent);
  if (new_parent != parent) touchDirectory(new_parent);
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
    node->sidecar_key = objects_.sidecarKeyOf(to_key, info->metadata);
    if (file != nullptr) file->remote_etag = info->etag;
  } else {
    node->fetched = {};
  }
  return ok();
}

}  // namespace s3cryptfs::fs
