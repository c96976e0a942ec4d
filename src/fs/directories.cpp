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
  std::vector<uint8_t> failed(out.size(), 0);  // not vector<bool>: written in parallel
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

}  // namespace s3cryptfs::fs
