#include "volume_filesystem_impl.h"

namespace s3cryptfs::fs {

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
