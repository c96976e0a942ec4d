#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "s3cryptfs/core/result.h"
#include "s3cryptfs/fs/filesystem.h"

namespace s3cryptfs::fuse {

// How the kernel sees the mount. Filled by the app from config::FuseSettings.
struct FuseOptions {
  double attr_ttl_s = 1.0;   // how long the kernel may cache attributes
  double entry_ttl_s = 1.0;  // how long the kernel may cache name lookups
  bool allow_other = false;  // other users may enter the mount (needs root or user_allow_other)
  // The kernel checks permissions against mode/uid/gid (the filesystem core does not).
  bool default_permissions = true;
  bool read_only = false;
  uint32_t max_threads = 16;  // upper bound of FUSE worker threads
  std::string fs_name;        // shown as the source in /proc/mounts, e.g. "s3://bucket/prefix"
  std::string subtype = "s3cryptfs";  // the type is "fuse.<subtype>"
  // libfuse's own request trace on stderr. It prints plaintext names: for debugging the adapter
  // only, never set by the app.
  bool debug = false;
};

// One mounted FUSE session serving an fs::Filesystem: libfuse3's low-level API and its
// multi-threaded loop. Each request becomes one Filesystem call; an error becomes its
// Error::errnoValue() in the reply. This class is the only user of libfuse.
//
// Lifecycle: mount() (the mount point is live when it returns), run() on one thread until the
// file system is unmounted (umount, fusermount3 -u) or requestExit() is called, then the
// destructor (unmounts if still mounted).
class FuseSession {
 public:
  // Mounts at `mountpoint`. Errors: kNotFound (no such mount point), kNotDirectory,
  // kAlreadyExists (something is already mounted there), kPermissionDenied, kIo.
  static Result<std::unique_ptr<FuseSession>> mount(std::shared_ptr<fs::Filesystem> filesystem,
                                                    const std::string& mountpoint,
                                                    const FuseOptions& options);
  ~FuseSession();
  FuseSession(const FuseSession&) = delete;
  FuseSession& operator=(const FuseSession&) = delete;

  // Serves requests until unmount or requestExit(). Returns an error only if the loop failed.
  Status run();
  // From any thread but a FUSE worker (not async-signal-safe): ends run(), which then closes the
  // connection (requests of files still open fail with ENOTCONN) and unmounts. Returns once
  // run() has returned (or after 10 s).
  void requestExit();
  // True once run() returned because the kernel side went away or requestExit() was called.
  bool exited() const;
  const std::string& mountpoint() const { return mountpoint_; }

 private:
  struct Impl;
  explicit FuseSession(std::unique_ptr<Impl> impl, std::string mountpoint);
  std::unique_ptr<Impl> impl_;
  std::string mountpoint_;
};

// True when `path` is the root of a mount (it is busy for a new mount).
Result<bool> isMountPoint(const std::string& path);

// Whether a new mount can go on `path`: kNotFound (missing), kNotDirectory, kAlreadyExists
// (something is mounted there, or a dead FUSE mount whose daemon is gone), kIo.
Status checkMountPoint(const std::string& path);

}  // namespace s3cryptfs::fuse
