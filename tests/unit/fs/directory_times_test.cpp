// A directory's mtime and ctime follow changes of its entries (create, mkdir, symlink, unlink,
// rmdir, rename), in memory at once and in its marker batched (directory_times.cpp).
#include <fcntl.h>
#include <thread>

#include <gtest/gtest.h>

#include "s3cryptfs/store/fault_injecting_object_store.h"

#include "unit/fs/fs_test_support.h"

namespace s3cryptfs::fs {
namespace {

using store::StoreOp;
using test::FsHarness;

int64_t ns(const Timespec& t) {
  return t.sec * 1000000000 + t.nsec;
}

Attr attrOf(FsHarness& h, const std::string& path) {
  auto ino = h.resolve(path);
  EXPECT_TRUE(ino.has_value());
  auto attr = h.fs().getattr(ino.value_or(0));
  EXPECT_TRUE(attr.has_value());
  return attr.value_or(Attr{});
}

void pause() {
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

TEST(DirectoryTimesTest, EntryChangesAdvanceAndPersistTheTimes) {
  FsHarness h(test::makeStore("memory"));
  S3C_ASSERT_OK(h.mkdirPath("/d"));
  S3C_ASSERT_OK(h.mkdirPath("/e"));
  Attr before = attrOf(h, "/d");
  pause();
  S3C_ASSERT_OK(h.writeFile("/d/f", asBytes("x")));
  Attr created = attrOf(h, "/d");
  EXPECT_GT(ns(created.mtime), ns(before.mtime));
  EXPECT_GT(ns(created.ctime), ns(before.ctime));
  EXPECT_EQ(attrOf(h, "/").mtime, attrOf(h, "/").mtime);  // stable when nothing changes

  pause();
  S3C_ASSERT_OK(h.fs().rename(*h.resolve("/d"), "f", *h.resolve("/e"), "g", 0));
  Attr d_renamed = attrOf(h, "/d");
  Attr e_renamed = attrOf(h, "/e");
  EXPECT_GT(ns(d_renamed.mtime), ns(created.mtime));
  EXPECT_GT(ns(e_renamed.mtime), ns(created.mtime));

  pause();
  S3C_ASSERT_OK(h.fs().unlink(*h.resolve("/e"), "g"));
  Attr e_unlinked = attrOf(h, "/e");
  EXPECT_GT(ns(e_unlinked.mtime), ns(e_renamed.mtime));

  // The root has no marker until its attributes are set: its times change in memory only.
  Attr root_before = attrOf(h, "/");
  pause();
  S3C_ASSERT_OK(h.fs().rmdir(kRootInode, "d"));
  EXPECT_GT(ns(attrOf(h, "/").mtime), ns(root_before.mtime));

  // A remount (after syncAll) reads the same times from the markers.
  h.reopen();
  EXPECT_EQ(attrOf(h, "/e").mtime, e_unlinked.mtime);
  EXPECT_EQ(attrOf(h, "/e").ctime, e_unlinked.ctime);
}

TEST(DirectoryTimesTest, ABurstOfCreatesWritesTheMarkerOncePerInterval) {
  auto faulty = std::make_shared<store::FaultInjectingObjectStore>(test::makeStore("memory"));
  FsHarness h(faulty);
  S3C_ASSERT_OK(h.mkdirPath("/d"));
  InodeId dir = *h.resolve("/d");
  uint64_t puts = faulty->calls(StoreOp::kPut);
  constexpr int kFiles = 40;
  for (int i = 0; i < kFiles; ++i) {
    S3C_ASSERT_OK(h.fs().mknod(dir, "f" + std::to_string(i), S_IFREG | 0644, h.caller_));
  }
  // One PUT per file, plus at most one marker write for the burst (which takes well under the
  // interval; two if a slow machine crosses it once).
  uint64_t burst = faulty->calls(StoreOp::kPut) - puts;
  EXPECT_GE(burst, static_cast<uint64_t>(kFiles));
  EXPECT_LE(burst, static_cast<uint64_t>(kFiles) + 2);
  Attr last = attrOf(h, "/d");

  // The unwritten times survive a cache refresh (TTL expiry) and are written by syncAll.
  std::this_thread::sleep_for(h.options().metadata_ttl + std::chrono::milliseconds(50));
  EXPECT_EQ(attrOf(h, "/d").mtime, last.mtime);
  uint64_t before_sync = faulty->calls(StoreOp::kPut);
  S3C_ASSERT_OK(h.fs().syncAll());
  EXPECT_EQ(faulty->calls(StoreOp::kPut) - before_sync, 1u);
  S3C_ASSERT_OK(h.fs().syncAll());  // nothing left to write
  EXPECT_EQ(faulty->calls(StoreOp::kPut) - before_sync, 1u);
  h.reopen();
  EXPECT_EQ(attrOf(h, "/d").mtime, last.mtime);
}

}  // namespace
}  // namespace s3cryptfs::fs
