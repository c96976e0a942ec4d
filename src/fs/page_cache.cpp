#include "volume_filesystem_impl.h"

namespace s3cryptfs::fs {

// ===================================================================== the kernel's page cache

// The kernel may keep the pages of earlier opens when the store still holds the version they
// were read from: a warm re-read then costs no request but this HEAD. The HEAD is made even
// when the cached attributes are fresh by the TTL: keeping pages of a replaced version would
// serve its content for as long as the kernel keeps them, not just for the TTL.
bool VolumeFilesystem::keepKernelCache(HandleId handle) {
  std::shared_lock ns(namespace_mutex_);
  auto h = handleOf(handle);
  if (!h) return false;
  std::string cached;
  std::string path;
  std::string attrs_etag;
  FilePtr file;
  {
    std::lock_guard lock(table_mutex_);
    cached = h->node->kernel_etag;
    path = pathLocked(*h->node);
    attrs_etag = h->node->etag;
    file = h->node->file;
  }
  std::optional<std::string> stored;
  if (!cached.empty()) {
    auto key = objects_.objectKey(path);
    if (key) {
      auto head = store_.head(*key);
      if (head) stored = head->etag;
    }
  }
  bool keep = stored && *stored == cached;
  // Not kept: remember the version the kernel's new pages will come from. An open file that
  // has read its header already reads its own version; else the first read takes the newest,
  // at least the one just seen. An older guess only costs one more drop, never stale pages.
  std::string reads = stored.value_or(attrs_etag);
  if (file != nullptr) {
    std::lock_guard file_lock(file->mutex);
    if (file->cipher) reads = file->remote_etag;
  }
  std::lock_guard lock(table_mutex_);
  if (!keep) h->node->kernel_etag = reads;
  return keep;
}

}  // namespace s3cryptfs::fs
