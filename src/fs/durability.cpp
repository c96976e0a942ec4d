#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

#include "volume_filesystem_impl.h"

namespace s3cryptfs::fs {

// ===================================================================== durable points
//
// fsync (one file) and syncAll (unmount, SIGTERM) upload what is staged: once the store has
// acknowledged the upload, the data is as durable as the store makes it, and the staging files
// are deleted. Where the upload fails, the staged chunks, their journal and the staging folder's
// entries are synced to the local disk instead, so what a failed fsync or a failed shutdown
// leaves behind survives a power loss (not only a killed daemon) and the next mount uploads it.
// A successful upload needs no local sync. docs/SEMANTICS.md says what survives what.

namespace {

Status syncPath(const std::string& path, bool data_only) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return ok();  // nothing staged under that name (yet)
    return Error(ErrorKind::kIo, "opening " + path + " to sync it: " + std::strerror(errno));
  }
  int rc = data_only ? ::fdatasync(fd) : ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return Error(ErrorKind::kIo, "syncing " + path + ": " + std::strerror(err));
  return ok();
}

// fsync(2) reports EIO, ENOSPC or EDQUOT for data it could not make durable; a store's other
// answers (ENOENT from a local store whose folder vanished, say) would mislead the caller.
Error asFsyncError(Error error) {
  int err = error.errnoValue();
  if (err == EIO || err == ENOSPC || err == EDQUOT) return error;
  return Error(error.kind(), EIO, error.message());
}

}  // namespace

Status VolumeFilesystem::keepStagedDurably(const NodePtr& node) {
  FilePtr file;
  {
    std::lock_guard lock(table_mutex_);
    file = node->file;
  }
  if (file == nullptr) return ok();
  std::lock_guard file_lock(file->mutex);
  // An unlinked file's staged copy is for its open handles only: nothing to recover.
  if (file->staging == nullptr || file->dirty.empty() || file->unlinked) return ok();
  S3C_RETURN_IF_ERROR(syncPath(file->staging->dataPath(), true));
  S3C_RETURN_IF_ERROR(syncPath(file->staging->journalPath(), false));
  return syncPath(options_.staging_dir, false);
}

Status VolumeFilesystem::fsync(HandleId handle, bool /*datasync: the upload is the same*/) {
  S3C_ASSIGN_OR_RETURN(Handle h, handleOf(handle));
  std::shared_lock ns(namespace_mutex_);
  Status uploaded = flushNode(h.node);
  if (uploaded) return ok();
  if (auto kept = keepStagedDurably(h.node); !kept) {
    log::error("inode {}: {}", h.node->ino, kept.error().describe());
  }
  return asFsyncError(std::move(uploaded).error());
}

Status VolumeFilesystem::syncAll() {
  Status times = ok();
  {
    std::unique_lock ns(namespace_mutex_);
    times = persistDirectoryTimes();
  }
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
    if (uploaded) continue;
    if (auto kept = keepStagedDurably(node); !kept) {
      log::error("inode {}: {}", node->ino, kept.error().describe());
    }
    if (first) first = uploaded;
  }
  if (first && !times) first = times;
  return first;
}

}  // namespace s3cryptfs::fs
