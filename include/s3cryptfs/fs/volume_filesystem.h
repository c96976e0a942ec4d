#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "s3cryptfs/core/result.h"
#include "s3cryptfs/fs/filesystem.h"
#include "s3cryptfs/volume/volume.h"

namespace s3cryptfs::fs {

// The knobs of the filesystem over one volume; the app fills them from config::MountConfig.
// Memory bound: cache_bytes + upload_concurrency * part_bytes (+ small per-inode state).
struct FilesystemOptions {
  uint64_t cache_bytes = uint64_t{128} << 20;  // plaintext block cache
  std::string staging_dir;                     // ciphertext staging + journal; must exist
  uint32_t upload_concurrency = 8;
  uint64_t part_bytes = uint64_t{8} << 20;  // multipart part size, whole chunks
  std::chrono::milliseconds metadata_ttl{1000};
  std::chrono::milliseconds negative_ttl{1000};
  // Owner of directories that exist only as common prefixes (no marker): the mounting user.
  uint32_t default_uid = 0;
  uint32_t default_gid = 0;
};

// Opens the POSIX view of a volume. Replays the staging journal left by a killed daemon before
// returning, so unflushed writes of the last run are uploaded (or kept for the next try).
Result<std::unique_ptr<Filesystem>> openVolumeFilesystem(std::shared_ptr<volume::Volume> volume,
                                                         const FilesystemOptions& options);

}  // namespace s3cryptfs::fs
