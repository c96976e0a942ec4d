#include "s3cryptfs/format/chunk_layout.h"

#include <gtest/gtest.h>

namespace s3cryptfs::format {
namespace {

TEST(ChunkLayoutTest, AcceptsOnlyPowersOfTwoFrom4KiBTo4MiB) {
  EXPECT_TRUE(ChunkLayout::create(4096));
  EXPECT_TRUE(ChunkLayout::create(65536));
  EXPECT_TRUE(ChunkLayout::create(4 * 1024 * 1024));
  EXPECT_FALSE(ChunkLayout::create(2048));
  EXPECT_FALSE(ChunkLayout::create(8 * 1024 * 1024));
  EXPECT_FALSE(ChunkLayout::create(65535));
  EXPECT_FALSE(ChunkLayout::create(0));
  EXPECT_EQ(ChunkLayout::create(3000).error().kind(), ErrorKind::kInvalidArgument);
}

// The FORMAT.md §4.4 worked examples.
TEST(ChunkLayoutTest, WorkedExamplesAtTheDefaultChunkSize) {
  ChunkLayout layout = *ChunkLayout::create(kDefaultChunkSize);
  EXPECT_EQ(layout.cipherSize(0), 92u);
  EXPECT_EQ(layout.cipherSize(1), 93u);
  EXPECT_EQ(layout.cipherSize(65536), 65628u);
  EXPECT_EQ(layout.cipherSize(65537), 65657u);
  EXPECT_EQ(layout.cipherSize(200000), 200176u);
  EXPECT_EQ(layout.chunkCount(0), 1u);
  EXPECT_EQ(layout.chunkCount(65536), 1u);
  EXPECT_EQ(layout.chunkCount(65537), 2u);
  EXPECT_EQ(*layout.plainSize(92), 0u);
  EXPECT_EQ(*layout.plainSize(65657), 65537u);
  // 1 GiB: 16384 chunks.
  EXPECT_EQ(layout.cipherSize(uint64_t{1} << 30), (uint64_t{1} << 30) + 64 + 16384 * 28);
}

// Every plaintext size 0..N for every tiny chunk size: cipherSize and plainSize are inverse,
// and exactly the sizes cipherSize produces are accepted.
TEST(ChunkLayoutTest, ExhaustiveRoundTripOverTinyChunks) {
  for (uint32_t chunk = 1; chunk <= 64; ++chunk) {
    ChunkLayout layout = ChunkLayout::createForTesting(chunk);
    const uint64_t max_plain = 12 * uint64_t{chunk} + 3;
    std::vector<bool> valid(layout.cipherSize(max_plain) + 1, false);
    uint64_t previous = 0;
    for (uint64_t plain = 0; plain <= max_plain; ++plain) {
      uint64_t cipher = layout.cipherSize(plain);
      ASSERT_GT(cipher, previous) << "chunk " << chunk << " plain " << plain;
      previous = cipher;
      valid[cipher] = true;
      auto back = layout.plainSize(cipher);
      ASSERT_TRUE(back) << "chunk " << chunk << " plain " << plain;
      ASSERT_EQ(*back, plain);
      // Chunk sizes add up and only the final chunk can be short.
      uint64_t count = layout.chunkCount(plain);
      uint64_t sum = 0;
      for (uint64_t i = 0; i < count; ++i) {
        uint32_t size = layout.chunkPlainSize(i, plain);
        if (i + 1 < count) {
          ASSERT_EQ(size, chunk);
        }
        sum += size;
        ASSERT_EQ(layout.cipherRange({i, 1}, plain).offset, layout.chunkCipherOffset(i));
        ASSERT_EQ(layout.cipherRange({i, 1}, plain).length, size + kChunkOverhead);
      }
      ASSERT_EQ(sum, plain);
      ASSERT_EQ(layout.chunkPlainSize(count, plain), 0u);
      ASSERT_EQ(layout.cipherRange({0, count}, plain), (ByteRange{64, cipher - 64}));
    }
    for (uint64_t cipher = 0; cipher < valid.size(); ++cipher) {
      auto plain = layout.plainSize(cipher);
      ASSERT_EQ(plain.has_value(), valid[cipher]) << "chunk " << chunk << " cipher " << cipher;
      if (!plain) {
        ASSERT_EQ(plain.error().kind(), ErrorKind::kCorrupt);
      }
    }
  }
}

// Every (offset, length) over a few chunks: split covers the range exactly, in order, each
// piece inside one chunk.
TEST(ChunkLayoutTest, ExhaustiveSplitOverTinyChunks) {
  for (uint32_t chunk = 16; chunk <= 64; ++chunk) {
    ChunkLayout layout = ChunkLayout::createForTesting(chunk);
    const uint64_t span = 3 * uint64_t{chunk};
    for (uint64_t offset = 0; offset <= span; ++offset) {
      for (uint64_t length = 0; offset + length <= span; ++length) {
        std::vector<ChunkRef> refs = layout.split(offset, length);
        ChunkSpan chunks = layout.chunksFor(offset, length);
        ASSERT_EQ(refs.size(), chunks.count);
        uint64_t pos = offset;
        for (size_t i = 0; i < refs.size(); ++i) {
          const ChunkRef& ref = refs[i];
          ASSERT_EQ(ref.index, chunks.first + i);
          ASSERT_EQ(layout.chunkPlainOffset(ref.index) + ref.offset_in_chunk, pos);
          ASSERT_GT(ref.length, 0u);
          ASSERT_LE(ref.offset_in_chunk + ref.length, chunk);
          if (i > 0) {
            ASSERT_EQ(ref.offset_in_chunk, 0u);
          }
          if (i + 1 < refs.size()) {
            ASSERT_EQ(ref.offset_in_chunk + ref.length, chunk);
          }
          pos += ref.length;
        }
        ASSERT_EQ(pos, offset + length);
      }
    }
  }
}

TEST(ChunkLayoutTest, SplitAtRealSize) {
  ChunkLayout layout = *ChunkLayout::create(kDefaultChunkSize);
  auto refs = layout.split(65000, 1000);
  ASSERT_EQ(refs.size(), 2u);
  EXPECT_EQ(refs[0], (ChunkRef{0, 65000, 536}));
  EXPECT_EQ(refs[1], (ChunkRef{1, 0, 464}));
  refs = layout.split(uint64_t{5} << 40, 65536);  // 5 TiB in: no overflow
  ASSERT_EQ(refs.size(), 1u);
  EXPECT_EQ(refs[0].index, (uint64_t{5} << 40) / 65536);
  EXPECT_TRUE(layout.split(10, 0).empty());
}

TEST(ChunkLayoutTest, RejectsImpossibleCipherSizes) {
  ChunkLayout layout = *ChunkLayout::create(kDefaultChunkSize);
  EXPECT_EQ(layout.plainSize(64).error().kind(), ErrorKind::kCorrupt);  // bare header
  EXPECT_FALSE(layout.plainSize(0));
  EXPECT_FALSE(layout.plainSize(91));
  EXPECT_FALSE(layout.plainSize(65628 + 1));   // partial chunk shorter than overhead
  EXPECT_FALSE(layout.plainSize(65628 + 28));  // empty chunk after a full one
  EXPECT_TRUE(layout.plainSize(65628 + 29));
}

// Exhaustive over small parts: parts tile the object, start on chunk boundaries, part 1 holds
// the header.
TEST(ChunkLayoutTest, MultipartPartsTileTheObject) {
  for (uint32_t chunk = 16; chunk <= 40; chunk += 8) {
    ChunkLayout layout = ChunkLayout::createForTesting(chunk);
    for (uint64_t per_part = 1; per_part <= 4; ++per_part) {
      for (uint64_t plain = 0; plain <= 10 * uint64_t{chunk}; ++plain) {
        uint64_t parts = layout.partCount(plain, per_part);
        ASSERT_GE(parts, 1u);
        uint64_t pos = 0;
        for (uint64_t k = 1; k <= parts; ++k) {
          ByteRange range = layout.partCipherRange(k, per_part, plain);
          ChunkSpan chunks = layout.partChunks(k, per_part, plain);
          ASSERT_EQ(range.offset, pos);
          ASSERT_GT(range.length, 0u);
          ASSERT_EQ(chunks.first, (k - 1) * per_part);
          if (k > 1) {
            ASSERT_EQ(range.offset, layout.chunkCipherOffset(chunks.first));
          }
          if (k < parts) {
            ASSERT_EQ(chunks.count, per_part);
          }
          pos = range.end();
        }
        ASSERT_EQ(pos, layout.cipherSize(plain));
        ASSERT_EQ(layout.partChunks(parts + 1, per_part, plain).count, 0u);
      }
    }
  }
}

TEST(ChunkLayoutTest, MinChunksPerPartMeetsS3Minimum) {
  ChunkLayout layout = *ChunkLayout::create(kDefaultChunkSize);
  uint64_t n = layout.minChunksPerPart(5 * 1024 * 1024);
  EXPECT_EQ(n, 80u);  // 80 * 65564 = 5245120 >= 5242880; 79 chunks are not enough
  EXPECT_GE(n * layout.cipherChunkSize(), 5u * 1024 * 1024);
  EXPECT_LT((n - 1) * layout.cipherChunkSize(), 5u * 1024 * 1024);
}

}  // namespace
}  // namespace s3cryptfs::format
