#pragma once

#define FUSE_USE_VERSION 312
#include <memory>

#include <fuse_lowlevel.h>

#include "s3cryptfs/fs/filesystem.h"
#include "s3cryptfs/fuse/fuse_session.h"

namespace s3cryptfs::fuse {

// What every trampoline needs; the session's userdata.
struct OperationsContext {
  std::shared_ptr<fs::Filesystem> filesystem;
  FuseOptions options;
};

// The low-level operation table: each entry forwards one request to the Filesystem.
const fuse_lowlevel_ops& lowLevelOperations();

}  // namespace s3cryptfs::fuse
