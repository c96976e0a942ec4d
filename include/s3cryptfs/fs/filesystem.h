#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "s3cryptfs/core/bytes.h"
#include "s3cryptfs/core/result.h"
#include "s3cryptfs/fs/types.h"

namespace s3cryptfs::fs {

// The POSIX model over an encrypted volume. It knows nothing of FUSE: the adapter in src/fuse
// translates requests into these calls and Error::errnoValue() into replies, so the whole
// behaviour can be tested without a mount. Every method is safe to call from many threads.
// docs/SEMANTICS.md says, per operation, what works and which errno the rest gets.
class Filesystem {
 public:
  virtual ~Filesystem() = default;

  virtual Result<Entry> lookup(InodeId parent, std::string_view name) = 0;
  // The kernel dropped `count` references to ino (FUSE forget).
  virtual void forget(InodeId ino, uint64_t count) = 0;
  virtual Result<Attr> getattr(InodeId ino) = 0;
  virtual Result<Attr> setattr(InodeId ino, const SetAttrRequest& request,
                               const Caller& caller) = 0;

  virtual Result<Entry> mkdir(InodeId parent, std::string_view name, uint32_t mode,
                              const Caller& caller) = 0;
  // FIFOs only; other node types are ENOTSUP (documented).
  virtual Result<Entry> mknod(InodeId parent, std::string_view name, uint32_t mode,
                              const Caller& caller) = 0;
  virtual Result<Entry> symlink(InodeId parent, std::string_view name, std::string_view target,
                                const Caller& caller) = 0;
  virtual Result<std::string> readlink(InodeId ino) = 0;
  virtual Status unlink(InodeId parent, std::string_view name) = 0;
  virtual Status rmdir(InodeId parent, std::string_view name) = 0;
  virtual Status rename(InodeId parent, std::string_view name, InodeId new_parent,
                        std::string_view new_name, unsigned flags) = 0;
  // Hard links are not supported: EPERM (documented).
  virtual Result<Entry> link(InodeId ino, InodeId new_parent, std::string_view new_name) = 0;

  struct Created {
    Entry entry;
    HandleId handle = 0;
  };
  virtual Result<Created> create(InodeId parent, std::string_view name, uint32_t mode, int flags,
                                 const Caller& caller) = 0;
  virtual Result<HandleId> open(InodeId ino, int flags) = 0;
  // Right after open: whether the pages the kernel cached from earlier opens of this inode are
  // still the content of the version in the store (so they need not be read again). The answer
  // is remembered: the next open compares against the version this one reads.
  virtual bool keepKernelCache(HandleId /*handle*/) { return false; }
  virtual Result<size_t> read(HandleId handle, uint64_t offset, MutableByteSpan out) = 0;
  virtual Result<size_t> write(HandleId handle, uint64_t offset, ByteSpan data) = 0;
  // close(2) of one descriptor: uploads dirty data (close-to-open consistency).
  virtual Status flush(HandleId handle) = 0;
  // Returns only when the data is durable in the store.
  virtual Status fsync(HandleId handle, bool datasync) = 0;
  virtual Status release(HandleId handle) = 0;

  virtual Result<HandleId> opendir(InodeId ino) = 0;
  // Entries after `cookie` (0 = from the start, including "." and ".."), at most max_entries.
  virtual Result<std::vector<DirEntry>> readdir(HandleId handle, uint64_t cookie,
                                                size_t max_entries, bool plus) = 0;
  virtual Status releasedir(HandleId handle) = 0;

  virtual Result<StatFs> statfs() = 0;

  virtual Result<Bytes> getxattr(InodeId ino, std::string_view name) = 0;
  virtual Status setxattr(InodeId ino, std::string_view name, ByteSpan value, int flags) = 0;
  virtual Result<std::vector<std::string>> listxattr(InodeId ino) = 0;
  virtual Status removexattr(InodeId ino, std::string_view name) = 0;

  // Uploads everything dirty (unmount, SIGTERM). Returns the first error; what could not be
  // uploaded stays in the staging journal for the next mount.
  virtual Status syncAll() = 0;
};

}  // namespace s3cryptfs::fs
