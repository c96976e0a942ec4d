#include "volume_filesystem_impl.h"

namespace s3cryptfs::fs {

// ===================================================================== directory times

// Policy: the first change of a directory's entries after a quiet interval rewrites its marker
// at once; further changes within kDirectoryTimesInterval only update the times in memory
// (getattr shows them), and are written by the next change after the interval or by syncAll
// (unmount). A burst of creates in one directory thus costs one marker PUT per interval, not one
// per create. Directories without a marker (implicit, from foreign objects) keep their times in
// memory only: a marker is never created just to hold them.
void VolumeFilesystem::touchDirectory(InodeId dir) {
  NodePtr node;
  bool persist = false;
  {
    std::lock_guard lock(table_mutex_);
    auto found = nodes_.find(dir);
    if (found == nodes_.end()) return;
    node = found->second;
    int64_t now = nowNs();
    node->attrs.mtime_ns = node->attrs.ctime_ns = now;
    if (node->implicit_dir) return;
    node->times_dirty = true;
    persist = Clock::now() - node->times_persisted >= kDirectoryTimesInterval;
  }
  if (!persist) return;
  Status written = persistAttributes(node);
  std::lock_guard lock(table_mutex_);
  if (!written) {
    // The entry change itself succeeded; the times are retried by the next change or syncAll.
    log::warn("inode {}: directory times not written yet: {}", node->ino,
              written.error().describe());
    return;
  }
  node->times_dirty = false;
  node->times_persisted = Clock::now();
}

Status VolumeFilesystem::persistDirectoryTimes() {
  std::vector<NodePtr> dirty;
  {
    std::lock_guard lock(table_mutex_);
    for (auto& [ino, node] : nodes_) {
      if (node->times_dirty && !node->unlinked) dirty.push_back(node);
    }
  }
  Status first = ok();
  for (auto& node : dirty) {
    Status written = persistAttributes(node);
    std::lock_guard lock(table_mutex_);
    if (!written) {
      if (first) first = written;
      continue;
    }
    node->times_dirty = false;
    node->times_persisted = Clock::now();
  }
  return first;
}

}  // namespace s3cryptfs::fs
