#pragma once

// The exit codes of the s3cryptfs command: an interface scripts rely on, documented in
// docs/OPERATIONS.md. Never renumber; add new codes at the end.
namespace s3cryptfs::app {

enum class ExitCode : int {
  kOk = 0,
  kError = 1,                   // anything not listed below (a bug, an unexpected I/O error)
  kUsage = 2,                   // bad command line, option, configuration file or source URI
  kStoreUnreachable = 10,       // the S3 endpoint does not answer (after retries)
  kNoSuchBucket = 11,           // the bucket (or the dir:// folder) does not exist
  kAccessDenied = 12,           // credentials missing or rejected, access denied
  kNoVolume = 13,               // no s3cryptfs volume at the source
  kVolumeExists = 14,           // init: a volume is already there
  kWrongKey = 15,               // no protector given unlocks the volume, or its service refused
  kKeyUnavailable = 16,         // a secret cannot be read (file, shares, credentials, TLS)
  kVolumeCorrupt = 17,          // the volume descriptor fails authentication or is too new
  kMountPointMissing = 18,      // the mount point does not exist or is not a directory
  kMountPointBusy = 19,         // something is mounted there already
  kMountFailed = 20,            // FUSE refused the mount
  kDaemonDied = 21,             // the background daemon ended before the mount was ready
  kDirtyDataLeft = 22,          // shutdown could not upload everything (it stays in staging)
  kStagingInUse = 23,           // another mount of this volume uses the same staging folder
  kKeyServiceUnreachable = 24,  // a key service (KMS, KMIP, Vault) did not answer in time
  kConflict = 25,               // the descriptor changed under us (another admin): run again
  kAborted = 130,               // a second SIGINT: stopped at once, the journal keeps the rest
};

inline int toInt(ExitCode code) {
  return static_cast<int>(code);
}

}  // namespace s3cryptfs::app
