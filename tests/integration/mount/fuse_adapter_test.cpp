// The FUSE adapter (src/fuse) through a real kernel mount, in this process, over
// InMemoryFilesystem (a working fake of fs::Filesystem: tests/support/in_memory_filesystem.h).
// What is checked here is the adapter: every request reaches the filesystem and every error
// comes back as the right errno. The real filesystem core behind the real binary is covered by
// mount_test.cpp.

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <set>
#include <string>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <thread>
#include <unistd.h>

#include <gtest/gtest.h>

#include "s3cryptfs/fuse/fuse_session.h"

#include "support/in_memory_filesystem.h"

namespace s3cryptfs::fuse {
namespace {

using test::InMemoryFilesystem;

std::string makeTempDir() {
  char pattern[] = "/tmp/s3c-fuse-adapter-XXXXXX";
  char* dir = mkdtemp(pattern);
  return dir == nullptr ? std::string() : std::string(dir);
}

class FuseAdapterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = makeTempDir();
    ASSERT_FALSE(root_.empty());
    mnt_ = root_ + "/mnt";
    ASSERT_EQ(::mkdir(mnt_.c_str(), 0755), 0);
    fs_ = std::make_shared<InMemoryFilesystem>();
    FuseOptions options;
    options.attr_ttl_s = 0;  // every stat reaches the filesystem: tests see its answers
    options.entry_ttl_s = 0;
    options.max_threads = 4;
    options.fs_name = "memory://adapter-test";
    auto mounted = FuseSession::mount(fs_, mnt_, options);
    ASSERT_TRUE(mounted) << mounted.error().describe();
    session_ = std::move(*mounted);
    runner_ = std::thread([this] { run_status_ = session_->run(); });
  }

  void TearDown() override {
    if (session_) {
      session_->requestExit();
      if (runner_.joinable()) runner_.join();
      session_.reset();
    }
    ::rmdir(mnt_.c_str());
    ::rmdir(root_.c_str());
  }

  std::string path(const std::string& name) const { return mnt_ + "/" + name; }

  void writeFile(const std::string& name, const std::string& content) {
    int fd = ::open(path(name).c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
    ASSERT_GE(fd, 0) << std::strerror(errno);
    ASSERT_EQ(::write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
    ASSERT_EQ(::close(fd), 0);
  }

  std::string readFile(const std::string& name) {
    int fd = ::open(path(name).c_str(), O_RDONLY);
    if (fd < 0) return "<open failed: " + std::string(std::strerror(errno)) + ">";
    std::string out;
    char buffer[65536];
    ssize_t n = 0;
    while ((n = ::read(fd, buffer, sizeof buffer)) > 0)
      out.append(buffer, static_cast<size_t>(n));
    ::close(fd);
    return out;
  }

  std::string root_;
  std::string mnt_;
  std::shared_ptr<InMemoryFilesystem> fs_;
  std::unique_ptr<FuseSession> session_;
  std::thread runner_;
  Status run_status_ = ok();
};

TEST_F(FuseAdapterTest, MountIsListedWithFsNameAndType) {
  auto is_mount = isMountPoint(mnt_);
  ASSERT_TRUE(is_mount);
  EXPECT_TRUE(*is_mount);
  FILE* mounts = std::fopen("/proc/self/mounts", "r");
  ASSERT_NE(mounts, nullptr);
  char line[4096];
  bool found = false;
  while (std::fgets(line, sizeof line, mounts) != nullptr) {
    std::string text(line);
    if (text.find(" " + mnt_ + " ") != std::string::npos) {
      EXPECT_NE(text.find("memory://adapter-test"), std::string::npos) << text;
      EXPECT_NE(text.find("fuse.s3cryptfs"), std::string::npos) << text;
      found = true;
    }
  }
  std::fclose(mounts);
  EXPECT_TRUE(found);
}

TEST_F(FuseAdapterTest, WriteThenReadBackWithSizeAndMode) {
  const std::string content = "hello through the kernel\n";
  writeFile("a.txt", content);
  EXPECT_EQ(readFile("a.txt"), content);
  struct stat st {};
  ASSERT_EQ(::stat(path("a.txt").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0644u & ~0u);
  EXPECT_EQ(st.st_size, static_cast<off_t>(content.size()));
  EXPECT_GE(fs_->flushCalls(), 1u);  // close(2) reached flush
}

TEST_F(FuseAdapterTest, LargeWriteAndOffsetReads) {
  std::string big(3 * 1024 * 1024 + 17, '\0');
  for (size_t i = 0; i < big.size(); ++i)
    big[i] = static_cast<char>('a' + (i * 7) % 26);
  writeFile("big", big);
  EXPECT_EQ(readFile("big"), big);
  int fd = ::open(path("big").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  char buffer[100];
  ASSERT_EQ(::pread(fd, buffer, sizeof buffer, 2 * 1024 * 1024 + 5), 100);
  EXPECT_EQ(std::string(buffer, 100), big.substr(2 * 1024 * 1024 + 5, 100));
  ::close(fd);
}

TEST_F(FuseAdapterTest, ErrnosOfTheFilesystemReachTheCaller) {
  struct stat st {};
  errno = 0;
  EXPECT_EQ(::stat(path("missing").c_str(), &st), -1);
  EXPECT_EQ(errno, ENOENT);

  ASSERT_EQ(::mkdir(path("d").c_str(), 0755), 0);
  EXPECT_EQ(::mkdir(path("d").c_str(), 0755), -1);
  EXPECT_EQ(errno, EEXIST);
  writeFile("d/f", "x");
  EXPECT_EQ(::rmdir(path("d").c_str()), -1);
  EXPECT_EQ(errno, ENOTEMPTY);
  EXPECT_EQ(::unlink(path("d").c_str()), -1);
  EXPECT_EQ(errno, EISDIR);
  EXPECT_EQ(::rmdir(path("d/f").c_str()), -1);
  EXPECT_EQ(errno, ENOTDIR);
  EXPECT_EQ(::link(path("d/f").c_str(), path("hard").c_str()), -1);
  EXPECT_EQ(errno, EPERM);
  EXPECT_EQ(::mknod(path("chr").c_str(), S_IFCHR | 0600, makedev(1, 3)), -1);
  EXPECT_EQ(errno, ENOTSUP);
  std::string long_name(300, 'n');
  EXPECT_EQ(::mkdir(path(long_name).c_str(), 0755), -1);
  EXPECT_EQ(errno, ENAMETOOLONG);
}

TEST_F(FuseAdapterTest, DirectoriesRenameAndListing) {
  ASSERT_EQ(::mkdir(path("dir").c_str(), 0700), 0);
  std::set<std::string> expected;
  // More entries than fit in one readdir reply, so paging by cookie is exercised.
  for (int i = 0; i < 300; ++i) {
    std::string name = "file-with-a-rather-long-name-" + std::to_string(i);
    writeFile("dir/" + name, std::to_string(i));
    expected.insert(name);
  }
  DIR* dir = ::opendir(path("dir").c_str());
  ASSERT_NE(dir, nullptr);
  std::set<std::string> seen;
  while (dirent* entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    EXPECT_EQ(entry->d_type, DT_REG) << name;
    EXPECT_TRUE(seen.insert(name).second) << "listed twice: " << name;
  }
  ::closedir(dir);
  EXPECT_EQ(seen, expected);

  ASSERT_EQ(::rename(path("dir/file-with-a-rather-long-name-1").c_str(), path("moved").c_str()), 0);
  EXPECT_EQ(readFile("moved"), "1");
  EXPECT_EQ(::renameat2(AT_FDCWD, path("moved").c_str(), AT_FDCWD,
                        path("dir/file-with-a-rather-long-name-2").c_str(), RENAME_NOREPLACE),
            -1);
  EXPECT_EQ(errno, EEXIST);
}

TEST_F(FuseAdapterTest, SymlinksFifosAndAttributes) {
  ASSERT_EQ(::symlink("some/target", path("link").c_str()), 0);
  char target[64] = {};
  ASSERT_EQ(::readlink(path("link").c_str(), target, sizeof target), 11);
  EXPECT_STREQ(target, "some/target");
  ASSERT_EQ(::mkfifo(path("fifo").c_str(), 0600), 0);
  struct stat st {};
  ASSERT_EQ(::lstat(path("fifo").c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));

  writeFile("f", "0123456789");
  ASSERT_EQ(::chmod(path("f").c_str(), 0600), 0);
  ASSERT_EQ(::truncate(path("f").c_str(), 4), 0);
  timespec times[2] = {{1000000000, 5}, {1200000000, 7}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path("f").c_str(), times, 0), 0);
  ASSERT_EQ(::stat(path("f").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_size, 4);
  EXPECT_EQ(st.st_mtim.tv_sec, 1200000000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 7);
  EXPECT_EQ(st.st_atim.tv_sec, 1000000000);
  EXPECT_EQ(readFile("f"), "0123");
  // open(O_TRUNC) arrives as a truncate to 0.
  writeFile("f", "ab");
  EXPECT_EQ(readFile("f"), "ab");
}

TEST_F(FuseAdapterTest, ExtendedAttributes) {
  writeFile("x", "data");
  const std::string p = path("x");
  ASSERT_EQ(::setxattr(p.c_str(), "user.color", "blue", 4, 0), 0) << std::strerror(errno);
  ASSERT_EQ(::setxattr(p.c_str(), "user.size", "L", 1, 0), 0);
  EXPECT_EQ(::setxattr(p.c_str(), "user.color", "red", 3, XATTR_CREATE), -1);
  EXPECT_EQ(errno, EEXIST);
  char value[16] = {};
  EXPECT_EQ(::getxattr(p.c_str(), "user.color", nullptr, 0), 4);
  EXPECT_EQ(::getxattr(p.c_str(), "user.color", value, sizeof value), 4);
  EXPECT_EQ(std::string(value, 4), "blue");
  EXPECT_EQ(::getxattr(p.c_str(), "user.color", value, 2), -1);
  EXPECT_EQ(errno, ERANGE);
  EXPECT_EQ(::getxattr(p.c_str(), "user.none", value, sizeof value), -1);
  EXPECT_EQ(errno, ENODATA);
  char names[64] = {};
  ssize_t len = ::listxattr(p.c_str(), names, sizeof names);
  ASSERT_EQ(len, static_cast<ssize_t>(sizeof("user.color") + sizeof("user.size")));
  EXPECT_EQ(std::string(names, static_cast<size_t>(len)),
            std::string("user.color\0user.size\0", 21));
  ASSERT_EQ(::removexattr(p.c_str(), "user.color"), 0);
  EXPECT_EQ(::removexattr(p.c_str(), "user.color"), -1);
  EXPECT_EQ(errno, ENODATA);
}

TEST_F(FuseAdapterTest, StatfsComesFromTheFilesystem) {
  struct statvfs st {};
  ASSERT_EQ(::statvfs(mnt_.c_str(), &st), 0);
  EXPECT_EQ(st.f_bsize, 4096u);
  EXPECT_EQ(st.f_blocks, 1u << 20);
  EXPECT_EQ(st.f_bfree, 1u << 19);
  EXPECT_EQ(st.f_namemax, 255u);
}

TEST_F(FuseAdapterTest, RequestExitEndsRunEvenWithAnOpenFile) {
  writeFile("open", "x");
  int fd = ::open(path("open").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  auto started = std::chrono::steady_clock::now();
  session_->requestExit();
  runner_.join();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
  EXPECT_TRUE(run_status_) << run_status_.error().describe();
  EXPECT_TRUE(session_->exited());
  ::close(fd);
  auto is_mount = isMountPoint(mnt_);
  ASSERT_TRUE(is_mount);
  EXPECT_FALSE(*is_mount);
}

TEST_F(FuseAdapterTest, ExternalUnmountEndsRun) {
  ASSERT_EQ(std::system(("umount " + mnt_).c_str()), 0);
  runner_.join();
  EXPECT_TRUE(run_status_) << run_status_.error().describe();
  EXPECT_TRUE(session_->exited());
}

TEST_F(FuseAdapterTest, SecondMountOnTheSamePointIsBusy) {
  auto again = FuseSession::mount(fs_, mnt_, FuseOptions{});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind(), ErrorKind::kAlreadyExists);
  EXPECT_NE(again.error().message().find("busy"), std::string::npos);
}

TEST(FuseSessionMount, MissingOrNonDirectoryMountPoint) {
  auto filesystem = std::make_shared<InMemoryFilesystem>();
  auto missing = FuseSession::mount(filesystem, "/nonexistent/s3c-mnt", FuseOptions{});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind(), ErrorKind::kNotFound);
  EXPECT_NE(missing.error().message().find("does not exist"), std::string::npos);
  auto file = FuseSession::mount(filesystem, "/etc/hostname", FuseOptions{});
  ASSERT_FALSE(file);
  EXPECT_EQ(file.error().kind(), ErrorKind::kNotDirectory);
}

}  // namespace
}  // namespace s3cryptfs::fuse
