// The data path: multipart uploads with part copies, the staging journal after a kill, lost
// races, damaged chunks, what reaches the disk, failing stores and many threads.
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "s3cryptfs/crypto/hash.h"
#include "s3cryptfs/store/fault_injecting_object_store.h"
#include "s3cryptfs/store/retrying_object_store.h"

#include "unit/fs/fs_test_support.h"

namespace s3cryptfs::fs {
namespace {

using store::StoreOp;
using test::FsHarness;
using test::pattern;

FilesystemOptions smallParts() {
  FilesystemOptions options;
  options.part_bytes = 16384;  // 4 chunks of 4 KiB per part
  options.upload_concurrency = 3;
  options.cache_bytes = 64 * 1024;
  return options;
}

Status overwrite(Filesystem& fs, InodeId ino, uint64_t offset, ByteSpan data) {
  S3C_ASSIGN_OR_RETURN(HandleId handle, fs.open(ino, O_RDWR));
  auto written = fs.write(handle, offset, data);
  Status released = fs.release(handle);
  if (!written) return written.error();
  return released;
}

TEST(DataPathTest, MultipartUploadCopiesUnchangedParts) {
  auto faulty = std::make_shared<store::FaultInjectingObjectStore>(test::makeStore("memory"));
  FsHarness h(faulty, 4096, smallParts());
  Bytes data = pattern(100000, 1);  // 25 chunks → 7 parts
  S3C_ASSERT_OK(h.writeFile("/big", data, 10000));
  EXPECT_EQ(faulty->calls(StoreOp::kCompleteMultipart), 1u);
  EXPECT_EQ(faulty->calls(StoreOp::kUploadPart), 7u);
  h.reopen();
  uint64_t copies = faulty->calls(StoreOp::kUploadPartCopy);
  uint64_t parts = faulty->calls(StoreOp::kUploadPart);
  S3C_ASSERT_OK(overwrite(h.fs(), *h.resolve("/big"), 50000, asBytes("!")));
  data[50000] = '!';
  EXPECT_EQ(faulty->calls(StoreOp::kUploadPartCopy) - copies, 6u);
  EXPECT_EQ(faulty->calls(StoreOp::kUploadPart) - parts, 1u);
  h.reopen();
  EXPECT_EQ(*h.readFile("/big", 3333), data);
}

TEST(DataPathTest, WithoutPartCopyUnchangedPartsAreReuploaded) {
  store::InMemoryStoreOptions options;
  options.min_part_size = 1;
  options.capabilities.upload_part_copy = false;
  auto faulty = std::make_shared<store::FaultInjectingObjectStore>(
      std::make_shared<store::InMemoryObjectStore>(options));
  FsHarness h(faulty, 4096, smallParts());
  Bytes data = pattern(100000, 2);
  S3C_ASSERT_OK(h.writeFile("/big", data));
  S3C_ASSERT_OK(overwrite(h.fs(), *h.resolve("/big"), 99999, asBytes("?")));
  data[99999] = '?';
  S3C_ASSERT_OK(overwrite(h.fs(), *h.resolve("/big"), 100000, asBytes("+")));  // grows
  data.push_back('+');
  EXPECT_EQ(faulty->calls(StoreOp::kUploadPartCopy), 0u);
  h.reopen();
  EXPECT_EQ(*h.readFile("/big"), data);
}

TEST(DataPathTest, SequentialReadsUseReadahead) {
  auto faulty = std::make_shared<store::FaultInjectingObjectStore>(test::makeStore("memory"));
  FilesystemOptions options;
  options.cache_bytes = 8 << 20;
  FsHarness h(faulty, 4096, options);
  Bytes data = pattern(256 * 4096, 3);
  S3C_ASSERT_OK(h.writeFile("/seq", data));
  h.reopen();
  uint64_t gets = faulty->calls(StoreOp::kGet);
  EXPECT_EQ(*h.readFile("/seq", 4096), data);
  // 256 chunks read 4 KiB at a time: without readahead that would be 256 GETs.
  EXPECT_LT(faulty->calls(StoreOp::kGet) - gets, 64u);
}

// Counts how many store calls are in their (injected) latency at once.
struct InFlight {
  std::atomic<int> now{0};
  std::atomic<int> most{0};
  void attach(store::FaultInjectingObjectStore& store, StoreOp op) {
    store.setLatency(op, std::chrono::milliseconds(20));
    store.setSleepFunction([this](std::chrono::milliseconds d) {
      int in = ++now;
      int seen = most.load();
      while (in > seen && !most.compare_exchange_weak(seen, in)) {
      }
      std::this_thread::sleep_for(d);
      --now;
    });
  }
};

TEST(DataPathTest, ReaddirplusFetchesAttributesInParallel) {
  auto faulty = std::make_shared<store::FaultInjectingObjectStore>(test::makeStore("memory"));
  FsHarness h(faulty);
  for (int i = 0; i < 24; ++i)
    S3C_ASSERT_OK(h.writeFile("/f" + std::to_string(i), {}));
  h.reopen();
  InFlight heads;
  heads.attach(*faulty, StoreOp::kHead);
  EXPECT_EQ(h.list("/", true).size(), 24u);
  EXPECT_GT(heads.most.load(), 1);   // not one round trip after the other
  EXPECT_LE(heads.most.load(), 33);  // bounded (32 workers, plus a lookup at most)
}

TEST(DataPathTest, ReadaheadFetchesSeveralRangesAtOnce) {
  auto faulty = std::make_shared<store::FaultInjectingObjectStore>(test::makeStore("memory"));
  FilesystemOptions options;
  options.cache_bytes = 8 << 20;
  FsHarness h(faulty, 4096, options);
  Bytes data = pattern(512 * 4096, 5);
  S3C_ASSERT_OK(h.writeFile("/f", data));
  h.reopen();
  InFlight gets;
  gets.attach(*faulty, StoreOp::kGet);
  EXPECT_EQ(*h.readFile("/f", 16384), data);
  EXPECT_GT(gets.most.load(), 1);
  // Bounded: 4 ranges for the reader and 4 for each of the 2 background readahead threads.
  EXPECT_LE(gets.most.load(), 12);
}

TEST(DataPathTest, KilledDaemonsUnflushedWritesAreUploadedAtTheNextMount) {
  FsHarness h(test::makeStore("dir"), 4096, smallParts());
  S3C_ASSERT_OK(h.writeFile("/kept", pattern(30000, 1)));
  S3C_ASSERT_OK(h.mkdirPath("/d"));
  // Unflushed: a new file, a rewrite of part of an existing one, a big multipart one.
  auto created = h.fs().create(*h.resolve("/d"), "new", 0600, O_WRONLY, h.caller_);
  S3C_ASSERT_OK(created);
  S3C_ASSERT_OK(h.fs().write(created->handle, 0, pattern(5000, 2)));
  auto kept = h.fs().open(*h.resolve("/kept"), O_RDWR);
  S3C_ASSERT_OK(kept);
  S3C_ASSERT_OK(h.fs().write(*kept, 10000, asBytes("patched")));
  auto big = h.fs().create(kRootInode, "big", 0600, O_WRONLY, h.caller_);
  S3C_ASSERT_OK(big);
  S3C_ASSERT_OK(h.fs().write(big->handle, 0, pattern(70000, 3)));
  EXPECT_FALSE(std::filesystem::is_empty(h.stagingDir()));
  h.kill();
  h.reopen(false);
  EXPECT_TRUE(std::filesystem::is_empty(h.stagingDir()));
  EXPECT_EQ(*h.readFile("/d/new"), pattern(5000, 2));
  Bytes expected = pattern(30000, 1);
  std::string patch = "patched";
  std::copy(patch.begin(), patch.end(), expected.begin() + 10000);
  EXPECT_EQ(*h.readFile("/kept"), expected);
  EXPECT_EQ(*h.readFile("/big"), pattern(70000, 3));
  auto attr = h.fs().getattr(*h.resolve("/d/new"));
  EXPECT_EQ(attr->mode & 07777, 0600u & ~022u);
}

TEST(DataPathTest, OtherMountsChangesShowAfterTheTtls) {
  FilesystemOptions options;
  options.metadata_ttl = std::chrono::milliseconds(300);
  options.negative_ttl = std::chrono::milliseconds(300);
  FsHarness h(test::makeStore("memory"), 4096, options);
  S3C_ASSERT_OK(h.writeFile("/f", pattern(10, 1)));
  auto ino = *h.resolve("/f");
  S3C_EXPECT_ERRNO(h.fs().lookup(kRootInode, "later"), ENOENT);
  auto other = h.openSecond();
  auto theirs = other->lookup(kRootInode, "f");
  S3C_ASSERT_OK(theirs);
  SetAttrRequest chmod;
  chmod.mode = 0600;
  S3C_ASSERT_OK(other->setattr(theirs->attr.ino, chmod, h.caller_));
  auto made = other->create(kRootInode, "later", 0644, O_WRONLY, h.caller_);
  S3C_ASSERT_OK(made);
  S3C_ASSERT_OK(other->release(made->handle));
  // Within the TTLs this mount still answers from its caches...
  auto cached = h.fs().getattr(ino);
  S3C_ASSERT_OK(cached);
  EXPECT_EQ(cached->mode & 07777, 0644u & ~022u);
  S3C_EXPECT_ERRNO(h.fs().lookup(kRootInode, "later"), ENOENT);
  std::this_thread::sleep_for(std::chrono::milliseconds(350));
  // ...after them it asks the store again.
  auto fresh = h.fs().getattr(ino);
  S3C_ASSERT_OK(fresh);
  EXPECT_EQ(fresh->mode & 07777, 0600u);
  S3C_ASSERT_OK(h.fs().lookup(kRootInode, "later"));
  // Close-to-open: an open always sees the newest version, whatever the TTL.
  auto handle = other->open(theirs->attr.ino, O_WRONLY);
  S3C_ASSERT_OK(handle);
  S3C_ASSERT_OK(other->write(*handle, 0, asBytes("NEW")));
  S3C_ASSERT_OK(other->release(*handle));
  auto read = h.readFile("/f");
  S3C_ASSERT_OK(read);
  EXPECT_EQ(asChars(*read).substr(0, 3), "NEW");
}

TEST(DataPathTest, UnreachableStoreKeepsTheDataForTheNextTry) {
  auto faulty = std::make_shared<store::FaultInjectingObjectStore>(test::makeStore("memory"));
  FsHarness h(faulty);
  S3C_ASSERT_OK(h.writeFile("/f", pattern(100, 1)));
  auto handle = h.fs().open(*h.resolve("/f"), O_RDWR);
  S3C_ASSERT_OK(handle);
  S3C_ASSERT_OK(h.fs().write(*handle, 0, pattern(9000, 2)));
  faulty->setFailureRate(StoreOp::kAny, 1.0, store::Fault::connectionReset());
  S3C_EXPECT_ERRNO(h.fs().flush(*handle), EIO);
  Bytes out(9000);
  auto n = h.fs().read(*handle, 0, out);  // still served from staging
  S3C_ASSERT_OK(n);
  EXPECT_EQ(out, pattern(9000, 2));
  faulty->clear();
  S3C_ASSERT_OK(h.fs().flush(*handle));  // the next flush uploads it
  S3C_ASSERT_OK(h.fs().write(*handle, 0, asBytes("again")));
  faulty->setFailureRate(StoreOp::kAny, 1.0);
  S3C_EXPECT_ERRNO(h.fs().release(*handle), EIO);  // the close fails: staging keeps it
  faulty->clear();
  Bytes expected = pattern(9000, 2);
  std::string again = "again";
  std::copy(again.begin(), again.end(), expected.begin());
  EXPECT_EQ(*h.readFile("/f"), expected);  // the same mount still shows it, and uploads it
  EXPECT_TRUE(std::filesystem::is_empty(h.stagingDir()));
  // Closed with a failing store, then killed: the next mount uploads it.
  handle = h.fs().open(*h.resolve("/f"), O_RDWR);
  S3C_ASSERT_OK(handle);
  S3C_ASSERT_OK(h.fs().write(*handle, 0, asBytes("third")));
  faulty->setFailureRate(StoreOp::kAny, 1.0);
  S3C_EXPECT_ERRNO(h.fs().release(*handle), EIO);
  faulty->clear();
  h.reopen(false);
  std::string third = "third";
  std::copy(third.begin(), third.end(), expected.begin());
  EXPECT_EQ(*h.readFile("/f"), expected);
  EXPECT_TRUE(std::filesystem::is_empty(h.stagingDir()));
}

TEST(DataPathTest, ChunkTornByTheKillFallsBackToThePreviousVersion) {
  FsHarness h(test::makeStore("memory"));
  S3C_ASSERT_OK(h.writeFile("/f", pattern(4 * 4096, 1)));
  auto handle = h.fs().open(*h.resolve("/f"), O_RDWR);
  S3C_ASSERT_OK(handle);
  S3C_ASSERT_OK(h.fs().write(*handle, 0, pattern(3 * 4096, 2)));  // chunks 0..2 staged
  h.kill();
  std::string data_file;
  for (const auto& entry : std::filesystem::directory_iterator(h.stagingDir())) {
    if (entry.path().extension() == ".data") data_file = entry.path().string();
  }
  ASSERT_FALSE(data_file.empty());
  {
    std::fstream staged(data_file, std::ios::in | std::ios::out | std::ios::binary);
    staged.seekp(64 + (4096 + 28) + 500);  // inside chunk 1
    staged.write("torn", 4);
  }
  h.reopen(false);
  Bytes expected = pattern(4 * 4096, 1);
  Bytes written = pattern(3 * 4096, 2);
  std::copy(written.begin(), written.begin() + 4096, expected.begin());
  std::copy(written.begin() + 8192, written.end(), expected.begin() + 8192);
  EXPECT_EQ(*h.readFile("/f"), expected);
}

TEST(DataPathTest, RecoveryAfterAnotherWriterKeepsBothVersions) {
  FsHarness h(test::makeStore("memory"));
  S3C_ASSERT_OK(h.writeFile("/f", pattern(3000, 1)));
  auto handle = h.fs().open(*h.resolve("/f"), O_WRONLY | O_TRUNC);
  S3C_ASSERT_OK(handle);
  S3C_ASSERT_OK(h.fs().write(*handle, 0, pattern(2000, 2)));
  h.kill();
  {
    auto other = h.openSecond();
    auto ino = other->lookup(kRootInode, "f");
    S3C_ASSERT_OK(ino);
    S3C_ASSERT_OK(overwrite(*other, ino->attr.ino, 0, pattern(100, 3)));
  }
  h.reopen(false);
  auto names = h.list("/");
  ASSERT_EQ(names.size(), 2u);
  EXPECT_EQ(names[0], "f");
  EXPECT_TRUE(names[1].starts_with("f.conflict-")) << names[1];
  Bytes theirs = pattern(3000, 1);
  Bytes patch = pattern(100, 3);
  std::copy(patch.begin(), patch.end(), theirs.begin());
  EXPECT_EQ(*h.readFile("/f"), theirs);
  EXPECT_EQ(*h.readFile("/" + names[1]), pattern(2000, 2));
}

TEST(DataPathTest, LostRaceKeepsTheWinnerAndOursUnderAConflictName) {
  FsHarness h(test::makeStore("memory"));
  S3C_ASSERT_OK(h.writeFile("/f", pattern(100, 1)));
  auto other = h.openSecond();
  auto theirs = other->open(other->lookup(kRootInode, "f")->attr.ino, O_RDWR);
  auto ours = h.fs().open(*h.resolve("/f"), O_RDWR);
  S3C_ASSERT_OK(theirs);
  S3C_ASSERT_OK(ours);
  S3C_ASSERT_OK(other->write(*theirs, 0, asBytes("THEIRS")));
  S3C_ASSERT_OK(h.fs().write(*ours, 0, asBytes("OURS")));
  S3C_ASSERT_OK(other->release(*theirs));
  S3C_ASSERT_OK(h.fs().flush(*ours));
  S3C_ASSERT_OK(h.fs().release(*ours));
  h.reopen();
  auto names = h.list("/");
  ASSERT_EQ(names.size(), 2u);
  Bytes expect_theirs = pattern(100, 1);
  std::string t = "THEIRS";
  std::copy(t.begin(), t.end(), expect_theirs.begin());
  Bytes expect_ours = pattern(100, 1);
  std::string o = "OURS";
  std::copy(o.begin(), o.end(), expect_ours.begin());
  EXPECT_EQ(*h.readFile("/f"), expect_theirs);
  EXPECT_EQ(*h.readFile("/" + names[1]), expect_ours);
}

// The file id of the only content object in the store (header bytes 16..32, FORMAT §3).
Bytes onlyFileId(store::ObjectStore& store) {
  Bytes id;
  auto listing = store::listAll(store, {});
  for (const auto& object : listing->objects) {
    if (object.key.find(".s3cryptfs") != std::string::npos) continue;
    auto got = store.get(object.key, store::ByteRange{16, 16});
    if (got) id = got->body;
  }
  return id;
}

TEST(DataPathTest, RewritesKeepTheFileIdAndTruncationToZeroChangesIt) {
  FsHarness h(test::makeStore("memory"));
  S3C_ASSERT_OK(h.writeFile("/f", pattern(10000, 1)));
  Bytes first = onlyFileId(h.store());
  ASSERT_EQ(first.size(), 16u);
  S3C_ASSERT_OK(overwrite(h.fs(), *h.resolve("/f"), 5000, asBytes("x")));
  EXPECT_EQ(onlyFileId(h.store()), first);  // unchanged chunks stay valid (and copyable)
  SetAttrRequest truncate;
  truncate.size = 0;
  S3C_ASSERT_OK(h.fs().setattr(*h.resolve("/f"), truncate, h.caller_));
  Bytes second = onlyFileId(h.store());
  EXPECT_NE(second, first);                          // a fresh nonce budget (FORMAT §4.3)
  S3C_ASSERT_OK(h.writeFile("/f", pattern(10, 2)));  // O_TRUNC
  EXPECT_NE(onlyFileId(h.store()), second);
  h.reopen();
  EXPECT_EQ(*h.readFile("/f"), pattern(10, 2));
}

TEST(DataPathTest, DamagedChunkFailsOnlyThatChunk) {
  FsHarness h(test::makeStore("memory"));
  S3C_ASSERT_OK(h.writeFile("/f", pattern(5 * 4096, 4)));
  std::string key;
  auto listing = store::listAll(h.store(), {});
  ASSERT_TRUE(listing);
  for (const auto& object : listing->objects) {
    if (object.size == format::ChunkLayout::createForTesting(4096).cipherSize(5 * 4096)) {
      key = object.key;
    }
  }
  ASSERT_FALSE(key.empty());
  auto got = h.store().get(key, std::nullopt);
  ASSERT_TRUE(got);
  Bytes body = got->body;
  body[64 + 2 * (4096 + 28) + 100] ^= 0x01;  // inside chunk 2's ciphertext
  ASSERT_TRUE(h.store().put(key, body, {got->info.metadata, {}}));
  h.reopen();
  auto handle = h.fs().open(*h.resolve("/f"), O_RDONLY);
  S3C_ASSERT_OK(handle);
  Bytes chunk(4096);
  Bytes data = pattern(5 * 4096, 4);
  for (uint64_t i : {0, 1, 3, 4}) {
    auto n = h.fs().read(*handle, i * 4096, chunk);
    S3C_ASSERT_OK(n);
    EXPECT_TRUE(std::equal(chunk.begin(), chunk.end(), data.begin() + static_cast<long>(i * 4096)))
        << "chunk " << i;
  }
  auto bad = h.fs().read(*handle, 2 * 4096 + 10, chunk);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().errnoValue(), EIO);
  EXPECT_EQ(bad.error().kind(), ErrorKind::kCorrupt);
  EXPECT_NE(bad.error().message().find(key), std::string::npos) << bad.error().message();
  S3C_ASSERT_OK(h.fs().release(*handle));
}

bool containsBytes(const std::string& path, std::string_view needle) {
  std::ifstream in(path, std::ios::binary);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return content.find(needle) != std::string::npos;
}

TEST(DataPathTest, NoPlaintextNameOrContentReachesTheStoreOrTheStagingFolder) {
  store::DirStoreOptions options;
  options.durable = false;
  std::string root = store::test::freshFolder();
  auto dir = store::DirObjectStore::open(root, options);
  ASSERT_TRUE(dir);
  FsHarness h(std::shared_ptr<store::ObjectStore>(std::move(dir).value()));
  const std::string name = "SecretFileName";
  const std::string content = "TopSecretContentOfTheFile";
  std::string repeated;
  for (int i = 0; i < 400; ++i)
    repeated += content;
  S3C_ASSERT_OK(h.mkdirPath("/SecretDirName"));
  S3C_ASSERT_OK(h.writeFile("/SecretDirName/" + name, asBytes(repeated)));
  S3C_ASSERT_OK(h.fs().setxattr(*h.resolve("/SecretDirName/" + name), "user.SecretXattr",
                                asBytes("SecretXattrValue"), 0));
  S3C_ASSERT_OK(h.fs().symlink(kRootInode, "SecretLinkName", "SecretLinkTarget", h.caller_));
  auto created = h.fs().create(kRootInode, "SecretUnflushed", 0600, O_WRONLY, h.caller_);
  S3C_ASSERT_OK(created);
  S3C_ASSERT_OK(h.fs().write(created->handle, 0, asBytes(repeated)));
  h.kill();  // staging still holds the unflushed file
  size_t files = 0;
  for (const std::string& folder : {root, h.stagingDir()}) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(folder)) {
      std::string path = entry.path().string();
      for (const char* secret : {"SecretFileName", "SecretDirName", "SecretLink", "TopSecret",
                                 "SecretXattr", "SecretUnflushed"}) {
        EXPECT_EQ(path.find(secret), std::string::npos) << path;
        if (entry.is_regular_file()) {
          EXPECT_FALSE(containsBytes(path, secret)) << path;
        }
      }
      if (entry.is_regular_file()) ++files;
    }
  }
  EXPECT_GE(files, 6u);
  h.reopen(false);
  EXPECT_EQ(*h.readFile("/SecretUnflushed"), toBytes(repeated));
}

TEST(DataPathTest, FailingSlowStoreBehindRetriesKeepsEveryChecksum) {
  auto faulty = std::make_shared<store::FaultInjectingObjectStore>(test::makeStore("memory"), 42);
  faulty->setSleepFunction([](std::chrono::milliseconds d) { std::this_thread::sleep_for(d / 4); });
  store::RetryOptions retry;
  retry.max_attempts = 10;
  retry.base_delay = std::chrono::milliseconds(1);
  retry.max_delay = std::chrono::milliseconds(4);
  retry.seed = 7;
  auto retrying = std::make_shared<store::RetryingObjectStore>(faulty, retry);
  FsHarness h(retrying, 4096, smallParts());
  faulty->setFailureRate(StoreOp::kAny, 0.10);
  faulty->setLatency(StoreOp::kAny, std::chrono::milliseconds(1), std::chrono::milliseconds(2));
  std::vector<Bytes> contents;
  for (int i = 0; i < 12; ++i) {
    contents.push_back(pattern(static_cast<size_t>(i) * 7919 + 1, i));
    S3C_ASSERT_OK(h.writeFile("/f" + std::to_string(i), contents.back(), 5000));
  }
  S3C_ASSERT_OK(overwrite(h.fs(), *h.resolve("/f11"), 3, asBytes("x")));
  contents[11][3] = 'x';
  h.reopen();
  for (int i = 0; i < 12; ++i) {
    auto read = h.readFile("/f" + std::to_string(i), 3000);
    S3C_ASSERT_OK(read);
    EXPECT_EQ(crypto::sha256(*read), crypto::sha256(contents[static_cast<size_t>(i)])) << i;
  }
  EXPECT_GT(faulty->injectedFailures(), 10u);
}

TEST(DataPathTest, ParallelReadersAndWritersOnManyFiles) {
  FsHarness h(test::makeStore("memory"), 4096, smallParts());
  Bytes shared = pattern(200000, 99);
  S3C_ASSERT_OK(h.writeFile("/shared", shared));
  h.reopen();
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        std::string path = "/w" + std::to_string(t) + "-" + std::to_string(i);
        Bytes data = pattern(static_cast<size_t>(1000 * (i + 1) * (t + 1)), t * 10 + i);
        if (!h.writeFile(path, data, 777)) ++failures;
        auto back = h.readFile(path, 1000);
        if (!back || *back != data) ++failures;
      }
    });
    threads.emplace_back([&] {
      for (int i = 0; i < 3; ++i) {
        auto back = h.readFile("/shared", 4096 * (i + 1));
        if (!back || *back != shared) ++failures;
      }
    });
  }
  // Many writers on one open file, disjoint ranges.
  auto created = h.fs().create(kRootInode, "common", 0644, O_RDWR, h.caller_);
  S3C_ASSERT_OK(created);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        uint64_t offset = static_cast<uint64_t>((i * 4 + t) * 3000);
        if (!h.fs().write(created->handle, offset, pattern(3000, i * 4 + t))) ++failures;
      }
    });
  }
  for (auto& thread : threads)
    thread.join();
  S3C_ASSERT_OK(h.fs().release(created->handle));
  EXPECT_EQ(failures.load(), 0);
  h.reopen();
  Bytes expected;
  for (int k = 0; k < 40; ++k) {
    Bytes piece = pattern(3000, k);
    expected.insert(expected.end(), piece.begin(), piece.end());
  }
  EXPECT_EQ(*h.readFile("/common"), expected);
  EXPECT_EQ(h.list("/").size(), 22u);
}

}  // namespace
}  // namespace s3cryptfs::fs
