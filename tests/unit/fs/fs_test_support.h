#pragma once

#include <fcntl.h>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "s3cryptfs/fs/volume_filesystem.h"
#include "s3cryptfs/keys/keyfile_protector.h"
#include "s3cryptfs/store/dir_object_store.h"
#include "s3cryptfs/store/in_memory_object_store.h"
#include "s3cryptfs/volume/volume.h"

#include "unit/store/store_test_support.h"

namespace s3cryptfs::fs::test {

inline keys::KeyFileProtector& testProtector() {
  static keys::KeyFileProtector protector = [] {
    SecureBuffer key(keys::kKeyFileKeySize);
    for (size_t i = 0; i < key.size(); ++i)
      key.data()[i] = static_cast<uint8_t>(i * 13 + 5);
    auto made = keys::KeyFileProtector::fromKey(std::move(key));
    if (!made) std::abort();
    return std::move(made).value();
  }();
  return protector;
}

// Deterministic content: byte i of stream `seed`.
inline Bytes pattern(size_t size, uint32_t seed) {
  Bytes out(size);
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < size; ++i) {
    x = x * 1103515245u + 12345u;
    out[i] = static_cast<uint8_t>(x >> 16);
  }
  return out;
}

// One volume on one store, and a filesystem over it that tests can drop and reopen (a reopen
// is a remount: nothing survives but the store and the staging folder).
class FsHarness {
 public:
  explicit FsHarness(std::shared_ptr<store::ObjectStore> store, uint32_t chunk_size = 4096,
                     FilesystemOptions options = {},
                     format::NameMode name_mode = format::NameMode::kEncrypted)
      : store_(std::move(store)), options_(std::move(options)) {
    staging_ = store::test::freshFolder();
    options_.staging_dir = staging_;
    volume::NamedProtector named{"", &testProtector()};
    volume::CreateOptions create;
    create.chunk_size = chunk_size;
    create.name_mode = name_mode;
    auto made = volume::Volume::create(store_, {&named, 1}, create);
    if (!made) throw std::runtime_error(made.error().describe());
    reopen();
  }

  Filesystem& fs() { return *fs_; }
  store::ObjectStore& store() { return *store_; }
  std::shared_ptr<store::ObjectStore> sharedStore() { return store_; }
  const std::string& stagingDir() const { return staging_; }
  FilesystemOptions& options() { return options_; }

  // Unmount cleanly (syncAll) or not (a killed daemon), then mount again.
  void reopen(bool sync = true) {
    if (fs_ != nullptr && sync) {
      auto synced = fs_->syncAll();
      if (!synced) throw std::runtime_error(synced.error().describe());
    }
    fs_.reset();
    volume::NamedProtector named{"", &testProtector()};
    auto opened = volume::Volume::open(store_, {&named, 1});
    if (!opened) throw std::runtime_error(opened.error().describe());
    auto fs = openVolumeFilesystem(*opened, options_);
    if (!fs) throw std::runtime_error(fs.error().describe());
    fs_ = std::move(fs).value();
  }
  // A second mount of the same volume (another machine), with its own staging folder.
  std::unique_ptr<Filesystem> openSecond() {
    volume::NamedProtector named{"", &testProtector()};
    auto opened = volume::Volume::open(store_, {&named, 1});
    if (!opened) throw std::runtime_error(opened.error().describe());
    FilesystemOptions options = options_;
    options.staging_dir = store::test::freshFolder();
    auto fs = openVolumeFilesystem(*opened, options);
    if (!fs) throw std::runtime_error(fs.error().describe());
    return std::move(fs).value();
  }
  // Drops the filesystem without any flush: what a SIGKILL leaves behind.
  void kill() { fs_.reset(); }

  // ---- path helpers ----
  Result<InodeId> resolve(const std::string& path) {
    InodeId ino = kRootInode;
    if (path == "/") return ino;
    size_t at = 1;
    while (at <= path.size()) {
      size_t slash = path.find('/', at);
      if (slash == std::string::npos) slash = path.size();
      auto entry = fs_->lookup(ino, path.substr(at, slash - at));
      if (!entry) return entry.error();
      ino = entry->attr.ino;
      at = slash + 1;
    }
    return ino;
  }
  static std::pair<std::string, std::string> split(const std::string& path) {
    size_t slash = path.rfind('/');
    return {slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1)};
  }
  Result<InodeId> parentOf(const std::string& path) { return resolve(split(path).first); }

  Status writeFile(const std::string& path, ByteSpan data, size_t piece = 65536) {
    S3C_ASSIGN_OR_RETURN(InodeId parent, parentOf(path));
    S3C_ASSIGN_OR_RETURN(Filesystem::Created created, fs_->create(parent, split(path).second, 0644,
                                                                  O_WRONLY | O_TRUNC, caller_));
    for (size_t at = 0; at < data.size(); at += piece) {
      size_t n = std::min(piece, data.size() - at);
      S3C_ASSIGN_OR_RETURN(size_t written, fs_->write(created.handle, at, data.subspan(at, n)));
      if (written != n) return Error(ErrorKind::kIo, "short write");
    }
    Status flushed = fs_->flush(created.handle);
    Status released = fs_->release(created.handle);
    S3C_RETURN_IF_ERROR(flushed);
    return released;
  }
  Result<Bytes> readFile(const std::string& path, size_t piece = 65536) {
    S3C_ASSIGN_OR_RETURN(InodeId ino, resolve(path));
    S3C_ASSIGN_OR_RETURN(HandleId handle, fs_->open(ino, O_RDONLY));
    Bytes out;
    Bytes buffer(piece);
    Status status = ok();
    for (;;) {
      auto n = fs_->read(handle, out.size(), buffer);
      if (!n) {
        status = n.error();
        break;
      }
      if (*n == 0) break;
      out.insert(out.end(), buffer.begin(), buffer.begin() + static_cast<long>(*n));
    }
    (void)fs_->release(handle);
    S3C_RETURN_IF_ERROR(status);
    return out;
  }
  Result<Entry> mkdirPath(const std::string& path, uint32_t mode = 0755) {
    S3C_ASSIGN_OR_RETURN(InodeId parent, parentOf(path));
    return fs_->mkdir(parent, split(path).second, mode, caller_);
  }
  std::vector<std::string> list(const std::string& path, bool plus = false) {
    std::vector<std::string> names;
    auto ino = resolve(path);
    if (!ino) return names;
    auto handle = fs_->opendir(*ino);
    if (!handle) return names;
    uint64_t cookie = 0;
    for (;;) {
      auto page = fs_->readdir(*handle, cookie, 3, plus);
      if (!page || page->empty()) break;
      for (const auto& entry : *page) {
        if (entry.name != "." && entry.name != "..") names.push_back(entry.name);
        cookie = entry.next_cookie;
      }
    }
    (void)fs_->releasedir(*handle);
    std::sort(names.begin(), names.end());
    return names;
  }

  Caller caller_{1000, 1000, 1, 022};

 private:
  std::shared_ptr<store::ObjectStore> store_;
  FilesystemOptions options_;
  std::string staging_;
  std::unique_ptr<Filesystem> fs_;
};

// "memory", "dir", or either with "-plaintext-names" (the volume's name mode, see nameModeOf).
inline format::NameMode nameModeOf(const std::string& kind) {
  return kind.ends_with("-plaintext-names") ? format::NameMode::kPlaintext
                                            : format::NameMode::kEncrypted;
}
inline std::shared_ptr<store::ObjectStore> makeStore(const std::string& kind,
                                                     uint64_t min_part_size = 1) {
  if (kind.starts_with("dir")) {
    store::DirStoreOptions options;
    options.durable = false;
    options.min_part_size = min_part_size;
    auto dir = store::DirObjectStore::open(store::test::freshFolder(), options);
    if (!dir) std::abort();
    return std::shared_ptr<store::ObjectStore>(std::move(dir).value());
  }
  store::InMemoryStoreOptions options;
  options.min_part_size = min_part_size;
  return std::make_shared<store::InMemoryObjectStore>(options);
}

#define S3C_ASSERT_OK(expr)                                         \
  do {                                                              \
    auto s3c_ok_ = (expr);                                          \
    ASSERT_TRUE(s3c_ok_.has_value()) << s3c_ok_.error().describe(); \
  } while (false)
#define S3C_EXPECT_ERRNO(expr, err)                                                 \
  do {                                                                              \
    auto s3c_err_ = (expr);                                                         \
    ASSERT_FALSE(s3c_err_.has_value()) << "expected errno " << (err);               \
    EXPECT_EQ(s3c_err_.error().errnoValue(), (err)) << s3c_err_.error().describe(); \
  } while (false)

}  // namespace s3cryptfs::fs::test
