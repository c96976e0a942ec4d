#pragma once

// The composition root: the one place the object graph of a mount is built, bottom up:
// store (dir:// or s3://) → RetryingObjectStore → Volume → Filesystem. The FUSE session on top
// is made by the mount command. Each step's errors carry the exit code they end in.

#include <memory>
#include <string>
#include <vector>

#include "s3cryptfs/config/mount_config.h"
#include "s3cryptfs/core/result.h"
#include "s3cryptfs/fs/filesystem.h"
#include "s3cryptfs/keys/key_protector.h"
#include "s3cryptfs/store/object_store.h"
#include "s3cryptfs/volume/volume.h"

#include "exit_codes.h"

namespace s3cryptfs::app {

// The store the source names, wrapped in RetryingObjectStore. Checks it can be reached and
// read (no such bucket, credentials rejected and unreachable servers are told apart), and on S3
// probes which optional features the server has.
// Errors map to exit codes with exitCodeForStoreError.
Result<std::shared_ptr<store::ObjectStore>> openStore(const config::MountConfig& config);
ExitCode exitCodeForStoreError(const Error& error);

// The staging folder of one volume: config cache.staging_dir, else
// /var/lib/s3cryptfs/staging/<volume id> (root) or $XDG_STATE_HOME/s3cryptfs/staging/<volume id>.
// Created with mode 0700.
Result<std::string> stagingDirFor(const config::MountConfig& config, const volume::Volume& volume);

// Takes the staging folder for this process: an exclusive flock on "<staging_dir>.lock", held
// until the process ends. Two daemons sharing one staging folder would replay and upload each
// other's journal. Waits up to 5 s for a holder that is winding down (just unmounted), then
// kAlreadyExists (naming the holder's PID).
Status lockStagingDir(const std::string& staging_dir);

// The filesystem over an opened volume, with the caches and bounds of the configuration.
Result<std::unique_ptr<fs::Filesystem>> openFilesystem(std::shared_ptr<volume::Volume> volume,
                                                       const config::MountConfig& config,
                                                       const std::string& staging_dir);

// The exit code an error of Volume::open / Volume::create means.
ExitCode exitCodeForVolumeError(const Error& error);

}  // namespace s3cryptfs::app
