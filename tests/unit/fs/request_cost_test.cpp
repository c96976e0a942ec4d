// What the store is asked for a listing with attributes, random reads and a re-open: one HEAD
// per listed entry (not one per probe kind), no readahead on random reads, and the kernel's
// page cache kept across opens only while the object is unchanged.
#include <fcntl.h>
#include <map>
#include <thread>

#include <gtest/gtest.h>

#include "s3cryptfs/core/metrics.h"
#include "s3cryptfs/store/fault_injecting_object_store.h"

#include "unit/fs/fs_test_support.h"

namespace s3cryptfs::fs {
namespace {

using store::StoreOp;
using test::FsHarness;
using test::pattern;

TEST(RequestCostTest, ReaddirplusSendsOneHeadPerEntry) {
  auto faulty = std::make_shared<store::FaultInjectingObjectStore>(test::makeStore("memory"));
  FsHarness h(faulty);
  S3C_ASSERT_OK(h.mkdirPath("/d"));
  constexpr int kFiles = 700;  // more than one lookahead window
  constexpr int kDirs = 5;
  for (int i = 0; i < kFiles; ++i)
    S3C_ASSERT_OK(h.writeFile("/d/f" + std::to_string(i), asBytes("x")));
  for (int i = 0; i < kDirs; ++i)
    S3C_ASSERT_OK(h.mkdirPath("/d/sub" + std::to_string(i)));
  h.reopen();  // a fresh mount: no attribute is cached
  auto dir = h.resolve("/d");
  ASSERT_TRUE(dir.has_value());
  uint64_t heads = faulty->calls(StoreOp::kHead);
  uint64_t lists = faulty->calls(StoreOp::kList);
  auto handle = h.fs().opendir(*dir);
  ASSERT_TRUE(handle.has_value());
  uint64_t cookie = 0;
  size_t with_attrs = 0;
  for (;;) {
    auto page = h.fs().readdir(*handle, cookie, 25, true);  // about what a 4 KiB reply holds
    ASSERT_TRUE(page.has_value()) << page.error().describe();
    if (page->empty()) break;
    for (const auto& entry : *page) {
      cookie = entry.next_cookie;
      if (entry.name == "." || entry.name == "..") continue;
      ASSERT_TRUE(entry.entry.has_value()) << entry.name;
      bool dir_entry = entry.name.rfind("sub", 0) == 0;
      EXPECT_EQ(entry.type, dir_entry ? S_IFDIR : S_IFREG) << entry.name;
      EXPECT_EQ(entry.entry->attr.size, dir_entry ? 4096u : 1u) << entry.name;
      ++with_attrs;
    }
  }
  EXPECT_EQ(with_attrs, size_t{kFiles + kDirs});
  EXPECT_LE(faulty->calls(StoreOp::kHead) - heads, uint64_t{kFiles + kDirs} + 3);  // + the folder
  EXPECT_LE(faulty->calls(StoreOp::kList) - lists, 2u);
  // The kernel's lstat of each entry right after: answered from what the listing fetched.
  heads = faulty->calls(StoreOp::kHead);
  for (int i = 0; i < kFiles; i += 50) {
    auto entry = h.fs().lookup(*dir, "f" + std::to_string(i));
    ASSERT_TRUE(entry.has_value());
    h.fs().forget(entry->attr.ino, 1);
  }
  EXPECT_EQ(faulty->calls(StoreOp::kHead), heads);
  (void)h.fs().releasedir(*handle);
}

TEST(RequestCostTest, RandomReadsFetchOnlyTheChunksRead) {
  auto faulty = std::make_shared<store::FaultInjectingObjectStore>(test::makeStore("memory"));
  FilesystemOptions options;
  options.cache_bytes = 64 << 20;
  FsHarness h(faulty, 4096, options);
  constexpr uint64_t kChunks = 512;
  S3C_ASSERT_OK(h.writeFile("/r", pattern(kChunks * 4096, 7)));
  h.reopen();
  auto ino = h.resolve("/r");
  ASSERT_TRUE(ino.has_value());
  auto handle = h.fs().open(*ino, O_RDONLY);
  ASSERT_TRUE(handle.has_value());
  double cached = metrics::global().value("s3cryptfs_block_cache_bytes");
  uint64_t gets = faulty->calls(StoreOp::kGet);
  // 100 reads of 1 KiB in distinct chunks, each far from the one before (never sequential).
  constexpr uint64_t kReads = 100;
  Bytes buffer(1024);
  for (uint64_t i = 0; i < kReads; ++i) {
    uint64_t chunk = 5 + (i * 197) % (kChunks - 5);
    auto n = h.fs().read(*handle, chunk * 4096 + 100, buffer);
    ASSERT_TRUE(n.has_value());
    EXPECT_EQ(*n, buffer.size());
  }
  // The header read at the first read may bring the first chunks with it; beyond that, one
  // chunk per read and nothing ahead.
  EXPECT_LE(faulty->calls(StoreOp::kGet) - gets, kReads + 1);
  double fetched = metrics::global().value("s3cryptfs_block_cache_bytes") - cached;
  EXPECT_LE(fetched, static_cast<double>((kReads + 4) * 4096));
  (void)h.fs().release(*handle);
}

TEST(RequestCostTest, KernelCacheIsKeptOnlyForTheSameVersion) {
  auto faulty = std::make_shared<store::FaultInjectingObjectStore>(test::makeStore("memory"));
  FsHarness h(faulty);
  S3C_ASSERT_OK(h.writeFile("/k", pattern(10000, 1)));
  h.reopen();
  auto ino = h.resolve("/k");
  ASSERT_TRUE(ino.has_value());
  auto openAndAsk = [&] {
    auto handle = h.fs().open(*ino, O_RDONLY);
    EXPECT_TRUE(handle.has_value());
    bool keep = h.fs().keepKernelCache(*handle);
    (void)h.fs().release(*handle);
    return keep;
  };
  EXPECT_FALSE(openAndAsk());  // nothing cached by the kernel yet
  EXPECT_TRUE(openAndAsk());   // same version
  EXPECT_TRUE(openAndAsk());
  // Another mount replaces the content: the next open drops the pages, the one after keeps
  // those of the new version.
  auto other = h.openSecond();
  {
    auto entry = other->lookup(kRootInode, "k");
    ASSERT_TRUE(entry.has_value());
    auto handle = other->open(entry->attr.ino, O_WRONLY);
    ASSERT_TRUE(handle.has_value());
    ASSERT_TRUE(other->write(*handle, 0, asBytes("changed")).has_value());
    S3C_ASSERT_OK(other->release(*handle));
    S3C_ASSERT_OK(other->syncAll());
  }
  EXPECT_FALSE(openAndAsk());
  EXPECT_TRUE(openAndAsk());
  EXPECT_EQ(h.readFile("/k")->at(0), 'c');
}

// Lists /d with attributes, 10 entries a page; returns the mode of each name.
std::map<std::string, uint32_t> listModes(Filesystem& fs, InodeId dir) {
  std::map<std::string, uint32_t> modes;
  auto handle = fs.opendir(dir);
  if (!handle) return modes;
  uint64_t cookie = 0;
  for (;;) {
    auto page = fs.readdir(*handle, cookie, 10, true);
    if (!page || page->empty()) break;
    for (const auto& entry : *page) {
      cookie = entry.next_cookie;
      if (entry.entry && entry.name != "." && entry.name != "..") {
        modes[entry.name] = entry.entry->attr.mode & 07777;
      }
    }
  }
  (void)fs.releasedir(*handle);
  return modes;
}

TEST(RequestCostTest, AListingRevalidatesUnchangedAttributesWithoutHeads) {
  auto faulty = std::make_shared<store::FaultInjectingObjectStore>(test::makeStore("memory"));
  FilesystemOptions options;
  options.metadata_ttl = std::chrono::milliseconds(1);  // cached attributes are stale at once
  FsHarness h(faulty, 4096, options);
  S3C_ASSERT_OK(h.mkdirPath("/d"));
  for (int i = 0; i < 20; ++i)
    S3C_ASSERT_OK(h.writeFile("/d/f" + std::to_string(i), asBytes("data")));
  h.reopen();
  auto dir = h.resolve("/d");
  ASSERT_TRUE(dir.has_value());
  uint64_t heads = faulty->calls(StoreOp::kHead);
  EXPECT_EQ(listModes(h.fs(), *dir).size(), 20u);
  EXPECT_GE(faulty->calls(StoreOp::kHead) - heads, 20u);  // the first listing asks each
  // Again, the TTL long past: the listing shows the same versions, so no HEAD for the files
  // (the folder itself may be asked once).
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  heads = faulty->calls(StoreOp::kHead);
  EXPECT_EQ(listModes(h.fs(), *dir).size(), 20u);
  EXPECT_LE(faulty->calls(StoreOp::kHead) - heads, 3u);
  // Another mount changes one file's mode (metadata only: same content, same ETag) a second
  // later: its Last-Modified differs, so that file is asked again and shows the new mode.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto other = h.openSecond();
  auto d2 = other->lookup(kRootInode, "d");
  ASSERT_TRUE(d2.has_value());
  auto f7 = other->lookup(d2->attr.ino, "f7");
  ASSERT_TRUE(f7.has_value());
  SetAttrRequest chmod;
  chmod.mode = 0600;
  ASSERT_TRUE(other->setattr(f7->attr.ino, chmod, h.caller_).has_value());
  heads = faulty->calls(StoreOp::kHead);
  auto modes = listModes(h.fs(), *dir);
  EXPECT_EQ(modes["f7"], 0600u);
  EXPECT_EQ(modes["f6"], 0644u);
  EXPECT_LE(faulty->calls(StoreOp::kHead) - heads, 4u);
}

}  // namespace
}  // namespace s3cryptfs::fs
