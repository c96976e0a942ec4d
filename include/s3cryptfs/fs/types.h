#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <sys/stat.h>
#include <sys/types.h>
#include <vector>

namespace s3cryptfs::fs {

// Inode numbers come from a counter in the inode table, never from pointers. 1 is the root.
using InodeId = uint64_t;
inline constexpr InodeId kRootInode = 1;
// Open-file and open-directory handles.
using HandleId = uint64_t;

struct Timespec {
  int64_t sec = 0;
  int64_t nsec = 0;
  friend bool operator==(const Timespec&, const Timespec&) = default;
};

// What stat(2) shows. mode includes the file type bits (S_IFREG, S_IFDIR, S_IFLNK, S_IFIFO).
struct Attr {
  InodeId ino = 0;
  uint32_t mode = 0;
  uint32_t nlink = 1;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint64_t size = 0;
  uint64_t blocks = 0;  // 512-byte units
  Timespec atime;
  Timespec mtime;
  Timespec ctime;
};

struct Entry {
  Attr attr;
  uint64_t generation = 0;
};

// The caller of an operation (from the FUSE request).
struct Caller {
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t pid = 0;
  uint32_t umask = 022;
};

// Fields of a setattr request; unset optionals are left unchanged.
struct SetAttrRequest {
  std::optional<uint32_t> mode;  // permission bits only
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
  std::optional<uint64_t> size;  // truncate up or down
  std::optional<Timespec> atime;
  std::optional<Timespec> mtime;
  bool atime_now = false;
  bool mtime_now = false;
  std::optional<HandleId> handle;  // when called on an open file (ftruncate)
};

struct DirEntry {
  std::string name;
  InodeId ino = 0;
  uint32_t type = 0;           // S_IFREG, S_IFDIR, ... (file type bits only)
  uint64_t next_cookie = 0;    // offset to resume after this entry
  std::optional<Entry> entry;  // filled for readdirplus
};

struct StatFs {
  uint64_t block_size = 4096;
  uint64_t blocks = 0;
  uint64_t blocks_free = 0;
  uint64_t files = 0;
  uint64_t files_free = 0;
  uint32_t name_max = 255;
};

// Flags for rename (values of the Linux renameat2 flags).
inline constexpr unsigned kRenameNoReplace = 1;  // RENAME_NOREPLACE
inline constexpr unsigned kRenameExchange = 2;   // RENAME_EXCHANGE

}  // namespace s3cryptfs::fs
