#pragma once
// InMemoryFilesystem: a working fs::Filesystem fake, all in memory, for testing the FUSE
// adapter (src/fuse) through a real kernel mount without the filesystem core, S3 or crypto.
// It is a fake: simple POSIX behaviour, no persistence, one mutex. The real filesystem core is
// tested through the same mount in tests/integration/mount.

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "s3cryptfs/fs/filesystem.h"

namespace s3cryptfs::test {

class InMemoryFilesystem final : public fs::Filesystem {
 public:
  InMemoryFilesystem();

  Result<fs::Entry> lookup(fs::InodeId parent, std::string_view name) override;
  void forget(fs::InodeId ino, uint64_t count) override;
  Result<fs::Attr> getattr(fs::InodeId ino) override;
  Result<fs::Attr> setattr(fs::InodeId ino, const fs::SetAttrRequest& request,
                           const fs::Caller& caller) override;
  Result<fs::Entry> mkdir(fs::InodeId parent, std::string_view name, uint32_t mode,
                          const fs::Caller& caller) override;
  Result<fs::Entry> mknod(fs::InodeId parent, std::string_view name, uint32_t mode,
                          const fs::Caller& caller) override;
  Result<fs::Entry> symlink(fs::InodeId parent, std::string_view name, std::string_view target,
                            const fs::Caller& caller) override;
  Result<std::string> readlink(fs::InodeId ino) override;
  Status unlink(fs::InodeId parent, std::string_view name) override;
  Status rmdir(fs::InodeId parent, std::string_view name) override;
  Status rename(fs::InodeId parent, std::string_view name, fs::InodeId new_parent,
                std::string_view new_name, unsigned flags) override;
  Result<fs::Entry> link(fs::InodeId ino, fs::InodeId new_parent,
                         std::string_view new_name) override;
  Result<Created> create(fs::InodeId parent, std::string_view name, uint32_t mode, int flags,
                         const fs::Caller& caller) override;
  Result<fs::HandleId> open(fs::InodeId ino, int flags) override;
  Result<size_t> read(fs::HandleId handle, uint64_t offset, MutableByteSpan out) override;
  Result<size_t> write(fs::HandleId handle, uint64_t offset, ByteSpan data) override;
  Status flush(fs::HandleId handle) override;
  Status fsync(fs::HandleId handle, bool datasync) override;
  Status release(fs::HandleId handle) override;
  Result<fs::HandleId> opendir(fs::InodeId ino) override;
  Result<std::vector<fs::DirEntry>> readdir(fs::HandleId handle, uint64_t cookie,
                                            size_t max_entries, bool plus) override;
  Status releasedir(fs::HandleId handle) override;
  Result<fs::StatFs> statfs() override;
  Result<Bytes> getxattr(fs::InodeId ino, std::string_view name) override;
  Status setxattr(fs::InodeId ino, std::string_view name, ByteSpan value, int flags) override;
  Result<std::vector<std::string>> listxattr(fs::InodeId ino) override;
  Status removexattr(fs::InodeId ino, std::string_view name) override;
  Status syncAll() override;

  // For assertions: calls seen so far.
  uint64_t syncAllCalls() const;
  uint64_t flushCalls() const;
  // Outstanding kernel lookups of ino (what forget() has not given back yet).
  uint64_t lookupCount(fs::InodeId ino) const;

 private:
  struct Node {
    fs::Attr attr;
    fs::InodeId parent = 0;
    std::map<std::string, fs::InodeId, std::less<>> children;
    Bytes data;
    std::string target;
    std::map<std::string, Bytes, std::less<>> xattrs;
    uint64_t lookups = 0;
  };
  Node* find(fs::InodeId ino);
  Result<Node*> directory(fs::InodeId ino);
  Result<fs::Entry> makeNode(fs::InodeId parent, std::string_view name, uint32_t mode,
                             const fs::Caller& caller);
  fs::Entry entryOf(Node& node);
  void touch(Node& node, bool content);

  mutable std::mutex mutex_;
  std::map<fs::InodeId, Node> nodes_;
  std::map<fs::HandleId, fs::InodeId> handles_;
  fs::InodeId next_ino_ = 2;
  fs::HandleId next_handle_ = 1;
  uint64_t sync_all_calls_ = 0;
  uint64_t flush_calls_ = 0;
};

}  // namespace s3cryptfs::test
