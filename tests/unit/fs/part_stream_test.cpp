// Streaming multipart uploads: parts sent while a long sequential write goes on, staging space
// released, a killed daemon's upload resumed, writes and reads into parts already sent, a lost
// race, and how many bytes a small rewrite of a big file sends.
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include "s3cryptfs/store/fault_injecting_object_store.h"

#include "unit/fs/fs_test_support.h"

namespace s3cryptfs::fs {
namespace {

using store::StoreOp;
using test::FsHarness;
using test::pattern;

constexpr uint64_t kChunk = 4096;
constexpr uint64_t kPart = 4 * kChunk;  // 4 chunks per part

FilesystemOptions streamingOptions() {
  FilesystemOptions options;
  options.part_bytes = kPart;
  options.upload_concurrency = 2;
  options.cache_bytes = 64 * 1024;
  return options;
}

// Disk space the staging folder really uses (holes excluded).
uint64_t stagingBytes(const std::string& dir) {
  uint64_t total = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    struct stat st {};
    if (::stat(entry.path().c_str(), &st) == 0) total += static_cast<uint64_t>(st.st_blocks) * 512;
  }
  return total;
}

struct Streaming : ::testing::Test {
  std::shared_ptr<store::FaultInjectingObjectStore> faulty =
      std::make_shared<store::FaultInjectingObjectStore>(test::makeStore("memory"));
  FsHarness h{faulty, kChunk, streamingOptions()};

  // Creates /big and writes data to it sequentially in `piece`-byte writes, without closing.
  HandleId writeOpen(ByteSpan data, size_t piece = 8192) {
    auto created = h.fs().create(kRootInode, "big", 0644, O_RDWR | O_TRUNC, h.caller_);
    EXPECT_TRUE(created);
    for (size_t at = 0; at < data.size(); at += piece) {
      size_t n = std::min(piece, data.size() - at);
      auto written = h.fs().write(created->handle, at, data.subspan(at, n));
      EXPECT_TRUE(written) << written.error().describe();
    }
    return created->handle;
  }
};

TEST_F(Streaming, PartsAreSentWhileWritingAndStagingStaysBounded) {
  Bytes data = pattern(100 * kPart + 1000, 1);
  auto created = h.fs().create(kRootInode, "big", 0644, O_WRONLY | O_TRUNC, h.caller_);
  ASSERT_TRUE(created);
  uint64_t most = 0;
  for (size_t at = 0; at < data.size(); at += 8192) {
    size_t n = std::min<size_t>(8192, data.size() - at);
    S3C_ASSERT_OK(h.fs().write(created->handle, at, ByteSpan(data).subspan(at, n)));
    most = std::max(most, stagingBytes(h.stagingDir()));
  }
  // Before the close, most parts are in the store already.
  EXPECT_EQ(faulty->calls(StoreOp::kCreateMultipart), 1u);
  EXPECT_GE(faulty->calls(StoreOp::kUploadPart), 90u);
  // Staging held the parts in flight and the ones being filled, never the whole file
  // (plus file-system block rounding and the journal).
  EXPECT_LE(most, 6 * kPart + 64 * 1024) << "staging grew to " << most;
  S3C_ASSERT_OK(h.fs().release(created->handle));
  EXPECT_EQ(faulty->calls(StoreOp::kCompleteMultipart), 1u);
  EXPECT_EQ(faulty->calls(StoreOp::kUploadPart), 101u);  // each part once
  h.reopen();
  EXPECT_EQ(*h.readFile("/big"), data);
  EXPECT_EQ(h.list("/"), std::vector<std::string>{"big"});
}

TEST_F(Streaming, AKilledDaemonsUploadIsResumedNotResent) {
  Bytes data = pattern(40 * kPart + 123, 2);
  writeOpen(data);
  uint64_t sent_before_kill = faulty->calls(StoreOp::kUploadPart);
  EXPECT_GE(sent_before_kill, 30u);
  h.kill();
  h.reopen(false);  // recovery completes the upload
  uint64_t sent_at_recovery = faulty->calls(StoreOp::kUploadPart) - sent_before_kill;
  EXPECT_LE(sent_at_recovery, 41u - 30u);
  EXPECT_EQ(*h.readFile("/big"), data);
  EXPECT_TRUE(std::filesystem::is_empty(h.stagingDir()));
}

TEST_F(Streaming, AnUploadTheServerDroppedLeavesTheJournalInPlace) {
  S3C_ASSERT_OK(h.writeFile("/big", asBytes("old")));
  Bytes data = pattern(20 * kPart, 10);
  auto handle = h.fs().open(*h.resolve("/big"), O_RDWR | O_TRUNC);
  ASSERT_TRUE(handle);
  for (size_t at = 0; at < data.size(); at += 8192) {
    S3C_ASSERT_OK(h.fs().write(*handle, at, ByteSpan(data).subspan(at, 8192)));
  }
  ASSERT_GE(faulty->calls(StoreOp::kUploadPart), 10u);
  h.kill();
  // A lifecycle rule on the bucket aborts the incomplete upload meanwhile.
  auto uploads = h.store().listMultipartUploads("");
  ASSERT_TRUE(uploads);
  ASSERT_EQ(uploads->size(), 1u);
  S3C_ASSERT_OK(h.store().abortMultipart(uploads->front().key, uploads->front().upload_id));
  h.reopen(false);
  // The parts sent are gone with the upload: nothing half-applied, the old version stays, and
  // the journal is kept for an operator (logged).
  Bytes old = {'o', 'l', 'd'};
  EXPECT_EQ(*h.readFile("/big"), old);
  bool journal_left = false;
  for (const auto& entry : std::filesystem::directory_iterator(h.stagingDir()))
    journal_left = journal_left || entry.path().extension() == ".journal";
  EXPECT_TRUE(journal_left);
}

TEST_F(Streaming, AWriteIntoASentPartCompletesTheUploadThenRewritesIt) {
  Bytes data = pattern(20 * kPart, 3);
  HandleId handle = writeOpen(data);
  ASSERT_GE(faulty->calls(StoreOp::kUploadPart), 10u);
  // Back into part 1 (sent, its staging released): the upload completes, then this write
  // changes the new version.
  S3C_ASSERT_OK(h.fs().write(handle, 10, asBytes("patched")));
  std::memcpy(data.data() + 10, "patched", 7);
  EXPECT_EQ(faulty->calls(StoreOp::kCompleteMultipart), 1u);
  Bytes more = pattern(10 * kPart, 4);
  for (size_t at = 0; at < more.size(); at += 8192) {
    S3C_ASSERT_OK(h.fs().write(handle, data.size() + at, ByteSpan(more).subspan(at, 8192)));
  }
  data.insert(data.end(), more.begin(), more.end());
  // Reading a sent part while still writing works the same way.
  Bytes head(100);
  auto read = h.fs().read(handle, 0, head);
  ASSERT_TRUE(read) << read.error().describe();
  EXPECT_EQ(Bytes(data.begin(), data.begin() + 100), head);
  S3C_ASSERT_OK(h.fs().release(handle));
  h.reopen();
  EXPECT_EQ(*h.readFile("/big"), data);
}

TEST_F(Streaming, TruncationsIntoSentPartsAndToZeroKeepTheFileRight) {
  Bytes data = pattern(20 * kPart, 5);
  HandleId handle = writeOpen(data);
  SetAttrRequest cut;
  cut.size = 3 * kPart + 17;
  S3C_ASSERT_OK(h.fs().setattr(*h.resolve("/big"), cut, h.caller_));
  data.resize(3 * kPart + 17);
  S3C_ASSERT_OK(h.fs().release(handle));
  h.reopen();
  EXPECT_EQ(*h.readFile("/big"), data);

  Bytes other = pattern(12 * kPart, 6);
  handle = writeOpen(other);
  uint64_t aborted = faulty->calls(StoreOp::kAbortMultipart);
  SetAttrRequest zero;
  zero.size = 0;
  S3C_ASSERT_OK(h.fs().setattr(*h.resolve("/big"), zero, h.caller_));
  EXPECT_EQ(faulty->calls(StoreOp::kAbortMultipart), aborted + 1);
  S3C_ASSERT_OK(h.fs().write(handle, 0, asBytes("tiny")));
  S3C_ASSERT_OK(h.fs().release(handle));
  h.reopen();
  EXPECT_EQ(*h.readFile("/big"), Bytes({'t', 'i', 'n', 'y'}));
}

TEST_F(Streaming, AFarWriteStreamsTheHoleAPartAtATime) {
  auto created = h.fs().create(kRootInode, "sparse", 0644, O_RDWR | O_TRUNC, h.caller_);
  ASSERT_TRUE(created);
  S3C_ASSERT_OK(h.fs().write(created->handle, 0, asBytes("head")));
  const uint64_t far = 60 * kPart + 100;
  S3C_ASSERT_OK(h.fs().write(created->handle, far, asBytes("tail")));
  // The hole's zeros were staged and sent a part at a time during that one write.
  EXPECT_GE(faulty->calls(StoreOp::kUploadPart), 50u);
  EXPECT_LE(stagingBytes(h.stagingDir()), 6 * kPart + 64 * 1024);
  S3C_ASSERT_OK(h.fs().release(created->handle));
  h.reopen();
  Bytes expected(far + 4, 0);
  std::memcpy(expected.data(), "head", 4);
  std::memcpy(expected.data() + far, "tail", 4);
  EXPECT_EQ(*h.readFile("/sparse"), expected);
}

TEST_F(Streaming, ALostRaceKeepsBothVersions) {
  Bytes ours = pattern(12 * kPart, 7);
  HandleId handle = writeOpen(ours);
  ASSERT_GE(faulty->calls(StoreOp::kUploadPart), 5u);
  auto second = h.openSecond();
  Bytes theirs = pattern(5000, 8);
  {
    auto made = second->create(kRootInode, "big", 0644, O_WRONLY, h.caller_);
    ASSERT_TRUE(made) << made.error().describe();
    S3C_ASSERT_OK(second->write(made->handle, 0, theirs));
    S3C_ASSERT_OK(second->release(made->handle));
  }
  S3C_ASSERT_OK(h.fs().release(handle));
  h.reopen();
  // Ours could only complete under its own key: the other writer's version moved aside.
  auto names = h.list("/");
  ASSERT_EQ(names.size(), 2u);
  EXPECT_EQ(names[0], "big");
  EXPECT_TRUE(names[1].starts_with("big.conflict-")) << names[1];
  EXPECT_EQ(*h.readFile("/big"), ours);
  EXPECT_EQ(*h.readFile("/" + names[1]), theirs);
}

TEST_F(Streaming, AOneByteRewriteOfABigFileSendsOnePart) {
  Bytes data = pattern(64 * kPart, 9);
  S3C_ASSERT_OK(h.writeFile("/big", data, 8192));
  h.reopen();
  uint64_t sent = faulty->bytesSent();
  uint64_t copies = faulty->calls(StoreOp::kUploadPartCopy);
  auto handle = h.fs().open(*h.resolve("/big"), O_RDWR);
  ASSERT_TRUE(handle);
  S3C_ASSERT_OK(h.fs().write(*handle, 32 * kPart + 5, asBytes("!")));
  S3C_ASSERT_OK(h.fs().release(*handle));
  data[32 * kPart + 5] = '!';
  // One part's ciphertext (4 chunks + overhead) is sent, the 63 others are copied.
  EXPECT_LE(faulty->bytesSent() - sent, 4 * (kChunk + 28));
  EXPECT_EQ(faulty->calls(StoreOp::kUploadPartCopy) - copies, 63u);
  h.reopen();
  EXPECT_EQ(*h.readFile("/big"), data);
}

}  // namespace
}  // namespace s3cryptfs::fs
