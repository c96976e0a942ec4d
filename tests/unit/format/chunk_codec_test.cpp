#include "s3cryptfs/format/chunk_codec.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include <gtest/gtest.h>

#include "format_test_support.h"

namespace s3cryptfs::format {
namespace {
using testing::DeterministicRandom;
using testing::testKeys;
using testing::testPlaintext;
using testing::testRing;

class ChunkCodecTest : public ::testing::TestWithParam<crypto::Cipher> {};

TEST_P(ChunkCodecTest, WholeObjectsRoundTripAtBoundarySizes) {
  VolumeKeys keys = testKeys();
  KeyRing ring = testRing();
  ChunkLayout layout = *ChunkLayout::create(4096);
  for (size_t size : {0, 1, 4095, 4096, 4097, 8192, 8193, 20000}) {
    Bytes plain = testPlaintext(size);
    auto sealed = sealObject(keys, {GetParam(), 4096}, plain);
    ASSERT_TRUE(sealed) << sealed.error().describe();
    EXPECT_EQ(sealed->size(), layout.cipherSize(size));
    auto opened = openObject(ring, *sealed);
    ASSERT_TRUE(opened) << opened.error().describe();
    EXPECT_EQ(*opened, plain) << size;
  }
}

TEST_P(ChunkCodecTest, SealingTwiceGivesDifferentBytesButTheSameFileIdWhenKept) {
  VolumeKeys keys = testKeys();
  ChunkLayout layout = *ChunkLayout::create(4096);
  auto a = FileCipher::createNew(keys, GetParam(), layout);
  auto b = FileCipher::createNew(keys, GetParam(), layout);
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->header().file_id, b->header().file_id);
  auto c = FileCipher::createWithFileId(keys, GetParam(), layout, a->header().file_id);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->header(), a->header());
  Bytes plain = testPlaintext(4096);
  auto s1 = a->sealChunk(0, false, plain);
  auto s2 = a->sealChunk(0, false, plain);
  ASSERT_TRUE(s1 && s2);
  EXPECT_NE(*s1, *s2);  // fresh nonce per seal
  // A chunk sealed by a (same file id) opens with c: rewrites keep unchanged chunks valid.
  auto opened = c->openChunk(0, false, *s1);
  ASSERT_TRUE(opened);
  EXPECT_EQ(*opened, plain);
}

TEST_P(ChunkCodecTest, RangeOpenReturnsTheChunksAsked) {
  VolumeKeys keys = testKeys();
  KeyRing ring = testRing();
  Bytes plain = testPlaintext(4096 * 5 + 100);
  auto object = sealObject(keys, {GetParam(), 4096}, plain);
  ASSERT_TRUE(object);
  auto cipher = FileCipher::open(ring, *object);
  ASSERT_TRUE(cipher);
  const ChunkLayout& layout = cipher->layout();
  for (uint64_t first = 0; first < 6; ++first) {
    for (uint64_t count = 1; first + count <= 6; ++count) {
      ByteRange range = layout.cipherRange({first, count}, plain.size());
      auto opened = cipher->openChunkRange(
          first, ByteSpan(*object).subspan(range.offset, range.length), object->size());
      ASSERT_TRUE(opened) << opened.error().describe();
      uint64_t start = layout.chunkPlainOffset(first);
      uint64_t end = std::min<uint64_t>(layout.chunkPlainOffset(first + count), plain.size());
      EXPECT_EQ(*opened, Bytes(plain.begin() + start, plain.begin() + end));
    }
  }
  // A damaged chunk fails only the ranges that include it.
  Bytes damaged = *object;
  damaged[layout.chunkCipherOffset(2) + 20] ^= 1;
  ByteRange r01 = layout.cipherRange({0, 2}, plain.size());
  EXPECT_TRUE(
      cipher->openChunkRange(0, ByteSpan(damaged).subspan(r01.offset, r01.length), damaged.size()));
  ByteRange r23 = layout.cipherRange({2, 2}, plain.size());
  auto bad =
      cipher->openChunkRange(2, ByteSpan(damaged).subspan(r23.offset, r23.length), damaged.size());
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind(), ErrorKind::kCorrupt);
  EXPECT_NE(bad.error().message().find("chunk 2"), std::string::npos);
}

TEST_P(ChunkCodecTest, ByteRangesOpenExactly) {
  VolumeKeys keys = testKeys();
  KeyRing ring = testRing();
  DeterministicRandom random("ranges");
  ChunkLayout layout = ChunkLayout::createForTesting(16);
  auto writer = FileCipher::createNew(keys, GetParam(), layout, random);
  ASSERT_TRUE(writer);
  Bytes plain = testPlaintext(16 * 4 + 5);
  auto object = sealObjectWith(*writer, plain);
  ASSERT_TRUE(object);
  auto cipher = FileCipher::open(ring, *object, random, ChunkSizePolicy::kAnyForTesting);
  ASSERT_TRUE(cipher);
  for (uint64_t offset = 0; offset <= plain.size() + 2; ++offset) {
    for (uint64_t length = 0; length <= plain.size() + 2; ++length) {
      uint64_t end = std::min<uint64_t>(offset + length, plain.size());
      uint64_t clipped = offset < plain.size() ? end - offset : 0;
      ByteRange range = layout.cipherRange(layout.chunksFor(offset, clipped), plain.size());
      auto got = cipher->openRange(
          offset, length, ByteSpan(*object).subspan(range.offset, range.length), object->size());
      ASSERT_TRUE(got) << offset << "+" << length << ": " << got.error().describe();
      Bytes want = offset < plain.size()
                       ? Bytes(plain.begin() + static_cast<std::ptrdiff_t>(offset),
                               plain.begin() + static_cast<std::ptrdiff_t>(end))
                       : Bytes{};
      ASSERT_EQ(*got, want) << offset << "+" << length;
    }
  }
}

TEST_P(ChunkCodecTest, SealRejectsInvalidChunkShapes) {
  VolumeKeys keys = testKeys();
  auto cipher = FileCipher::createNew(keys, GetParam(), *ChunkLayout::create(4096));
  ASSERT_TRUE(cipher);
  Bytes small = testPlaintext(10);
  EXPECT_EQ(cipher->sealChunk(0, false, small).error().kind(), ErrorKind::kInvalidArgument);
  EXPECT_EQ(cipher->sealChunk(1, true, Bytes{}).error().kind(), ErrorKind::kInvalidArgument);
  EXPECT_EQ(cipher->sealChunk(0, true, testPlaintext(4097)).error().kind(),
            ErrorKind::kInvalidArgument);
  EXPECT_TRUE(cipher->sealChunk(0, true, Bytes{}));
  EXPECT_TRUE(cipher->sealChunk(3, true, small));
}

TEST_P(ChunkCodecTest, ConcurrentSealAndOpen) {
  VolumeKeys keys = testKeys();
  auto cipher = FileCipher::createNew(keys, GetParam(), *ChunkLayout::create(4096));
  ASSERT_TRUE(cipher);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      Bytes plain = testPlaintext(4096);
      plain[0] = static_cast<uint8_t>(t);
      for (int i = 0; i < 200; ++i) {
        auto sealed = cipher->sealChunk(static_cast<uint64_t>(i), false, plain);
        auto opened = sealed ? cipher->openChunk(static_cast<uint64_t>(i), false, *sealed)
                             : Result<Bytes>(sealed.error());
        if (!opened || *opened != plain) ++failures;
      }
    });
  }
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(failures.load(), 0);
}

INSTANTIATE_TEST_SUITE_P(Ciphers, ChunkCodecTest,
                         ::testing::Values(crypto::Cipher::kAes256Gcm,
                                           crypto::Cipher::kChaCha20Poly1305));

}  // namespace
}  // namespace s3cryptfs::format
