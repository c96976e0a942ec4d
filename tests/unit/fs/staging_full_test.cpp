// A full staging folder: a 2 MiB tmpfs as the staging folder. Writes that cannot be staged fail
// with ENOSPC, and everything acknowledged before stays readable, uploadable and recoverable.
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "unit/fs/fs_test_support.h"

namespace s3cryptfs::fs {
namespace {

using test::FsHarness;
using test::pattern;

// Mounts a small tmpfs over `dir` for the lifetime of the guard (unmounted even when the test
// fails, lazily if a file is still open).
class TmpfsGuard {
 public:
  TmpfsGuard(const std::string& dir, const char* size) : dir_(dir) {
    std::string options = std::string("size=") + size + ",mode=0700";
    mounted_ = ::mount("tmpfs", dir.c_str(), "tmpfs", 0, options.c_str()) == 0;
    if (!mounted_) error_ = errno;
  }
  ~TmpfsGuard() {
    if (mounted_ && ::umount2(dir_.c_str(), 0) != 0) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  int error() const { return error_; }

 private:
  std::string dir_;
  bool mounted_ = false;
  int error_ = 0;
};

constexpr size_t kPiece = 64 * 1024;

// Writes pieces of `data` from offset 0 until one fails; returns the bytes acknowledged and
// checks the failure is ENOSPC.
size_t writeUntilFull(Filesystem& fs, HandleId handle, const Bytes& data) {
  size_t done = 0;
  while (done < data.size()) {
    size_t n = std::min(kPiece, data.size() - done);
    auto written = fs.write(handle, done, ByteSpan(data.data() + done, n));
    if (!written) {
      EXPECT_EQ(written.error().errnoValue(), ENOSPC) << written.error().describe();
      return done;
    }
    EXPECT_EQ(*written, n);
    done += n;
  }
  ADD_FAILURE() << "the staging folder never filled up";
  return done;
}

Bytes readThrough(Filesystem& fs, HandleId handle, uint64_t size) {
  Bytes out(size);
  size_t done = 0;
  while (done < size) {
    auto n = fs.read(handle, done, MutableByteSpan(out.data() + done, size - done));
    if (!n || *n == 0) break;
    done += *n;
  }
  out.resize(done);
  return out;
}

class StagingFullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    h_ = std::make_unique<FsHarness>(test::makeStore("memory"), 4096);
    tmpfs_ = std::make_unique<TmpfsGuard>(h_->stagingDir(), "2m");
    if (!tmpfs_->mounted()) {
      GTEST_SKIP() << "cannot mount a tmpfs (needs root): " << std::strerror(tmpfs_->error());
    }
    h_->reopen(false);  // the staging folder is the tmpfs from here on
  }
  void TearDown() override {
    h_.reset();  // closes the staging files before the unmount
    tmpfs_.reset();
  }
  std::unique_ptr<FsHarness> h_;
  std::unique_ptr<TmpfsGuard> tmpfs_;
};

TEST_F(StagingFullTest, WriteFailsWithEnospcAndKeepsWhatWasWritten) {
  Filesystem& fs = h_->fs();
  Bytes data = pattern(8 << 20, 1);
  auto created = fs.create(kRootInode, "big", 0644, O_RDWR, h_->caller_);
  S3C_ASSERT_OK(created);
  HandleId handle = created->handle;
  size_t acknowledged = writeUntilFull(fs, handle, data);
  ASSERT_GT(acknowledged, 0u);
  ASSERT_LT(acknowledged, data.size());
  Bytes expected(data.begin(), data.begin() + static_cast<long>(acknowledged));

  // The failed write changed nothing: same size, same content.
  auto attr = fs.getattr(created->entry.attr.ino);
  S3C_ASSERT_OK(attr);
  EXPECT_EQ(attr->size, acknowledged);
  EXPECT_EQ(readThrough(fs, handle, acknowledged + kPiece), expected);

  // Rewriting chunks already staged needs no new space.
  Bytes patch = pattern(10000, 2);
  S3C_ASSERT_OK(fs.write(handle, 5000, patch));
  std::memcpy(expected.data() + 5000, patch.data(), patch.size());
  // A write that needs new space still fails, and still changes nothing.
  S3C_EXPECT_ERRNO(fs.write(handle, acknowledged - 100, ByteSpan(data.data(), kPiece)), ENOSPC);
  EXPECT_EQ(readThrough(fs, handle, acknowledged + kPiece), expected);

  // The upload frees the staging folder; writing continues.
  S3C_ASSERT_OK(fs.flush(handle));
  Bytes tail = pattern(kPiece, 3);
  S3C_ASSERT_OK(fs.write(handle, acknowledged, tail));
  expected.insert(expected.end(), tail.begin(), tail.end());
  S3C_ASSERT_OK(fs.flush(handle));
  S3C_ASSERT_OK(fs.release(handle));
  h_->reopen();
  EXPECT_EQ(*h_->readFile("/big"), expected);
}

TEST_F(StagingFullTest, AKillAfterEnospcRecoversTheAcknowledgedData) {
  Filesystem& fs = h_->fs();
  Bytes data = pattern(8 << 20, 4);
  auto created = fs.create(kRootInode, "big", 0644, O_RDWR, h_->caller_);
  S3C_ASSERT_OK(created);
  size_t acknowledged = writeUntilFull(fs, created->handle, data);
  ASSERT_GT(acknowledged, 0u);
  h_->kill();  // no flush: only the staging folder has the data
  h_->reopen(false);
  auto read = h_->readFile("/big");
  S3C_ASSERT_OK(read);
  EXPECT_EQ(*read, Bytes(data.begin(), data.begin() + static_cast<long>(acknowledged)));
}

}  // namespace
}  // namespace s3cryptfs::fs
