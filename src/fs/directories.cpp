#include "volume_filesystem_impl.h"

namespace s3cryptfs::fs {

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
  dir.listed_at = Clock::now();
  S3C_ASSIGN_OR_RETURN(store::ListPage page, store::listAll(store_, options));
  dir.entries.clear();
  dir.objects.assign(2, 0);
  dir.versions.assign(2, {});
  dir.attrs_until = 0;
  dir.entries.push_back(DirEntry{".", dir.node->ino, S_IFDIR, 1, std::nullopt});
  dir.entries.push_back(DirEntry{"..", parent_ino, S_IFDIR, 2, std::nullopt});
  // name → (type, the listed object: null for a prefix)
  std::map<std::string, std::pair<uint32_t, const store::ObjectInfo*>> children;
  for (const auto& object : page.objects) {
    auto name = objects_.decodeChildName(path, object.key);
    if (!name) {
      if (name.error().kind() != ErrorKind::kNotFound) logForeign(object.key, name.error());
      continue;
    }
    children[*name] = {0, &object};
  }
  for (const auto& child_prefix : page.common_prefixes) {
    auto name = objects_.decodeChildName(path, child_prefix);
    if (!name) {
      if (name.error().kind() != ErrorKind::kNotFound) logForeign(child_prefix, name.error());
      continue;
    }
    children.try_emplace(*name, std::pair<uint32_t, const store::ObjectInfo*>{S_IFDIR, nullptr});
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
    std::vector<uint8_t> foreign(unknown.size(), 0);  // not vector<bool>: written in parallel
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
  Clock::time_point now = Clock::now();
  for (auto& [name, info] : children) {
    NodePtr node = listedChildLocked(*dir.node, name, info.first);
    if (info.second != nullptr && listingRevalidatesLocked(*node, *info.second)) {
      node->fetched = now;
    }
    uint32_t type = node->attrs_known ? (node->attrs.mode & S_IFMT) : info.first;
    dir.entries.push_back(DirEntry{name, node->ino, type, dir.entries.size() + 1, std::nullopt});
    dir.objects.push_back(info.first == 0 ? 1 : 0);
    dir.versions.emplace_back(info.second == nullptr ? std::string() : info.second->etag,
                              info.second == nullptr ? 0 : info.second->last_modified_unix);
  }
  dir.listed = true;
  return ok();
}

// The attributes cached for a file are still those of the listed object when the listing shows
// the very version a HEAD saw: same ETag, same Last-Modified (which a metadata-only rewrite, a
// copy onto itself, changes while it keeps the ETag), same size. Then no HEAD is needed.
bool VolumeFilesystem::listingRevalidatesLocked(const Node& node,
                                                const store::ObjectInfo& listed) const {
  if (!node.attrs_known || node.file != nullptr || node.unlinked || node.isDir()) return false;
  if (node.etag.empty() || node.etag != listed.etag) return false;
  if (node.last_modified == 0 || node.last_modified != listed.last_modified_unix) return false;
  auto plain = layout_.plainSize(listed.size);
  return plain && *plain == node.attrs.size;
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
  // readdirplus: attributes of every entry. Those not fresh are fetched with one HEAD each,
  // in parallel, for this page and a lookahead window of the entries after it.
  S3C_RETURN_IF_ERROR(fetchListedAttributes(*dir, cookie, cookie + out.size()));
  std::vector<DirEntry> filled;
  std::lock_guard lock(table_mutex_);
  for (size_t i = 0; i < out.size(); ++i) {
    DirEntry entry = out[i];
    NodePtr node;
    if (entry.name == "." || entry.name == "..") {
      auto found = nodes_.find(entry.ino);
      if (found == nodes_.end()) continue;
      node = found->second;
      entry.entry = Entry{toAttr(*node), node->generation};
    } else {
      // By name, not by the listed inode: another listing's release may have dropped an
      // inode the kernel never looked up (the fetch above gave the name a node again).
      node = childLocked(dir->node->ino, entry.name);
      // Vanished or damaged since the listing: left out (a later lookup decides).
      if (node == nullptr || !node->attrs_known) continue;
      entry.ino = node->ino;
      entry.entry = entryLocked(*node);
    }
    entry.type = node->attrs.mode & S_IFMT;
    filled.push_back(std::move(entry));
  }
  return filled;
}

Status VolumeFilesystem::fetchListedAttributes(DirHandle& dir, size_t from, size_t to) {
  to = std::min(to, dir.entries.size());
  // The page itself, then (when less than half a window is left prefetched) the next window.
  size_t ahead_from = std::max(to, dir.attrs_until);
  size_t ahead_to = ahead_from;
  if (to + kAttrLookahead / 2 > dir.attrs_until) {
    ahead_to = std::min(dir.entries.size(), to + kAttrLookahead);
  }
  struct Wanted {
    NodePtr node;
    std::string path;
    bool object = false;
    std::pair<std::string, int64_t> listed;  // the version the listing showed
  };
  std::vector<Wanted> wanted;
  {
    std::lock_guard lock(table_mutex_);
    std::string parent = pathLocked(*dir.node);
    auto consider = [&](size_t i) {
      const DirEntry& entry = dir.entries[i];
      NodePtr node = listedChildLocked(*dir.node, entry.name, entry.type);
      bool fresh = freshLocked(*node) || (node->attrs_known && node->fetched >= dir.listed_at);
      if (!fresh) {
        wanted.push_back(
            {node, childPath(parent, entry.name), dir.objects[i] != 0, dir.versions[i]});
      }
    };
    for (size_t i = std::max<size_t>(from, 2); i < to; ++i)
      consider(i);
    for (size_t i = std::max<size_t>(ahead_from, 2); i < ahead_to; ++i)
      consider(i);
  }
  std::vector<std::optional<Error>> errors(wanted.size());
  parallelFor(wanted.size(), kHeadConcurrency, [&](size_t i) {
    auto probed = probeListed(wanted[i].path, wanted[i].object);
    std::lock_guard lock(table_mutex_);
    if (!probed) {
      // Damaged or unreadable: left out of the reply until a lookup says more.
      wanted[i].node->attrs_known = false;
      errors[i] = probed.error();
      return;
    }
    if (!applyProbeLocked(*wanted[i].node, *probed, false)) return;  // gone: left out
    // The HEAD saw the version the listing showed: the next listing is compared with this
    // listing's Last-Modified, not the HEAD's (a store may stamp its index and the object
    // a moment apart, across a second boundary).
    const auto& [etag, last_modified] = wanted[i].listed;
    if (!etag.empty() && probed->etag == etag) wanted[i].node->last_modified = last_modified;
  });
  dir.attrs_until = std::max(dir.attrs_until, ahead_to);
  // A store that cannot be reached fails the page; a damaged entry only leaves itself out.
  for (const auto& error : errors) {
    if (error && error->kind() == ErrorKind::kTransient) return *error;
  }
  return ok();
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

}  // namespace s3cryptfs::fs
